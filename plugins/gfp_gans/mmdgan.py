"""MMDGAN (Bińkowski et al. 2018) as configured for the paper: the same ResNet generator and critic
architecture as CramerGAN, so the two differ by loss alone. The critic maps images to ``dof_dim`` features;
the loss is MMD^2 under the ``mix_rq_1dot`` kernel (rational-quadratic kernels at alphas 0.2, 0.5, 1, 2, 5
plus a linear term), with a gradient penalty on the MMD witness function and an L2 penalty on the
critic's features of real images."""

from __future__ import annotations

from dataclasses import dataclass

from .base import AdversarialGan, GanConfig
from .feature_critic import FeatureCriticGan
from .losses import MIX_RQ_ALPHAS, gradient_penalty, interpolate, mmd2_unbiased, mmd_witness


@dataclass
class MmdGanConfig(GanConfig):
    resolution: int = 32
    ch: int = 16  # generator feature maps at full resolution
    critic_ch: int = 16  # critic feature maps after its first conv
    dof_dim: int = 16  # dimension of the critic's feature space (the kernel's input)
    rq_alphas: tuple[float, ...] = MIX_RQ_ALPHAS
    z_dim: int = 128
    iters: int = 1200
    batch_size: int = 32
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    gp_weight: float = 1.0
    l2_weight: float = 1.0  # the paper's "L2 discriminator penalty"
    n_critic: int = 2  # 5 in the paper's runs; lowered for CPU as for CramerGAN


class MmdGan(FeatureCriticGan):
    name = "mmdgan"
    description = "MMDGAN: ResNet generator, MMD loss with a mixed rational-quadratic + dot kernel"
    Config = MmdGanConfig
    shipped = ("mmdgan",)
    conformance_overrides = {**AdversarialGan.conformance_overrides, "ch": 4, "critic_ch": 4}

    def critic_loss(self, real):
        alphas = self.config.rq_alphas
        fake = self.fake_batch(len(real))
        h_real, h_fake = self.D(real), self.D(fake)
        mmd2 = mmd2_unbiased(h_real, h_fake, alphas)
        gp = gradient_penalty(
            lambda x: mmd_witness(self.D(x), h_real, h_fake, alphas),
            interpolate(real, fake, self.uniform(len(real))),
        )
        l2 = h_real.pow(2).sum(1).mean()
        loss = -mmd2 + self.config.gp_weight * gp + self.config.l2_weight * l2
        return loss, {"d": loss.item(), "mmd2": mmd2.item()}

    def generator_loss(self, real):
        loss = mmd2_unbiased(
            self.D(real), self.D(self.fake_batch(len(real), grad=True)), self.config.rq_alphas
        )
        return loss, {"g": loss.item()}
