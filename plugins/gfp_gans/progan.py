"""ProGAN (Karras et al. 2018): progressive growing with fade-in, pixel norm, minibatch stddev, equalised
learning rate, WGAN-GP with drift, Adam(0, 0.99), and an EMA generator that does the sampling."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import (
    GfpError,
    bounded,
    changed_default,
    downscale2x,
    gradient_penalty,
    interpolate,
    upscale2x,
    wgan_critic_loss,
    wgan_generator_loss,
)

from .base import AdversarialGan, GanConfig
from .progan_nets import ProGanDiscriminator, ProGanGenerator, level_resolutions

OUTPUTS = ("linear", "tanh")


@dataclass
class ProGanConfig(GanConfig):
    resolution: int = 32
    width: float = bounded(
        0.0625, min=0, max=16, min_open=True
    )  # times min(8192/res, 512) maps: 32 at 4..16, 16 at 32x32 (the official min(16384/res, 512) is 512 there)
    z_dim: int = 128  # the paper uses 512
    iters: int = 1600
    batch_size: int = 32
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    gp_weight: float = 10.0
    drift: float = 0.001  # epsilon_drift: keeps the critic's output near zero
    mbstd_group: int = 4  # minibatch-stddev group size; 1 turns the layer off
    n_critic: int = 1
    # Samples come from the EMA generator. The paper's 0.999 suits its ~10^5 iterations; on a run of the
    # default 1,600, that EMA would still hold much of the untrained top level, so the half-life is
    # shorter. From about 4,800 iterations 0.999 is better (the shipped seeds use it at 6,400:
    # docs/gan_families.md, "EMA lever").
    ema_beta: float = 0.99
    reset_optimizer_per_level: bool = True  # the original resets Adam's moments when a new level starts
    # Iterations per growth phase (stabilise or fade-in), fixed as the original's 600 kimg are, so that a
    # run extended with ``--resume --iters`` keeps its schedule (see growth_phase). 0 derives it from
    # ``iters`` alone (``iters // (2 * levels)``): the schedule of runs made before this field.
    phase_iters: int = changed_default(200, saved_before=0)
    # "linear": toRGB is a plain 1x1 conv, as in the official G_paper; "tanh" squashes it (the shipped
    # 1,600-iteration generators were trained so; their run.json says so).
    output: str = changed_default("linear", saved_before="tanh")


def growth_phase(step: int, iters: int, n_levels: int, phase_iters: int = 0) -> tuple[int, float]:
    """``(level, alpha)`` for an iteration. The paper alternates equal-length phases (600 kimg each):
    stabilise 4x4, fade in 8x8, stabilise 8x8, ..., fade in the top level, then stays at full resolution.
    Each phase gets ``iters // (2 * n_levels)`` iterations (the final stabilisation at full resolution
    gets the rest, about two phases' worth), or ``phase_iters`` when that is shorter: then the schedule is
    fixed for every run long enough to grow fully (``iters >= 2 * n_levels * phase_iters``), so extending
    such a run with ``--resume --iters`` trains on at full resolution."""
    top = n_levels - 1
    phase = iters // (2 * n_levels)
    if phase_iters > 0:  # fixed, but never so long that the run ends before it has grown to full size
        phase = min(phase, phase_iters)
    if top == 0 or phase == 0:
        return top, 1.0
    k, into = divmod(step, phase)
    if k >= 2 * top:
        return top, 1.0
    level = (k + 1) // 2
    if k % 2 == 1:  # a fade-in phase
        return level, into / phase
    return level, 1.0


class ProGan(AdversarialGan):
    name = "progan"
    description = (
        "ProGAN: progressive growing, pixel norm, minibatch stddev, equalised LR, WGAN-GP (EMA sampler)"
    )
    Config = ProGanConfig
    # seeds 0..3 on one draw of the photos; window W: seed 0 on patches W .. W+19,999 of the windowed
    # sequence (`gfp data photos --window W`), so two of them differ only in their training data
    shipped = (
        "progan_seed0",
        "progan_seed1",
        "progan_seed2",
        "progan_seed3",
        "progan_window0",
        "progan_window2000",
        "progan_window20000",
    )
    conformance_overrides = {**AdversarialGan.conformance_overrides, "width": 0.02}

    def __init__(self, config: ProGanConfig, device: torch.device | None = None):
        if config.output not in OUTPUTS:
            raise GfpError(f"progan: output must be one of {', '.join(OUTPUTS)}, got {config.output!r}")
        if config.phase_iters < 0:
            raise GfpError(f"progan: phase_iters must be at least 0, got {config.phase_iters}")
        self.n_levels = len(level_resolutions(config.resolution))
        self.level, self.alpha = self.n_levels - 1, 1.0
        super().__init__(config, device)

    def build_generator(self):
        cfg = self.config
        return ProGanGenerator(cfg.resolution, cfg.z_dim, cfg.width, tanh=cfg.output == "tanh")

    def build_critic(self):
        return ProGanDiscriminator(self.config.resolution, self.config.width, self.config.mbstd_group)

    def before_iteration(self) -> None:
        level, alpha = self._phase(self.step)
        if level != self.level and self.config.reset_optimizer_per_level:
            self.opt_g.state.clear()
            self.opt_d.state.clear()
        self.level, self.alpha = level, alpha

    def on_resume(self) -> None:
        # The phase of the last iteration run, so a resume at a phase boundary still resets the optimiser.
        self.level, self.alpha = self._phase(max(0, self.step - 1))

    def _phase(self, step: int) -> tuple[int, float]:
        return growth_phase(step, self.config.iters, self.n_levels, self.config.phase_iters)

    def prepare_real(self, real: torch.Tensor) -> torch.Tensor:
        """Reals at the current level's resolution, blended like the generator's output during fade-in."""
        factor = self.config.resolution // level_resolutions(self.config.resolution)[self.level]
        if factor > 1:
            real = F.avg_pool2d(real, factor)
        if self.level > 0 and self.alpha < 1.0:
            real = torch.lerp(upscale2x(downscale2x(real)), real, self.alpha)
        return real

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z, self.level, self.alpha)

    def critic(self, images: torch.Tensor) -> torch.Tensor:
        return self.D(images, self.level, self.alpha)

    def sampling_forward(self, net, z):
        """The current level's picture, upscaled to full size: the final network once training is done,
        and a meaningful preview while the top levels are still fading in."""
        images = net(z, self.level, self.alpha)
        factor = self.config.resolution // images.shape[-1]
        return F.interpolate(images, scale_factor=factor, mode="nearest") if factor > 1 else images

    def critic_loss(self, real):
        fake = self.fake_batch(len(real))
        d_real, d_fake = self.critic(real), self.critic(fake)
        gp = gradient_penalty(self.critic, interpolate(real, fake, self.uniform(len(real))))
        loss = wgan_critic_loss(d_real, d_fake, self.config.drift) + self.config.gp_weight * gp
        return loss, {"d": loss.item(), "w": (d_real - d_fake).mean().item()}

    def generator_loss(self, real):
        loss = wgan_generator_loss(self.critic(self.fake_batch(len(real), grad=True)))
        return loss, {"g": loss.item()}
