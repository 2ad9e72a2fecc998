"""What the four families share: the adversarial training loop, EMA, seeding, sampling, and state.

A family supplies its two networks and its two losses; this class runs ``n_critic`` critic updates and one
generator update per iteration, keeps an optional EMA copy of the generator, reports losses, asks for
previews and checkpoints, and resumes exactly (networks, EMA, optimisers and the data/noise RNG).

Every random draw of training (real-batch indices, flips, latents, penalty interpolation weights) comes
from one seeded CPU ``torch.Generator``, so a CPU run is reproducible from ``ctx.seed`` and a resumed run
continues the same random stream.

Under torchrun (:mod:`gfcore.execution.distributed`) ``batch_size`` is the global batch: each rank draws its share
from a stream of its own (rank 0's is the single process's), gradients are averaged over the ranks before
each step, and the logged losses are rank 0's. BatchNorm statistics stay each rank's own (rank 0's are
saved), as under DDP without SyncBatchNorm.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from gfcore import FitContext, GanSource, GfpError, bounded, optimizer_from_tensors, optimizer_to_tensors
from gfcore import distributed as dist

from .pretrained import PRETRAINED_DIR

SAMPLE_CHUNK = 256  # images per generator forward pass when sampling


@dataclass
class GanConfig:
    """Fields every family has; families redeclare them with their own defaults and add their own."""

    resolution: int = 32  # a power of two, 16..128
    # Upper bounds: far beyond the paper's (512 latents, batches of 16-64, a few hundred thousand updates);
    # they refuse a typo, or a run.json from a stranger, before an allocation that cannot succeed. A family
    # re-declaring one of these fields to change its default keeps the bound.

    z_dim: int = bounded(128, min=1, max=4096)
    iters: int = bounded(1000, min=1, max=100_000_000)  # generator updates
    batch_size: int = bounded(32, min=1, max=65_536)
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.99
    n_critic: int = bounded(1, min=1, max=1000)  # critic updates per generator update
    ema_beta: float = 0.0  # 0 = no EMA generator; otherwise sample from the EMA copy
    flip: bool = False  # random horizontal flips of the real images
    log_every: int = 25  # iterations per loss-history entry
    preview_every: int = 200  # iterations between sample grids
    checkpoint_every: int = 200  # iterations between resumable checkpoints


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 [0, 255], the inverse of ``x * 2 / 255 - 1``."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() * (2 / 255) - 1


class AdversarialGan(GanSource):
    """Base of the built-in families. Subclasses implement the ``build_*`` and ``*_loss`` methods."""

    Config: ClassVar[type] = GanConfig
    #: names of shipped generators of this family (folders under ``pretrained/``), filled in by subclasses
    shipped: ClassVar[tuple[str, ...]] = ()
    #: resolution, iterations and widths small enough for gfcore.testing's conformance checks
    conformance_overrides: ClassVar[dict[str, Any]] = {
        "resolution": 16,
        "iters": 2,
        "batch_size": 4,
        "n_critic": 1,
        "checkpoint_every": 1,
    }

    def __init__(self, config: Any, device: torch.device | None = None):
        super().__init__(config, device)
        res = config.resolution
        if not (16 <= res <= 128 and res & (res - 1) == 0):
            raise GfpError(f"{self.name}: resolution must be a power of two from 16 to 128, got {res}")
        for key in ("iters", "batch_size", "n_critic", "z_dim"):
            if getattr(config, key) < 1:
                raise GfpError(f"{self.name}: {key} must be at least 1, got {getattr(config, key)}")
        if config.batch_size < 2:
            raise GfpError(f"{self.name}: batch_size must be at least 2 (the losses compare samples)")
        self.step = 0
        self._build_networks(seed=0)
        self.rng = torch.Generator().manual_seed(0)

    # --- what a family provides --------------------------------------------------------------------------

    def build_generator(self) -> nn.Module:
        raise NotImplementedError

    def build_critic(self) -> nn.Module:
        raise NotImplementedError

    def critic_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The critic's loss on one real batch (and fakes it draws itself); logs are plain floats."""
        raise NotImplementedError

    def generator_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def before_iteration(self) -> None:
        """Hook run before each iteration (ProGAN moves along its growth schedule here)."""

    def prepare_real(self, real: torch.Tensor) -> torch.Tensor:
        """Hook applied to each float real batch (ProGAN downscales it to the current level)."""
        return real

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Training-time fakes; ProGAN passes its current level and fade-in."""
        return self.G(z)

    def critic(self, images: torch.Tensor) -> torch.Tensor:
        return self.D(images)

    def draw_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Latent vectors ``[n, z_dim]`` on CPU (standard normal; the MMD-GAN code's families draw U(-1, 1))."""
        return torch.randn(n, self.config.z_dim, generator=generator)

    def clip_gradients(self, module: nn.Module) -> None:
        """Hook run between ``backward`` and the optimiser step of ``module`` (the G or the critic)."""

    def sampling_forward(self, net: nn.Module, z: torch.Tensor) -> torch.Tensor:
        """How :meth:`sample` runs the sampling generator (ProGAN adds its growth phase)."""
        return net(z)

    # --- networks ------------------------------------------------------------------------------------------

    def _build_networks(self, seed: int) -> None:
        # Build under a fixed seed without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.G = self.build_generator().to(self.device)
            self.D = self.build_critic().to(self.device)
        self.G_ema = None
        if self.config.ema_beta > 0:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples: the EMA copy when the family keeps one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.G_ema is None:
            return
        beta = self.config.ema_beta
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)  # BatchNorm statistics are copied, not averaged

    # --- random draws (all from self.rng, on CPU, then moved) ----------------------------------------------

    def noise(self, n: int) -> torch.Tensor:
        return self.draw_latents(n, self.rng).to(self.device)

    def uniform(self, n: int) -> torch.Tensor:
        """One U(0, 1) weight per sample, shaped to broadcast over images."""
        return torch.rand(n, 1, 1, 1, generator=self.rng).to(self.device)

    @property
    def rank_batch(self) -> int:
        """Images per batch on this process: ``batch_size`` is the global batch, split over torchrun ranks."""
        return dist.per_rank_batch(self.config.batch_size)

    def fake_batch(self, n: int | None = None, grad: bool = False) -> torch.Tensor:
        z = self.noise(n or self.rank_batch)
        if grad:
            return self.generate(z)
        with torch.no_grad():
            return self.generate(z)

    def _real_batch(self, real: torch.Tensor) -> torch.Tensor:
        n = self.rank_batch
        idx = torch.randint(len(real), (n,), generator=self.rng)
        flips = torch.rand(n, generator=self.rng) < 0.5
        x = to_float(real[idx.to(real.device)].to(self.device))
        if self.config.flip:
            x = torch.where(flips.to(self.device)[:, None, None, None], x.flip(3), x)
        return self.prepare_real(x)

    # --- training -----------------------------------------------------------------------------------------

    def _check_real(self, real: Any) -> torch.Tensor:
        images = torch.as_tensor(np.asarray(real)) if not torch.is_tensor(real) else real
        r = self.config.resolution
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != (3, r, r):
            raise GfpError(
                f"{self.name}: real images must be uint8 [N, 3, {r}, {r}], got {images.dtype} {tuple(images.shape)}"
            )
        if len(images) < 2:
            raise GfpError(f"{self.name}: at least 2 real images are needed, got {len(images)}")
        return images.to(self.device)

    def _make_optimizers(self) -> None:
        cfg = self.config
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas, eps=1e-8)

    def _set_learning_rates(self) -> None:
        """Linear decay to zero over the last part of training, where a family asks for it (SNGAN)."""
        start = getattr(self.config, "lr_decay_start", 1.0)
        if start >= 1.0:
            return
        iters = self.config.iters
        begin = int(start * iters)
        factor = 1.0 if self.step < begin else max(0.0, (iters - self.step) / max(1, iters - begin))
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def _train_iteration(self, real: torch.Tensor) -> dict[str, float]:
        self.before_iteration()
        self._set_learning_rates()
        logs: dict[str, float] = {}
        self.D.requires_grad_(True)
        for _ in range(self.config.n_critic):
            loss, logs_d = self.critic_loss(self._real_batch(real))
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            dist.average_gradients(self.D.parameters())  # torchrun: the global batch's mean gradient
            self.clip_gradients(self.D)
            self.opt_d.step()
            logs.update(logs_d)
        self.D.requires_grad_(False)  # no critic gradients are needed for the generator's update
        loss, logs_g = self.generator_loss(self._real_batch(real))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(self.G.parameters())
        self.clip_gradients(self.G)
        self.opt_g.step()
        self.D.requires_grad_(True)
        logs.update(logs_g)
        return logs

    def train(self, real: np.ndarray, ctx: FitContext, preview: Callable[[int], None] | None = None) -> None:
        cfg = self.config
        real_t = self._check_real(real)
        self._build_networks(seed=ctx.seed)  # the same seed on every rank: the same weights
        self._make_optimizers()
        # torchrun: each rank draws its own real images and latents (rank 0 those of a single process)
        self.rng = torch.Generator().manual_seed(ctx.seed + 1_000_003 * dist.rank())
        self.step = 0
        if ctx.resume is not None:
            self.load_training_state(*ctx.resume)
        task = ctx.progress.task(f"train {self.name}", total=cfg.iters)
        task.update(completed=self.step)
        window: dict[str, list[float]] = defaultdict(list)
        self.G.train()
        self.D.train()
        while self.step < cfg.iters:
            logs = self._train_iteration(real_t)
            self.step += 1
            self._update_ema()
            bad = [k for k, v in logs.items() if not math.isfinite(v)]
            if bad:
                raise GfpError(
                    f"{self.name}: training diverged at iteration {self.step} ({bad[0]} is {logs[bad[0]]})"
                )
            for key, value in logs.items():
                window[key].append(value)
            last = self.step == cfg.iters
            task.advance()
            task.update(status=" ".join(f"{k}={v:.3g}" for k, v in logs.items()))
            if self.step % cfg.log_every == 0 or last:
                ctx.history.append({"step": self.step, **{k: float(np.mean(v)) for k, v in window.items()}})
                window.clear()
            if preview is not None and (self.step % cfg.preview_every == 0 or last):
                preview(self.step)
            if self.step % cfg.checkpoint_every == 0 or last:
                tensors, meta = self.training_state()
                ctx.checkpoint(self.step, tensors, meta, metrics=ctx.history[-1] if ctx.history else {})
        task.done()
        self.G.eval()
        self.D.eval()

    # --- sampling -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> torch.Tensor:
        r = self.config.resolution
        # All latents are drawn at once: torch's CPU normal sampler gives different numbers for
        # different request sizes, so chunked draws would make the images depend on the chunking.
        z = self.draw_latents(n, torch.Generator().manual_seed(seed))
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            chunks = [
                to_uint8(self.sampling_forward(net, z[i : i + SAMPLE_CHUNK].to(self.device))).cpu()
                for i in range(0, n, SAMPLE_CHUNK)
            ]
        finally:
            net.train(was_training)
        return torch.cat(chunks) if chunks else torch.empty(0, 3, r, r, dtype=torch.uint8)

    # --- state --------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Generator, critic and EMA generator weights (``G.*``, ``D.*``, ``G_ema.*``)."""
        out = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        out.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        if self.G_ema is not None:
            out.update({f"G_ema.{k}": v for k, v in self.G_ema.state_dict().items()})
        return out

    def generator_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the generator that samples (``sampler.*``; the EMA copy when the family keeps one): the file
        that ships."""
        return {f"sampler.{k}": v for k, v in self.sampler.state_dict().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Accepts :meth:`state_dict`'s or :meth:`generator_state_dict`'s output (or a checkpoint's tensors)."""
        parts: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
        for name, value in tensors.items():
            head, _, rest = name.partition(".")
            parts[head][rest] = value
        if "sampler" in parts:
            self.G.load_state_dict(parts["sampler"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(parts["sampler"])
        if "G" in parts:
            self.G.load_state_dict(parts["G"])
        if "D" in parts:
            self.D.load_state_dict(parts["D"])
        if self.G_ema is not None and "G_ema" in parts:
            self.G_ema.load_state_dict(parts["G_ema"])
        if not ({"sampler", "G"} & parts.keys()):
            raise GfpError(f"{self.name}: the weights hold no generator (expected G.* or sampler.* tensors)")

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything a resumed run needs: weights, optimiser state, RNG state, and the iteration."""
        tensors = self.state_dict()
        opt_g, meta_g = optimizer_to_tensors(self.opt_g, "opt_g")
        opt_d, meta_d = optimizer_to_tensors(self.opt_d, "opt_d")
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors["rng_state"] = self.rng.get_state()
        return tensors, {"family": self.name, "step": self.step, "opt_g": meta_g, "opt_d": meta_d}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        if meta.get("family") not in (None, self.name):
            raise GfpError(f"cannot resume a {meta['family']} checkpoint as {self.name}")
        try:
            self.load_state_dict({k: v for k, v in tensors.items() if k.split(".")[0] in ("G", "D", "G_ema")})
            optimizer_from_tensors(self.opt_g, tensors, meta["opt_g"], "opt_g")
            optimizer_from_tensors(self.opt_d, tensors, meta["opt_d"], "opt_d")
            self.rng.set_state(tensors["rng_state"])
            self.step = int(meta["step"])
            if dist.rank():  # the checkpoint holds rank 0's stream; the others start fresh ones of their own
                self.rng.manual_seed(int(self.rng.initial_seed()) + 1_000_003 * dist.rank() + self.step)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise GfpError(f"{self.name}: the checkpoint does not match this configuration ({exc})") from None
        self.on_resume()

    def on_resume(self) -> None:
        """Hook run after a checkpoint is restored (ProGAN re-derives its growth phase)."""

    @classmethod
    def shipped_generators(cls) -> dict[str, Path]:
        """The :meth:`GanSource.shipped_generators` of the built-in families: the folders under
        ``pretrained/`` named in ``shipped``."""
        return {name: PRETRAINED_DIR / name for name in cls.shipped if (PRETRAINED_DIR / name).is_dir()}
