"""CramerGAN (Bellemare et al. 2017) as configured for the paper: the shared ResNet generator
(``g_resnet5``), a critic mapping images to ``dof_dim`` features, the Cramér (energy) distance with two
independent generator batches, and a gradient penalty of 10 on the surrogate critic."""

from __future__ import annotations

from dataclasses import dataclass

from .base import AdversarialGan, GanConfig
from .feature_critic import FeatureCriticGan
from .losses import cramer_critic_loss, cramer_generator_loss, cramer_surrogate, gradient_penalty, interpolate


@dataclass
class CramerGanConfig(GanConfig):
    resolution: int = 32
    ch: int = 16  # generator feature maps at full resolution
    critic_ch: int = 16  # critic feature maps after its first conv
    dof_dim: int = 256  # dimension of the critic's feature space h(x)
    z_dim: int = 128
    iters: int = 800
    batch_size: int = 32
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    gp_weight: float = 10.0
    # The paper's runs use 5 critic steps; 2 keeps a CPU run within minutes (see SNGAN's note).
    n_critic: int = 2


class CramerGan(FeatureCriticGan):
    name = "cramergan"
    description = "CramerGAN: ResNet generator, Cramér-distance critic with gradient penalty"
    Config = CramerGanConfig
    shipped = ("cramergan",)
    conformance_overrides = {**AdversarialGan.conformance_overrides, "ch": 4, "critic_ch": 4, "dof_dim": 8}

    def critic_loss(self, real):
        n = len(real)
        fake, fake2 = self.fake_batch(n), self.fake_batch(n)
        h_fake2 = self.D(fake2)
        loss = cramer_critic_loss(self.D(real), self.D(fake), h_fake2)
        gp = gradient_penalty(
            lambda x: cramer_surrogate(self.D(x), h_fake2), interpolate(real, fake, self.uniform(n))
        )
        loss = loss + self.config.gp_weight * gp
        return loss, {"d": loss.item()}

    def generator_loss(self, real):
        n = len(real)
        fake, fake2 = self.fake_batch(n, grad=True), self.fake_batch(n, grad=True)
        loss = cramer_generator_loss(self.D(real), self.D(fake), self.D(fake2))
        return loss, {"g": loss.item()}
