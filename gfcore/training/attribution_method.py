"""The base of the methods built on the paper's attribution network (:mod:`gfcore.nn.attribution_net`): the
``learned`` extractor, and any variant that feeds the network another view of the image. Such a network
exposes ``image_fingerprint(x)`` and a last dense layer ``dense2`` whose weight rows are the model
fingerprints."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore.config import bounded
from gfcore.training.neural import NeuralAttributor, NeuralConfig


@dataclass
class AttributionNetConfig(NeuralConfig):
    # channel multiplier; 1 = the paper. 0.25 trains 32x32 tasks on a CPU in minutes; at most 16 (about 256
    # times the paper's weights)
    width: float = bounded(1.0, min=0, max=16, min_open=True)


class AttributionNetAttributor(NeuralAttributor):
    """A :class:`NeuralAttributor` whose network is (or wraps) the attribution network: its image
    fingerprints are the penultimate activations, its model fingerprints the rows of ``dense2``."""

    Config = AttributionNetConfig
    has_fingerprints = True

    @classmethod
    def resolution_problem(cls, resolution: int) -> str | None:
        from gfcore.errors import GfpError
        from gfcore.nn.attribution_net import check_resolution

        try:
            check_resolution(resolution)
        except GfpError as exc:
            return str(exc)
        return None

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(images, self.network.image_fingerprint)

    def class_head(self) -> tuple[str, ...]:
        """The last layer (the model fingerprints): ``dense2``, or ``net.dense2`` in a wrapping variant."""
        return tuple(name for name, _ in self.network.named_modules() if name.rsplit(".", 1)[-1] == "dense2")

    def model_fingerprints(self) -> torch.Tensor:
        """Rows of the last layer's effective weight, one vector per source (bias not included)."""
        return self.network.dense2.effective_weight().detach().cpu()
