"""The ``learned`` extractor: the paper's network trained with the shared loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gfcore import (
    AttributionNet,
    AttributionNetAttributor,
    AttributionNetConfig,
    GfpError,
    bounded,
    check_resolution,
    one_of,
    step_if_finite,
)
from gfp_learned.outliers import TRACE_KINDS, generator_traces, uniform_cross_entropy

#: the trained runs this plugin ships (package data, not packages)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


@dataclass
class LearnedConfig(AttributionNetConfig):
    # Outlier exposure (gfp_learned.outliers): the weight of the "unsure about a made-up generator's
    # trace" loss beside the classification loss; 0 (the paper's training) turns it off. Each step then
    # costs a second forward and backward pass.
    outlier_exposure: float = bounded(0.0, min=0, max=100)
    # The class a made-up generator's trace must never be taken for (``real``): the outliers' target is then
    # uniform over the other classes, so a trace unlike every known one is pushed away from real as well as
    # made unsure. Empty: uniform over every class.
    outlier_real_class: str = ""
    # The made-up generators: resampling stages, random shallow networks at full resolution, or either per
    # batch (gfp_learned.outliers)
    outlier_traces: str = one_of("upsampling", TRACE_KINDS)


class LearnedAttributor(AttributionNetAttributor):
    name = "learned"
    description = "The paper's attribution network (Yu et al. 2019): learned image and model fingerprints."
    Config = LearnedConfig
    roles = frozenset({"reference"})
    conformance_overrides = {"epochs": 1, "width": 0.125, "batch_size": 8}

    @classmethod
    def shipped_runs(cls) -> dict[str, Path]:
        """``existence``: the demo's five-source network (real photographs, ProGAN, SNGAN, CramerGAN,
        MMDGAN at 32x32); its run.json records the command that reproduces it and its test accuracy."""
        folders = sorted(SHIPPED_DIR.iterdir()) if SHIPPED_DIR.is_dir() else []
        return {p.name: p for p in folders if (p / "run.json").is_file()}

    def build_network(self) -> AttributionNet:
        check_resolution(self.resolution)
        real = self.config.outlier_real_class
        if real and real not in self.classes:
            raise GfpError(
                f"outlier_real_class={real!r} is not one of the classes ({', '.join(self.classes)})"
            )
        return AttributionNet(self.resolution, len(self.classes), self.config.width)

    def train_step(self, x, y, optimizers, generator):
        weight = self.config.outlier_exposure
        if not weight:
            return super().train_step(x, y, optimizers, generator)
        logits = self.forward(x)
        outliers = self.forward(generator_traces(x, generator, self.config.outlier_traces))
        real = self.config.outlier_real_class
        excluded = self.classes.index(real) if real else None
        loss = self.loss(logits, y) + weight * uniform_cross_entropy(outliers, excluded)
        return loss, logits, 0 if step_if_finite(optimizers["optim"], loss, self.network.parameters()) else 1
