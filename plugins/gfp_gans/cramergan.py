"""CramerGAN (Bellemare et al. 2017) as configured for the paper (the MMD-GAN code's ``--model cramer``):
the shared ``g_resnet5`` generator and ``dcgan5`` critic mapping images to ``dof_dim`` features, the
Cramér (energy) distance with two independent generator batches, and a gradient penalty of 10 on the
surrogate critic."""

from __future__ import annotations

from dataclasses import dataclass

from gfcore import bounded, changed_default, gradient_penalty, interpolate

from .feature_critic import FeatureCriticConfig, FeatureCriticGan
from .losses import cramer_critic_loss, cramer_generator_loss, cramer_surrogate


@dataclass
class CramerGanConfig(FeatureCriticConfig):
    dof_dim: int = bounded(256, min=1, max=4096)  # dimension of the critic's feature space h(x)
    gp_weight: float = 10.0
    # The official code interpolates the penalty's points from the real batch toward the generator batch
    # that anchors the surrogate critic; false: toward the other generator batch (the two are i.i.d., so
    # only the penalty differs), which the shipped CramerGAN was trained with
    penalty_toward_anchor: bool = changed_default(True, saved_before=False)


class CramerGan(FeatureCriticGan):
    name = "cramergan"
    description = "CramerGAN: g_resnet5 generator, Cramér-distance critic with gradient penalty"
    Config = CramerGanConfig
    shipped = ("cramergan",)
    conformance_overrides = {**FeatureCriticGan.conformance_overrides, "dof_dim": 8}

    def critic_loss(self, real):
        n = len(real)
        fake, fake2 = self.fake_batch(n), self.fake_batch(n)
        h_fake2 = self.D(fake2)
        loss = cramer_critic_loss(self.D(real), self.D(fake), h_fake2)
        gp = gradient_penalty(
            lambda x: cramer_surrogate(self.D(x), h_fake2),
            interpolate(real, fake2 if self.config.penalty_toward_anchor else fake, self.uniform(n)),
            over=self.penalty_norm,
        )
        loss = loss + self.config.gp_weight * gp
        return loss, {"d": loss.item()}

    def generator_loss(self, real):
        n = len(real)
        fake, fake2 = self.fake_batch(n, grad=True), self.fake_batch(n, grad=True)
        loss = cramer_generator_loss(self.D(real), self.D(fake), self.D(fake2))
        return loss, {"g": loss.item()}
