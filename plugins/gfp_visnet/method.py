"""The ``visnet`` extractor: visNet trained with the shared loop as the paper trains it: per iteration one
critic step, then one auto-encoder step, each on a minibatch of its own, then the moving-average update."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import (
    GfpError,
    NeuralAttributor,
    NeuralConfig,
    bounded,
    gradient_penalty,
    interpolate,
    non_negative,
    step_if_finite,
    wgan_critic_loss,
    wgan_generator_loss,
)

from .network import VisNet, check_resolution


@dataclass
class VisNetConfig(NeuralConfig):
    # images per iteration: the critic's minibatch and the auto-encoder's, every other image each
    # (32 + 32 = the official code, which draws a fresh minibatch for each of the two steps)
    batch_size: int = bounded(64, min=2, max=65_536)
    width: float = bounded(1.0, min=0, max=16, min_open=True)  # channel multiplier; 1 = the paper (4x4x512)
    rec_weight: float = non_negative(20.0)  # L1 reconstruction weight
    adv_weight: float = non_negative(0.1)  # adversarial weight (against the reconstruction critic)
    gp_weight: float = non_negative(10.0)  # WGAN-GP gradient penalty
    drift: float = non_negative(0.001)  # drift term on the critic's output for real images
    ema: float = bounded(0.999, min=0, max=1)  # moving average of the auto-encoder used for inference


class VisNetAttributor(NeuralAttributor):
    name = "visnet"
    description = "visNet (Yu et al. 2019): auto-encoder residuals as image fingerprints, image-sized model fingerprints."
    Config = VisNetConfig
    has_fingerprints = True
    conformance_overrides = {"epochs": 1, "width": 0.0625, "batch_size": 4, "ema": 0.5}

    @classmethod
    def resolution_problem(cls, resolution: int) -> str | None:
        try:
            check_resolution(resolution)
        except GfpError as exc:
            return str(exc)
        return None

    def build_network(self) -> VisNet:
        check_resolution(self.resolution)
        return VisNet(self.resolution, len(self.classes), self.config.width)

    def class_head(self) -> tuple[str, ...]:
        """The image-sized model fingerprints, one per class, of the auto-encoder and of its average."""
        return ("ae.fingerprints", "ema.fingerprints")

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        net = self.network
        return {
            "optim": self.make_optimizer(net.ae.parameters()),
            "critic": self.make_optimizer(net.critic.parameters()),
        }

    def train_step(self, x, y, optimizers, generator):
        c, net = self.config, self.network
        # the loop's batch holds both steps' minibatches, interleaved: its rows come sorted by index, and a
        # prepared dataset is stored class by class, so halves would give each step other classes
        if len(x) > 1:
            x_critic, x_ae, y_ae = x[0::2], x[1::2], y[1::2]
        else:  # a one-image batch (a rank's share of a tiny one): both steps see it
            x_critic, x_ae, y_ae = x, x, y
        skipped = 0
        # 1) the critic: WGAN-GP with drift, reconstructions as the fakes
        with torch.no_grad():
            rec = net.ae.reconstruct(x_critic)
            critic_logits = net.ae.classify(x_critic - rec)  # for the loop's training accuracy only
        u = torch.rand(len(x_critic), 1, 1, 1, generator=generator).to(x.device)
        d_loss = wgan_critic_loss(net.critic(x_critic), net.critic(rec), c.drift)
        if c.gp_weight:
            d_loss = d_loss + c.gp_weight * gradient_penalty(net.critic, interpolate(x_critic, rec, u))
        skipped += not step_if_finite(optimizers["critic"], d_loss, net.critic.parameters())
        # 2) the auto-encoder: cross-entropy + L1 reconstruction + adversarial
        rec = net.ae.reconstruct(x_ae)
        logits = net.ae.classify(x_ae - rec)
        loss = F.cross_entropy(logits, y_ae) + c.rec_weight * (rec - x_ae).abs().mean()
        if c.adv_weight:
            net.critic.requires_grad_(False)
            loss = loss + c.adv_weight * wgan_generator_loss(net.critic(rec))
            net.critic.requires_grad_(True)
        skipped += not step_if_finite(optimizers["optim"], loss, net.ae.parameters())
        # 3) the moving average used for inference
        net.update_ema(c.ema)
        if len(x) > 1:  # the batch's logits in its own order, for the loop's training accuracy
            every = logits.new_empty(len(x), logits.shape[1])
            every[0::2], every[1::2] = critic_logits.to(logits.dtype), logits.detach()
            logits = every
        return loss, logits, int(skipped)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(images, self.network.ema)

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """``x - R(x)`` of the averaged auto-encoder: [N, 3, R, R] in [-2, 2]."""
        return self._batched(images, self.network.ema.image_fingerprint)

    def model_fingerprints(self) -> torch.Tensor:
        """The averaged model fingerprints as the logits use them: [L, 3, R, R]."""
        ema = self.network.ema
        return (ema.fingerprints * ema.scale).detach().float().cpu()
