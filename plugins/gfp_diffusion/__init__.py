"""Built-in diffusion sources: a denoising diffusion probabilistic model (Ho et al. 2020) on ``diffusers``,
registered as a GAN family (:class:`gfcore.GanSource`: it trains on real images and samples new ones; it has
no critic and samples in many steps). Its sampler and step count are sampling parameters
(``gfp gan sample RUN --param sampler=ddim,sample_steps=50``)."""

from gfcore import hookimpl


@hookimpl
def gfp_register_gan_sources(register):
    # Imported here, not at module level, so that `gfp --help` imports neither torch nor diffusers.
    from .ddpm import Ddpm

    register(Ddpm)
