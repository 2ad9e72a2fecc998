"""The ``learned`` extractor: the paper's network trained with the shared loop."""

from __future__ import annotations

from pathlib import Path

from gfcore import AttributionNet, AttributionNetAttributor, AttributionNetConfig, check_resolution

#: the trained runs this plugin ships (package data, not packages)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


class LearnedAttributor(AttributionNetAttributor):
    name = "learned"
    description = "The paper's attribution network (Yu et al. 2019): learned image and model fingerprints."
    Config = AttributionNetConfig
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
