"""SNGAN (Miyato et al. 2018): ResNet generator, spectrally normalised ResNet discriminator, hinge loss,
n_dis critic steps, Adam(0, 0.9) at 2e-4 with linear decay over the last fifth (120k..150k in the paper)."""

from __future__ import annotations

from dataclasses import dataclass

from gfcore import GfpError, bounded, changed_default

from .base import AdversarialGan, GanConfig
from .losses import hinge_critic_loss, hinge_generator_loss
from .resnet_nets import ResNetGenerator, SNResNetDiscriminator, glorot_init_

INITS = ("glorot", "torch")


@dataclass
class SnGanConfig(GanConfig):
    resolution: int = 32
    ch: int = bounded(
        16, min=1, max=4096
    )  # feature maps at full resolution (the paper: 64), doubling per halving, capped at 8 * ch
    z_dim: int = 128
    iters: int = 800
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    # The paper's n_dis is 5. Defaulted lower so a CPU run of a few minutes makes enough generator
    # updates to give photo-like samples; the critic still runs twice as often as the generator.
    n_critic: int = 2
    lr_decay_start: float = 0.8  # fraction of iters after which both learning rates decay linearly to 0
    # "glorot": the official code's GlorotUniform (gain sqrt(2) on the residual convolutions); "torch":
    # PyTorch's default initialisation, which the shipped SNGAN was trained with (runs saved before this
    # field existed load with it)
    init: str = changed_default("glorot", saved_before="torch")


class SnGan(AdversarialGan):
    name = "sngan"
    description = "SNGAN: ResNet generator, spectrally normalised ResNet critic, hinge loss"
    Config = SnGanConfig
    shipped = ("sngan",)
    conformance_overrides = {**AdversarialGan.conformance_overrides, "ch": 4}

    def __init__(self, config, device=None):
        if config.init not in INITS:
            raise GfpError(f"sngan: init must be one of {', '.join(INITS)}, got {config.init!r}")
        super().__init__(config, device)

    def _initialised(self, net):
        return glorot_init_(net) if self.config.init == "glorot" else net

    def build_generator(self):
        return self._initialised(ResNetGenerator(self.config.resolution, self.config.z_dim, self.config.ch))

    def build_critic(self):
        return self._initialised(SNResNetDiscriminator(self.config.resolution, self.config.ch))

    def critic_loss(self, real):
        fake = self.fake_batch(len(real))
        loss = hinge_critic_loss(self.D(real), self.D(fake))
        return loss, {"d": loss.item()}

    def generator_loss(self, real):
        loss = hinge_generator_loss(self.D(self.fake_batch(len(real), grad=True)))
        return loss, {"g": loss.item()}
