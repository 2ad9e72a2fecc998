"""Built-in GAN sources: ProGAN, SNGAN, CramerGAN and MMDGAN, the four generator families of the paper,
plus two of today's, DCGAN and StyleGAN2, all scaled so that small ones train on a CPU.
Shipped 32x32 generators live in ``pretrained/``."""

from gfcore import hookimpl


@hookimpl
def gfp_register_gan_sources(register):
    # Imported here, not at module level, so that `gfp --help` does not import torch.
    from .cramergan import CramerGan
    from .dcgan import DcGan
    from .mmdgan import MmdGan
    from .progan import ProGan
    from .sngan import SnGan
    from .stylegan import StyleGan

    for family in (ProGan, SnGan, CramerGan, MmdGan, DcGan, StyleGan):
        register(family)
