"""The architecture CramerGAN and MMDGAN share in the paper (``g_resnet5`` and a critic that maps images
to ``dof_dim`` features). Both families subclass it and add only their loss, so the code says what the
paper's experiment relies on: the two differ by loss alone."""

from __future__ import annotations

from .base import AdversarialGan
from .resnet_nets import DCGANCritic, ResNetGenerator


class FeatureCriticGan(AdversarialGan):
    """Config needs ``resolution``, ``z_dim``, ``ch``, ``critic_ch`` and ``dof_dim``."""

    def build_generator(self):
        return ResNetGenerator(self.config.resolution, self.config.z_dim, self.config.ch)

    def build_critic(self):
        return DCGANCritic(self.config.resolution, self.config.critic_ch, self.config.dof_dim)
