"""A CNN trained from scratch (Wang et al. 2020, "CNN-generated images are surprisingly easy to spot...").

Wang et al. fine-tune an ImageNet-pretrained ResNet-50; no weights can be fetched here, so the backbone
(any timm architecture) is always trained from scratch with the shared loop of :mod:`gfcore.training.loop`.

Defaults are CPU-friendly: ``arch=resnet18`` (11M parameters; ``resnet10t`` is smaller still), while
``cnn:arch=resnet50`` is Wang et al.'s backbone. The optimiser follows Wang et al. (Adam, lr 1e-4,
betas 0.9/0.999). Augmentation: the loop's random horizontal flip and, on by default as in Wang et al.'s
"Blur+JPEG (0.5)" model, their blur + JPEG augmentation built on the attack plugins: with probability
``augment_p`` each, a Gaussian blur with sigma ~ U[0, 3] pixels of the image
(``blur:sigma_max=3,reference_size=none``), then a JPEG round trip with quality ~ U[30, 95] (``jpeg:quality_min=30,quality_max=95``; Wang et al. draw up to 100, Pillow's
encoder is meant for up to 95). ``cnn:augment=false`` turns it off.

Fingerprints, in the paper's sense: an image's fingerprint is the pooled pre-logit feature vector, a
source's is its row of the final classifier's weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gfcore import GfpError, NeuralAttributor, NeuralConfig, bounded


class CnnAttributor(NeuralAttributor):
    name = "cnn"
    description = "timm CNN (default resnet18; resnet50 as Wang et al. 2020) trained from scratch"
    conformance_overrides = {
        "epochs": 1,
        "batch_size": 8,
        "arch": "resnet10t",
    }  # tiny settings for gfcore.testing
    has_fingerprints = True

    @dataclass
    class Config(NeuralConfig):
        arch: str = "resnet18"  # any timm model name; resnet50 is Wang et al.'s
        lr: float = 1e-4
        beta1: float = 0.9
        beta2: float = 0.999
        augment: bool = True  # Wang et al.'s blur + JPEG augmentation (training batches only)
        augment_p: float = bounded(0.5, min=0, max=1)  # probability of each of the two, per image

    #: the attack specs of the augmentation, applied in this order (Wang et al.: blur, then JPEG); the
    #: blur's sigma in the image's own pixels, as the cnn runs measured so far were trained
    AUGMENTATION = ("blur:sigma_max=3,reference_size=none", "jpeg:quality_min=30,quality_max=95")

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not self.config.augment:
            return images
        if not hasattr(self, "_augmentation"):
            from gfcore import build_attack

            self._augmentation = [build_attack(spec) for spec in self.AUGMENTATION]
        out = images
        for attack in self._augmentation:
            chosen = torch.rand(len(images), generator=generator) < self.config.augment_p
            if chosen.any():
                rows = chosen.nonzero().flatten().to(images.device)
                out = out.clone() if out is images else out
                out[rows] = attack.apply(out[rows], generator)
        return out

    def class_head(self) -> tuple[str, ...]:
        """timm's classifier layer (``fc`` in a ResNet; the model's own name for it otherwise)."""
        head = self.network.pretrained_cfg.get("classifier", "fc")
        return tuple(head) if isinstance(head, list | tuple) else (head,)

    def build_network(self) -> nn.Module:
        import timm

        if not timm.is_model(self.config.arch):
            raise GfpError(f"cnn: unknown timm architecture {self.config.arch!r} (try resnet18 or resnet50)")
        # pretrained=False always: nothing may be downloaded at run time
        return timm.create_model(self.config.arch, pretrained=False, num_classes=len(self.classes))

    def _pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.forward_head(self.network.forward_features(x), pre_logits=True).flatten(1)

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled pre-logit features ``[N, F]`` (F = 512 for resnet18, 2048 for resnet50), on CPU."""
        return self._batched(images, self._pre_logits)

    def model_fingerprints(self) -> torch.Tensor:
        """The final linear layer's weights ``[L, F]``, one row per source, on CPU."""
        return self.network.get_classifier().weight.detach().float().cpu()
