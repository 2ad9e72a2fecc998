"""The architecture and training details CramerGAN and MMDGAN share in the paper: both ran the MMD-GAN
code (Bińkowski et al. 2018) with ``--architecture g_resnet5``, i.e. its ResNet generator and ``dcgan5``
critic mapping images to ``dof_dim`` features. Both families subclass this and add only their loss, so the
code says what the paper's experiment relies on: the two differ by loss alone.

The first shipped CramerGAN/MMDGAN runs used other choices; their run.json names them
(``generator="resnet_4x4"``, ``critic="dcgan_4x4"``, ``latent="normal"``, ``official_details=false``), so
they still load and sample as they were trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import GfpError, bounded, changed_default

from .base import AdversarialGan, GanConfig
from .resnet_nets import DCGAN5Critic, DCGANCritic, GResNet5Generator, ResNetGenerator

GENERATORS = {"g_resnet5": GResNet5Generator, "resnet_4x4": ResNetGenerator}
CRITICS = {"dcgan5": DCGAN5Critic, "dcgan_4x4": DCGANCritic}
LATENTS = ("uniform", "normal")


@dataclass
class FeatureCriticConfig(GanConfig):
    resolution: int = 32
    # Runs saved before these fields existed load with the first choices (``saved_before``).
    # the paper's; "resnet_4x4" = SNGAN's generator (first shipped runs)
    generator: str = changed_default("g_resnet5", saved_before="resnet_4x4")
    # the paper's; "dcgan_4x4" = three convs at 32x32 (first shipped runs)
    critic: str = changed_default("dcgan5", saved_before="dcgan_4x4")
    # z ~ U(-1, 1) as in the MMD-GAN code; "normal" for the first shipped runs
    latent: str = changed_default("uniform", saved_before="normal")
    # The MMD-GAN code's training details: every gradient tensor clipped to norm 1 (G and critic), the
    # penalty's gradient norm taken over the image-height axis only (its NHWC ``axis=1``), and, for MMDGAN,
    # the kernel's diagonal taken as constant in the unbiased MMD^2 and the L2 penalty on every critic layer.
    official_details: bool = changed_default(True, saved_before=False)
    ch: int = bounded(
        16, min=1, max=4096
    )  # generator feature maps at full resolution (the paper's gf_dim: 64)
    critic_ch: int = bounded(
        16, min=1, max=4096
    )  # critic feature maps after its first conv (the paper's df_dim: 64)
    z_dim: int = 128
    iters: int = 1200  # the same for both families, as in the paper (150k there)
    batch_size: int = 32
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    n_critic: int = 2  # 5 in the paper's runs; 2 keeps a CPU run within minutes (see docs/gan_families.md)


class FeatureCriticGan(AdversarialGan):
    """Config: a :class:`FeatureCriticConfig` plus the family's loss weights and ``dof_dim``."""

    Config = FeatureCriticConfig
    conformance_overrides = {**AdversarialGan.conformance_overrides, "ch": 2, "critic_ch": 2}

    def __init__(self, config, device=None):
        for key, choices in (("generator", GENERATORS), ("critic", CRITICS), ("latent", LATENTS)):
            if getattr(config, key) not in choices:
                valid = ", ".join(choices)
                raise GfpError(f"{self.name}: {key} must be one of {valid}, got {getattr(config, key)!r}")
        super().__init__(config, device)

    def build_generator(self):
        cfg = self.config
        return GENERATORS[cfg.generator](cfg.resolution, cfg.z_dim, cfg.ch)

    def build_critic(self):
        cfg = self.config
        return CRITICS[cfg.critic](cfg.resolution, cfg.critic_ch, cfg.dof_dim)

    def draw_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        if self.config.latent == "uniform":
            return torch.rand(n, self.config.z_dim, generator=generator) * 2 - 1
        return super().draw_latents(n, generator)

    def clip_gradients(self, module: torch.nn.Module) -> None:
        """The MMD-GAN code clips each variable's gradient to norm 1 (``tf.clip_by_norm`` per tensor)."""
        if self.config.official_details:
            for p in module.parameters():
                if p.grad is not None:
                    torch.nn.utils.clip_grad_norm_([p], 1.0)

    @property
    def penalty_norm(self) -> str:
        """Over which axes :func:`losses.gradient_penalty` takes the gradient's norm."""
        return "height" if self.config.official_details else "image"
