"""The ``learned`` extractor: the paper's network trained with the shared loop."""

from __future__ import annotations

from gfcore import AttributionNet, AttributionNetAttributor, AttributionNetConfig, check_resolution


class LearnedAttributor(AttributionNetAttributor):
    name = "learned"
    description = "The paper's attribution network (Yu et al. 2019): learned image and model fingerprints."
    Config = AttributionNetConfig
    roles = frozenset({"reference"})
    conformance_overrides = {"epochs": 1, "width": 0.125, "batch_size": 8}

    def build_network(self) -> AttributionNet:
        check_resolution(self.resolution)
        return AttributionNet(self.resolution, len(self.classes), self.config.width)
