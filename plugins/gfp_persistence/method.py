"""The three persistence extractors. Each is the paper's attribution network trained like the ``learned`` extractor (same loop, fingerprints
and checkpoints) with another network and one more parameter: the resolution R of its band or its patch."""

from __future__ import annotations

from dataclasses import dataclass

from gfcore import AttributionNetAttributor, AttributionNetConfig, GfpError, bounded

from .network import MIN_RESOLUTION, BandNet, FeaturePoolNet, LogitPoolNet, PatchPoolNet

#: the persistence study's figure: the two band variants share a panel
BANDS, BAND_AXIS = "frequency bands", "resolution R of the band (pixels)"


def _check_power_of_two(name: str, value: int) -> None:
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two (4, 8, 16, ...), got {value}")


@dataclass
class BandConfig(AttributionNetConfig):
    res: int = bounded(8, min=MIN_RESOLUTION)  # R: the band's resolution (Fig. (b) of the paper uses 8)

    def validate(self) -> None:
        super().validate()
        _check_power_of_two("res", self.res)


@dataclass
class ResidualConfig(BandConfig):
    res: int = 16  # Fig. (c) of the paper: the band between 8x8 and 16x16


@dataclass
class PatchConfig(AttributionNetConfig):
    patch: int = bounded(8, min=MIN_RESOLUTION)  # R: the side of the patches the classifier sees

    def validate(self) -> None:
        super().validate()
        _check_power_of_two("patch", self.patch)


class _Persistence(AttributionNetAttributor):
    conformance_overrides = {"epochs": 1, "width": 0.125, "batch_size": 8}
    roles = frozenset({"persistence"})
    #: the Config field the persistence study sweeps (R)
    sweep_parameter = "res"

    def _resolution_parameter(self) -> int:
        value = getattr(self.config, self.sweep_parameter)
        if value > self.resolution:
            raise GfpError(
                f"{self.name}: {self.sweep_parameter}={value} is larger than the images "
                f"({self.resolution}x{self.resolution}); use at most {self.sweep_parameter}={self.resolution}"
            )
        return value


class PreDownAttributor(_Persistence):
    name = "predown"
    description = "The learned network on the low band only: the image Gaussian-downsampled to res x res."
    Config = BandConfig
    persistence_panel = (BANDS, BAND_AXIS, "low band (pre-downsampling to R)")

    def build_network(self) -> BandNet:
        return BandNet(self._resolution_parameter(), len(self.classes), self.config.width, residual=False)


class ResidualAttributor(_Persistence):
    name = "residual"
    description = "The learned network on the high band only: the Laplacian-pyramid band at res x res."
    Config = ResidualConfig
    persistence_panel = (BANDS, BAND_AXIS, "high band (Laplacian band at R)")

    def build_network(self) -> BandNet:
        return BandNet(self._resolution_parameter(), len(self.classes), self.config.width, residual=True)


@dataclass
class PoolConfig(AttributionNetConfig):
    res: int = bounded(8, min=MIN_RESOLUTION)  # r: the feature-map resolution where the pooling happens

    def validate(self) -> None:
        super().validate()
        _check_power_of_two("res", self.res)


#: the post-pooling panel of the persistence figure: figure (d) and the official code's variant share it
POOLING, POOLING_AXIS = "post-pooling", "resolution r of the pooled feature map (pixels)"


class _Pooled(_Persistence):
    """A post-pooling variant: ``network`` built from the run's resolution and the pooled resolution r."""

    Config = PoolConfig
    network: type

    def build_network(self):
        r = self._resolution_parameter()
        return self.network(self.resolution, r, len(self.classes), self.config.width)


class PostPoolAttributor(_Pooled):
    name = "postpool"
    description = (
        "The paper's post-pooling (its figure (d)): the learned network's convolutions down to res x res, "
        "a classifier at every location, logits averaged over the image (any size)."
    )
    network = LogitPoolNet
    persistence_panel = (POOLING, POOLING_AXIS, "logits pooled (figure (d))")


class FeaturePoolAttributor(_Pooled):
    name = "featpool"
    description = (
        "Post-pooling as the paper's official code: the convolutions down to res x res, the features "
        "average-pooled to 4x4, then the 4x4 convolution and the dense layers."
    )
    network = FeaturePoolNet
    persistence_panel = (POOLING, POOLING_AXIS, "features pooled to 4x4 (official code)")


class TilePoolAttributor(_Persistence):
    name = "tilepool"
    description = (
        "The learned network on every non-overlapping patch x patch tile, logits averaged over the image."
    )
    Config = PatchConfig
    sweep_parameter = "patch"
    persistence_panel = (
        "tiles",
        "tile side R (pixels); logits averaged over tiles",
        "R x R tiles, logits averaged",
    )

    def build_network(self) -> PatchPoolNet:
        return PatchPoolNet(self._resolution_parameter(), len(self.classes), self.config.width)
