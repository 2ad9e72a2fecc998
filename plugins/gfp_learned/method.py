"""The ``learned`` extractor: the paper's network trained with the shared loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gfcore import (
    AttributionNet,
    AttributionNetAttributor,
    AttributionNetConfig,
    bounded,
    check_resolution,
    step_if_finite,
)
from gfp_learned.outliers import generator_traces, uniform_cross_entropy

#: the trained runs this plugin ships (package data, not packages)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


@dataclass
class LearnedConfig(AttributionNetConfig):
    # Outlier exposure (gfp_learned.outliers): the weight of the "unsure about a made-up generator's
    # trace" loss beside the classification loss; 0 (the paper's training) turns it off. Each step then
    # costs a second forward and backward pass.
    outlier_exposure: float = bounded(0.0, min=0, max=100)


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
        return AttributionNet(self.resolution, len(self.classes), self.config.width)

    def train_step(self, x, y, optimizers, generator):
        weight = self.config.outlier_exposure
        if not weight:
            return super().train_step(x, y, optimizers, generator)
        logits = self.forward(x)
        outliers = self.forward(generator_traces(x, generator))
        loss = self.loss(logits, y) + weight * uniform_cross_entropy(outliers)
        return loss, logits, 0 if step_if_finite(optimizers["optim"], loss, self.network.parameters()) else 1
