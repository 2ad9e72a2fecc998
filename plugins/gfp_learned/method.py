"""The ``learned`` extractor: the paper's network trained with the shared loop."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore.config import positive
from gfcore.train import NeuralAttributor, NeuralConfig

from .network import AttributionNet, check_resolution


@dataclass
class LearnedConfig(NeuralConfig):
    width: float = positive(
        1.0
    )  # channel multiplier; 1 = the paper. 0.25 trains 32x32 tasks on a CPU in minutes


class LearnedAttributor(NeuralAttributor):
    name = "learned"
    description = "The paper's attribution network (Yu et al. 2019): learned image and model fingerprints."
    Config = LearnedConfig
    has_fingerprints = True
    conformance_overrides = {"epochs": 1, "width": 0.125, "batch_size": 8}

    def build_network(self) -> AttributionNet:
        check_resolution(self.resolution)
        return AttributionNet(self.resolution, len(self.classes), self.config.width)

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(images, self.network.image_fingerprint)

    def class_head(self) -> tuple[str, ...]:
        """The last layer (the model fingerprints): ``dense2``, or ``net.dense2`` in a wrapping variant."""
        return tuple(name for name, _ in self.network.named_modules() if name.rsplit(".", 1)[-1] == "dense2")

    def model_fingerprints(self) -> torch.Tensor:
        """Rows of the last layer's effective weight, one 512-d vector per source (bias not included)."""
        return self.network.dense2.effective_weight().detach().cpu()
