"""DDPM (Ho, Jain, Abbeel, NeurIPS 2020) on diffusers: a ``UNet2DModel`` built from a config (never
downloaded), trained with ``DDPMScheduler``'s forward process and the epsilon-prediction MSE loss, with an
EMA of the weights that does the sampling.

As in the paper's CIFAR-10 model: T = 1000 steps, linear betas from 1e-4 to 0.02, Adam at 2e-4, gradients
clipped to norm 1, dropout 0.1, random horizontal flips, self-attention at 16x16, one attention head,
sampling with the posterior variance ("fixed_small") and x0 clipped to [-1, 1]. Scaled down: ``ch`` 32 (the
paper: 128), channel multipliers 1, 2, 2 (1, 2, 2, 2), one residual block per level (2), batch 32 (128),
EMA 0.999 (0.9999, whose 7,000-step half-life suits 800k steps).

``sampler`` (``ddpm``: ancestral sampling; ``ddim``: Song et al.'s deterministic sampler with ``ddim_eta``
0) and ``sample_steps`` are sampling parameters (:attr:`Ddpm.sampling_fields`): the same weights sampled
another way are another source (``gfp gan sample RUN --param sampler=ddim,sample_steps=50``).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gfcore import (
    FitContext,
    GanSource,
    GfpError,
    bounded,
    non_negative,
    one_of,
    optimizer_from_tensors,
    optimizer_to_tensors,
    positive,
)
from gfcore import distributed as dist

SAMPLERS = ("ddpm", "ddim")
#: The shipped diffusion models: GAN-run folders (``run.json`` + ``generator.safetensors``), package data.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
SHIPPED = ("ddpm",)
SAMPLE_CHUNK = 256  # images per denoising batch in sample(); chunk k draws from its own seeded stream


@dataclass
class DdpmConfig:
    resolution: int = 32  # a power of two from 8 to 128
    iters: int = bounded(2000, min=1, max=100_000_000)  # optimiser steps
    batch_size: int = bounded(32, min=1, max=65_536)  # the paper: 128
    ch: int = bounded(32, min=1, max=4096)  # feature maps at full resolution (the paper: 128)
    channel_mult: tuple[int, ...] = bounded(
        (1, 2, 2), min=1, max=16
    )  # per U-Net level (the paper at 32x32: 1;2;2;2)
    layers_per_block: int = bounded(1, min=1, max=64)  # residual blocks per level (the paper: 2)
    attn_resolution: int = 16  # self-attention at this side (0: none), as the paper's 16x16
    dropout: float = bounded(0.1, min=0.0, max=1.0, max_open=True)
    num_train_timesteps: int = bounded(1000, min=1, max=100_000)  # T (the paper: 1000; sample_steps <= T)
    beta_start: float = positive(1e-4)
    beta_end: float = positive(0.02)
    lr: float = positive(2e-4)
    grad_clip: float = non_negative(1.0)  # 0: no clipping
    ema_beta: float = bounded(0.999, min=0.0, max=1.0, max_open=True)
    flip: bool = True  # random horizontal flips of the real images
    # sampling parameters: the same weights sampled another way (``gfp gan sample --param``)
    sampler: str = one_of("ddpm", SAMPLERS)
    sample_steps: int = positive(1000)  # denoising steps; the paper samples with all T
    ddim_eta: float = non_negative(0.0)  # DDIM's noise scale (0: deterministic given the start noise)
    preview_steps: int = bounded(50, min=1, max=100_000)  # DDIM steps of the grids written while training
    log_every: int = 25  # iterations per loss-history entry
    preview_every: int = 200  # iterations between sample grids
    checkpoint_every: int = 200  # iterations between resumable checkpoints

    def validate(self) -> None:
        if self.sample_steps > self.num_train_timesteps:
            raise ValueError(
                f"sample_steps ({self.sample_steps}) must be at most num_train_timesteps ({self.num_train_timesteps})"
            )
        if not self.channel_mult or min(self.channel_mult) < 1:
            raise ValueError("channel_mult must be one or more positive integers")
        if self.beta_end <= self.beta_start:
            raise ValueError("beta_end must be above beta_start")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() * (2 / 255) - 1


def build_unet(cfg: DdpmConfig) -> nn.Module:
    """The U-Net from ``cfg`` alone: DDPM's layout (as diffusers' conversion of the paper's checkpoints)."""
    from diffusers import UNet2DModel

    sides = [cfg.resolution // 2**i for i in range(len(cfg.channel_mult))]
    down = tuple("AttnDownBlock2D" if s == cfg.attn_resolution else "DownBlock2D" for s in sides)
    up = tuple(name.replace("Down", "Up") for name in reversed(down))
    return UNet2DModel(
        sample_size=cfg.resolution,
        in_channels=3,
        out_channels=3,
        block_out_channels=tuple(cfg.ch * m for m in cfg.channel_mult),
        down_block_types=down,
        up_block_types=up,
        layers_per_block=cfg.layers_per_block,
        dropout=cfg.dropout,
        attention_head_dim=None,  # one head over all channels
        norm_num_groups=math.gcd(32, cfg.ch),  # 32 groups, as the paper, where ch allows
        norm_eps=1e-6,
        flip_sin_to_cos=False,
        freq_shift=1,
        downsample_padding=0,
    )


def scheduler_kwargs(cfg: DdpmConfig) -> dict[str, Any]:
    return {
        "num_train_timesteps": cfg.num_train_timesteps,
        "beta_start": cfg.beta_start,
        "beta_end": cfg.beta_end,
        "beta_schedule": "linear",
        "clip_sample": True,
        "prediction_type": "epsilon",
    }


def build_scheduler(cfg: DdpmConfig, sampler: str):
    from diffusers import DDIMScheduler, DDPMScheduler

    if sampler == "ddim":
        return DDIMScheduler(**scheduler_kwargs(cfg), set_alpha_to_one=False)
    return DDPMScheduler(**scheduler_kwargs(cfg), variance_type="fixed_small")


class Ddpm(GanSource):
    name = "ddpm"
    description = "DDPM on diffusers: U-Net, epsilon-prediction MSE, EMA sampler (ddpm or ddim steps)"
    Config = DdpmConfig
    sampling_fields = ("sampler", "sample_steps", "ddim_eta")
    conformance_overrides = {
        "resolution": 16,
        "iters": 2,
        "batch_size": 4,
        "ch": 8,
        "channel_mult": (1, 2),
        "sample_steps": 2,
        "preview_steps": 2,
        "checkpoint_every": 1,
    }

    @classmethod
    def shipped_generators(cls) -> dict[str, Path]:
        return {name: PRETRAINED_DIR / name for name in SHIPPED if (PRETRAINED_DIR / name).is_dir()}

    def __init__(self, config: DdpmConfig, device: torch.device | None = None):
        super().__init__(config, device)
        r, levels = config.resolution, len(config.channel_mult)
        if not (8 <= r <= 128 and r & (r - 1) == 0) or r >> (levels - 1) < 4:
            raise GfpError(
                f"ddpm: resolution must be a power of two from 8 to 128 with 4x4 or more at the bottom, got {r}"
            )
        if config.batch_size < 1 or config.iters < 1:
            raise GfpError("ddpm: batch_size and iters must be at least 1")
        self.step = 0
        self._build(seed=0)
        self.train_scheduler = build_scheduler(config, "ddpm")
        self.rng = torch.Generator().manual_seed(0)
        self._sampling_override: tuple[str, int] | None = None

    def _build(self, seed: int) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.unet = build_unet(self.config).to(self.device)
        self.ema = copy.deepcopy(self.unet).eval().requires_grad_(False)

    # --- training -----------------------------------------------------------------------------------------

    def _check_real(self, real: Any) -> torch.Tensor:
        images = real if torch.is_tensor(real) else torch.as_tensor(np.asarray(real))
        r = self.config.resolution
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != (3, r, r):
            raise GfpError(
                f"ddpm: real images must be uint8 [N, 3, {r}, {r}], got {images.dtype} {tuple(images.shape)}"
            )
        return images.to(self.device)

    def _devices(self) -> list[int]:
        return [self.device.index or 0] if self.device.type == "cuda" else []

    def loss(self, x0: torch.Tensor) -> torch.Tensor:
        """The simple loss: ``|| eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t) ||^2`` at a uniform
        t; t, eps and the dropout masks come from ``self.rng``."""
        n = len(x0)
        t = torch.randint(self.config.num_train_timesteps, (n,), generator=self.rng).to(self.device)
        noise = torch.randn(x0.shape, generator=self.rng).to(self.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        dropout_seed = int(torch.randint(2**62, (), generator=self.rng))
        with torch.random.fork_rng(devices=self._devices()):
            torch.manual_seed(dropout_seed)
            predicted = self.unet(noisy, t).sample
        return F.mse_loss(predicted, noise)

    def _real_batch(self, real: torch.Tensor) -> torch.Tensor:
        n = dist.per_rank_batch(self.config.batch_size)
        idx = torch.randint(len(real), (n,), generator=self.rng)
        flips = torch.rand(n, generator=self.rng) < 0.5
        x = to_float(real[idx.to(real.device)].to(self.device))
        if self.config.flip:
            x = torch.where(flips.to(self.device)[:, None, None, None], x.flip(3), x)
        return x

    def train_step(self, real: torch.Tensor) -> float:
        loss = self.loss(self._real_batch(real))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(self.unet.parameters())
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.unet.parameters(), self.config.grad_clip)
        self.opt.step()
        with torch.no_grad():
            for p_ema, p in zip(self.ema.parameters(), self.unet.parameters(), strict=True):
                p_ema.lerp_(p, 1 - self.config.ema_beta)
            for b_ema, b in zip(self.ema.buffers(), self.unet.buffers(), strict=True):
                b_ema.copy_(b)
        return loss.item()

    def train(self, real: np.ndarray, ctx: FitContext, preview: Callable[[int], None] | None = None) -> None:
        cfg = self.config
        real_t = self._check_real(real)
        self._build(seed=ctx.seed)
        self.opt = torch.optim.Adam(self.unet.parameters(), lr=cfg.lr)
        self.rng = torch.Generator().manual_seed(ctx.seed + 1_000_003 * dist.rank())
        self.step = 0
        if ctx.resume is not None:
            self.load_training_state(*ctx.resume)
        task = ctx.progress.task(f"train {self.name}", total=cfg.iters)
        task.update(completed=self.step)
        window: list[float] = []
        self.unet.train()
        while self.step < cfg.iters:
            loss = self.train_step(real_t)
            self.step += 1
            if not math.isfinite(loss):
                raise GfpError(f"ddpm: training diverged at iteration {self.step} (loss is {loss})")
            window.append(loss)
            last = self.step == cfg.iters
            task.advance()
            task.update(status=f"loss={loss:.3g}")
            if self.step % cfg.log_every == 0 or last:
                ctx.history.append({"step": self.step, "loss": float(np.mean(window))})
                window.clear()
            if preview is not None and (self.step % cfg.preview_every == 0 or last):
                with self.previewing():
                    preview(self.step)
            if self.step % cfg.checkpoint_every == 0 or last:
                tensors, meta = self.training_state()
                ctx.checkpoint(self.step, tensors, meta, metrics=ctx.history[-1] if ctx.history else {})
        task.done()
        self.unet.eval()

    @contextlib.contextmanager
    def previewing(self):
        """Training previews sample with ``preview_steps`` DDIM steps, not the full sampler."""
        self._sampling_override = ("ddim", min(self.config.preview_steps, self.config.num_train_timesteps))
        try:
            yield
        finally:
            self._sampling_override = None

    # --- sampling -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> torch.Tensor:
        """``n`` images from the EMA U-Net: chunk ``k`` of :data:`SAMPLE_CHUNK` starts from noise, and takes
        its DDPM noise, from a stream seeded by ``(seed, k)``."""
        sampler, steps = self._sampling_override or (self.config.sampler, self.config.sample_steps)
        scheduler = build_scheduler(self.config, sampler)
        scheduler.set_timesteps(steps)
        r = self.config.resolution
        chunks = []
        for k, start in enumerate(range(0, n, SAMPLE_CHUNK)):
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, k]).generate_state(1)[0]))
            x = torch.randn(min(SAMPLE_CHUNK, n - start), 3, r, r, generator=g).to(self.device)
            for t in scheduler.timesteps:
                eps = self.ema(x, t.to(self.device)).sample
                if sampler == "ddim":
                    x = scheduler.step(eps, t, x, eta=self.config.ddim_eta, generator=g).prev_sample
                else:
                    x = scheduler.step(eps, t, x, generator=g).prev_sample
            chunks.append(to_uint8(x).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, 3, r, r, dtype=torch.uint8)

    # --- state --------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The trained U-Net and its EMA (``unet.*``, ``ema.*``)."""
        out = {f"unet.{k}": v for k, v in self.unet.state_dict().items()}
        out.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        return out

    def generator_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the EMA U-Net that samples (``sampler.*``): the file that ships."""
        return {f"sampler.{k}": v for k, v in self.ema.state_dict().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        parts: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
        for name, value in tensors.items():
            head, _, rest = name.partition(".")
            parts[head][rest] = value
        if not ({"sampler", "unet", "ema"} & parts.keys()):
            raise GfpError("ddpm: the weights hold no U-Net (expected unet.*, ema.* or sampler.* tensors)")
        if "sampler" in parts:
            self.unet.load_state_dict(parts["sampler"])
            self.ema.load_state_dict(parts["sampler"])
        if "unet" in parts:
            self.unet.load_state_dict(parts["unet"])
        if "ema" in parts:
            self.ema.load_state_dict(parts["ema"])

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = self.state_dict()
        opt, opt_meta = optimizer_to_tensors(self.opt, "opt")
        tensors.update(opt)
        tensors["rng_state"] = self.rng.get_state()
        return tensors, {"family": self.name, "step": self.step, "opt": opt_meta}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        if meta.get("family") not in (None, self.name):
            raise GfpError(f"cannot resume a {meta['family']} checkpoint as {self.name}")
        try:
            self.load_state_dict({k: v for k, v in tensors.items() if k.split(".")[0] in ("unet", "ema")})
            optimizer_from_tensors(self.opt, tensors, meta["opt"], "opt")
            self.rng.set_state(tensors["rng_state"])
            self.step = int(meta["step"])
            if dist.rank():  # the checkpoint holds rank 0's stream; the others start fresh ones of their own
                self.rng.manual_seed(int(self.rng.initial_seed()) + 1_000_003 * dist.rank() + self.step)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise GfpError(f"ddpm: the checkpoint does not match this configuration ({exc})") from None
