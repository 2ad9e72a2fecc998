"""The ``visnet`` extractor: visNet trained with the shared loop (one critic step, then one auto-encoder
step per batch, then the moving-average update), as the paper trains it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import (
    GfpError,
    NeuralAttributor,
    NeuralConfig,
    bounded,
    gradient_penalty,
    interpolate,
    non_negative,
    step_if_finite,
    wgan_critic_loss,
    wgan_generator_loss,
)

from .network import VisNet, check_resolution


@dataclass
class VisNetConfig(NeuralConfig):
    width: float = bounded(1.0, min=0, max=16, min_open=True)  # channel multiplier; 1 = the paper (4x4x512)
    rec_weight: float = non_negative(20.0)  # L1 reconstruction weight
    adv_weight: float = non_negative(0.1)  # adversarial weight (against the reconstruction critic)
    gp_weight: float = non_negative(10.0)  # WGAN-GP gradient penalty
    drift: float = non_negative(0.001)  # drift term on the critic's output for real images
    ema: float = bounded(0.999, min=0, max=1)  # moving average of the auto-encoder used for inference


class VisNetAttributor(NeuralAttributor):
    name = "visnet"
    description = "visNet (Yu et al. 2019): auto-encoder residuals as image fingerprints, image-sized model fingerprints."
    Config = VisNetConfig
    has_fingerprints = True
    conformance_overrides = {"epochs": 1, "width": 0.0625, "batch_size": 4, "ema": 0.5}

    @classmethod
    def resolution_problem(cls, resolution: int) -> str | None:
        try:
            check_resolution(resolution)
        except GfpError as exc:
            return str(exc)
        return None

    def build_network(self) -> VisNet:
        check_resolution(self.resolution)
        return VisNet(self.resolution, len(self.classes), self.config.width)

    def class_head(self) -> tuple[str, ...]:
        """The image-sized model fingerprints, one per class, of the auto-encoder and of its average."""
        return ("ae.fingerprints", "ema.fingerprints")

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        net = self.network
        return {
            "optim": self.make_optimizer(net.ae.parameters()),
            "critic": self.make_optimizer(net.critic.parameters()),
        }

    def train_step(self, x, y, optimizers, generator):
        c, net = self.config, self.network
        skipped = 0
        # 1) the critic: WGAN-GP with drift, reconstructions as the fakes
        with torch.no_grad():
            rec = net.ae.reconstruct(x)
        u = torch.rand(len(x), 1, 1, 1, generator=generator).to(x.device)
        d_loss = wgan_critic_loss(net.critic(x), net.critic(rec), c.drift)
        if c.gp_weight:
            d_loss = d_loss + c.gp_weight * gradient_penalty(net.critic, interpolate(x, rec, u))
        skipped += not step_if_finite(optimizers["critic"], d_loss, net.critic.parameters())
        # 2) the auto-encoder: cross-entropy + L1 reconstruction + adversarial
        rec = net.ae.reconstruct(x)
        logits = net.ae.classify(x - rec)
        loss = F.cross_entropy(logits, y) + c.rec_weight * (rec - x).abs().mean()
        if c.adv_weight:
            net.critic.requires_grad_(False)
            loss = loss + c.adv_weight * wgan_generator_loss(net.critic(rec))
            net.critic.requires_grad_(True)
        skipped += not step_if_finite(optimizers["optim"], loss, net.ae.parameters())
        # 3) the moving average used for inference
        net.update_ema(c.ema)
        return loss, logits, int(skipped)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(images, self.network.ema)

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """``x - R(x)`` of the averaged auto-encoder: [N, 3, R, R] in [-2, 2]."""
        return self._batched(images, self.network.ema.image_fingerprint)

    def model_fingerprints(self) -> torch.Tensor:
        """The averaged model fingerprints as the logits use them: [L, 3, R, R]."""
        ema = self.network.ema
        return (ema.fingerprints * ema.scale).detach().float().cpu()
