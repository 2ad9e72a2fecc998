"""MMDGAN (Bińkowski et al. 2018) as configured for the paper: the same ``g_resnet5`` generator and
``dcgan5`` critic as CramerGAN, so the two differ by loss alone. The critic maps images to ``dof_dim`` (16)
features; the loss is the unbiased MMD^2 under the ``mix_rq_1dot`` kernel (rational-quadratic kernels plus
a dot product), with a gradient penalty (1) on the MMD witness function and an L2 penalty (1) on the
critic's activations, both as in the MMD-GAN code (``core/model.py``: ``add_gradient_penalty``,
``add_l2_penalty``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import bounded, gradient_penalty, interpolate

from .feature_critic import FeatureCriticConfig, FeatureCriticGan
from .losses import MIX_RQ_ALPHAS, mmd2_unbiased, mmd_witness


@dataclass
class MmdGanConfig(FeatureCriticConfig):
    dof_dim: int = bounded(
        16, min=1, max=4096
    )  # dimension of the critic's feature space (the kernel's input)
    rq_alphas: tuple[float, ...] = MIX_RQ_ALPHAS
    gp_weight: float = 1.0
    l2_weight: float = 1.0  # the paper's "L2 discriminator penalty"


def l2_activation_penalty(layers_real: list[torch.Tensor], layers_fake: list[torch.Tensor]) -> torch.Tensor:
    """The MMD-GAN code's ``add_l2_penalty``: per image, the sum over the critic's layers of each layer's
    mean squared activation, for the fake and the real batch; averaged over images."""
    per_image = sum(layer.flatten(1).pow(2).mean(1) for layer in [*layers_real, *layers_fake])
    return per_image.mean()


class MmdGan(FeatureCriticGan):
    name = "mmdgan"
    description = "MMDGAN: g_resnet5 generator, MMD loss with a mixed rational-quadratic + dot kernel"
    Config = MmdGanConfig
    shipped = ("mmdgan",)

    def mmd2(self, h_real: torch.Tensor, h_fake: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return mmd2_unbiased(h_real, h_fake, cfg.rq_alphas, constant_diagonal=cfg.official_details)

    def critic_loss(self, real):
        alphas = self.config.rq_alphas
        fake = self.fake_batch(len(real))
        h_real, layers_real = self.D(real, return_layers=True)
        h_fake, layers_fake = self.D(fake, return_layers=True)
        mmd2 = self.mmd2(h_real, h_fake)
        gp = gradient_penalty(
            lambda x: mmd_witness(self.D(x), h_real, h_fake, alphas),
            interpolate(real, fake, self.uniform(len(real))),
            over=self.penalty_norm,
        )
        if self.config.official_details:
            l2 = l2_activation_penalty(layers_real, layers_fake)
        else:  # the first shipped run: the squared norm of the real images' features only
            l2 = h_real.pow(2).sum(1).mean()
        loss = -mmd2 + self.config.gp_weight * gp + self.config.l2_weight * l2
        return loss, {"d": loss.item(), "mmd2": mmd2.item()}

    def generator_loss(self, real):
        loss = self.mmd2(self.D(real), self.D(self.fake_batch(len(real), grad=True)))
        return loss, {"g": loss.item()}
