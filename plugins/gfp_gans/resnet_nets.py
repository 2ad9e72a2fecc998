"""ResNet generator (SNGAN, and the ``g_resnet5`` generator CramerGAN and MMDGAN share), SNGAN's
spectrally normalised ResNet discriminator, and the DCGAN-style critic of the MMD-GAN code.

Channel widths: ``ch`` at full resolution, doubling as the resolution halves, capped at 8 * ch, so one
``ch`` scales every network to CPU size. This is gfp's own rule, not an official one: SNGAN's 128x128
networks double from ``ch`` to 16 * ch at 8x8 and keep 16 * ch at 4x4, and its 32x32 (CIFAR-10) networks
keep one width throughout (256 in G, 128 in D).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


def _channels(res: int, resolution: int, ch: int) -> int:
    """Feature maps at ``res`` for a network working at ``resolution``."""
    return ch * min(8, max(1, resolution // (2 * res)))


def glorot_init_(net: nn.Module) -> nn.Module:
    """SNGAN's official initialisation (chainer's GlorotUniform): gain sqrt(2) on the 3x3 convolutions of
    the residual paths (``conv0``/``conv1``), gain 1 on the shortcuts, the dense input, the RGB output and
    the critic's linear output; biases zero. Spectrally normalised layers get it on their raw weight."""
    with torch.no_grad():
        for name, m in net.named_modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            weight = (
                m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
            )
            gain = math.sqrt(2.0) if name.rsplit(".", 1)[-1] in ("conv0", "conv1") else 1.0
            nn.init.xavier_uniform_(weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def _check_resolution(resolution: int) -> int:
    levels = math.log2(resolution)
    if resolution < 8 or levels != int(levels):
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return int(levels)


class _GeneratorResBlock(nn.Module):
    """BN, ReLU, nearest upscale, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upscale, 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(in_ch)
        self.conv0 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv1 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn0(x)), scale_factor=2.0, mode="nearest")
        h = self.conv1(F.relu(self.bn1(self.conv0(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResNetGenerator(nn.Module):
    """SNGAN's generator: z -> dense 4x4 -> one up-sampling residual block per doubling -> BN, ReLU, 3x3
    conv to RGB, tanh. (The first CramerGAN/MMDGAN runs used it too: ``generator="resnet_4x4"``.)"""

    def __init__(self, resolution: int, z_dim: int, ch: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(2, levels + 1)]  # 4 .. resolution
        widths = [_channels(r, resolution, ch) for r in resolutions]
        self.base_ch = widths[0]
        self.dense = nn.Linear(z_dim, 16 * widths[0])
        self.blocks = nn.Sequential(*(_GeneratorResBlock(a, b) for a, b in itertools.pairwise(widths)))
        self.bn = nn.BatchNorm2d(widths[-1])
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(-1, self.base_ch, 4, 4)
        x = self.blocks(x)
        return torch.tanh(self.to_rgb(F.relu(self.bn(x))))


class _OptimizedDiscBlock(nn.Module):
    """SNGAN's first block: conv, ReLU, conv, pool; shortcut: pool, 1x1 conv (no ReLU on the image)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv1 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv1(F.relu(self.conv0(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class _DiscResBlock(nn.Module):
    """ReLU, conv, ReLU, conv, (pool); shortcut: 1x1 conv, (pool)."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool):
        super().__init__()
        self.conv0 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv1 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1)) if in_ch != out_ch or downsample else None
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.conv0(F.relu(x))))
        s = self.shortcut(x) if self.shortcut is not None else x
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class SNResNetDiscriminator(nn.Module):
    """SNGAN's discriminator: residual blocks down to 4x4, one more at 4x4, ReLU, global sum pool and a
    spectrally normalised linear output (unconditional, so without the projection term)."""

    def __init__(self, resolution: int, ch: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(levels - 1, 1, -1)]  # resolution/2 .. 4
        widths = [_channels(r, resolution, ch) for r in resolutions]
        blocks: list[nn.Module] = [_OptimizedDiscBlock(3, widths[0])]
        blocks += [_DiscResBlock(a, b, downsample=True) for a, b in itertools.pairwise(widths)]
        blocks.append(_DiscResBlock(widths[-1], widths[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_norm(nn.Linear(widths[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.linear(h).squeeze(1)


class DCGANCritic(nn.Module):
    """The critic of the first CramerGAN/MMDGAN runs (``critic="dcgan_4x4"``): 5x5 stride-2 convs with
    leaky ReLU down to 4x4 (three at 32x32, not the original's five), then a linear map to ``out_dim``
    features (the kernel's input). No normalisation, since a gradient penalty is used."""

    def __init__(self, resolution: int, ch: int, out_dim: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(levels - 1, 1, -1)]  # output size of each conv
        widths = [_channels(r, resolution, ch) for r in resolutions]
        layers: list[nn.Module] = []
        in_ch = 3
        for w in widths:
            layers += [nn.Conv2d(in_ch, w, 5, stride=2, padding=2), nn.LeakyReLU(0.2)]
            in_ch = w
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(in_ch * 16, out_dim)

    def forward(self, x: torch.Tensor, return_layers: bool = False):
        layers = []
        for layer in self.convs:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                layers.append(x)
        out = self.linear(x.flatten(1))
        return (out, [*layers, out]) if return_layers else out


def _g_resnet5_layout(resolution: int) -> tuple[int, int]:
    """``(base size, doublings)``: ``g_resnet5`` starts at ``resolution / 32`` and doubles five times (four
    residual blocks, then the output deconvolution). Below 32 (tiny test networks) it starts at 1x1 and
    has one block fewer per halving."""
    levels = _check_resolution(resolution)
    return max(1, resolution // 32), min(5, levels)


class GResNet5Generator(nn.Module):
    """The MMD-GAN code's ``g_resnet5`` generator (CramerGAN and MMDGAN in the paper): a dense layer to
    16*ch maps at resolution/32, four up-sampling residual blocks (16ch -> 8ch -> 4ch -> 2ch -> ch), BN,
    ReLU, and a 5x5 stride-2 transposed convolution to RGB with a sigmoid, rescaled to [-1, 1]."""

    def __init__(self, resolution: int, z_dim: int, ch: int):
        super().__init__()
        self.base, doublings = _g_resnet5_layout(resolution)
        widths = [ch * 2 ** (doublings - 1 - i) for i in range(doublings)]  # 16ch, 8ch, 4ch, 2ch, ch
        self.base_ch = widths[0]
        self.dense = nn.Linear(z_dim, widths[0] * self.base**2)
        self.blocks = nn.Sequential(*(_GeneratorResBlock(a, b) for a, b in itertools.pairwise(widths)))
        self.bn = nn.BatchNorm2d(ch)
        # TF's deconv2d (5x5, stride 2, SAME padding) doubles the size; so does this padding.
        self.to_rgb = nn.ConvTranspose2d(ch, 3, 5, stride=2, padding=2, output_padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(-1, self.base_ch, self.base, self.base)
        x = self.blocks(x)
        # The original emits sigmoid pixels in [0, 1]; 2 * sigmoid - 1 is the same picture in gfp's [-1, 1].
        return 2 * torch.sigmoid(self.to_rgb(F.relu(self.bn(x)))) - 1


class DCGAN5Critic(nn.Module):
    """The MMD-GAN code's ``dcgan5`` discriminator, the critic of ``g_resnet5``: five 5x5 stride-2 convs
    (ch, 2ch, 4ch, 8ch, 16ch maps) with leaky ReLU 0.2, no normalisation (a gradient penalty is used), then
    a linear map to ``out_dim`` features. ``return_layers`` also gives every layer's output, which MMDGAN's
    L2 penalty needs."""

    def __init__(self, resolution: int, ch: int, out_dim: int):
        super().__init__()
        base, doublings = _g_resnet5_layout(resolution)
        widths = [3] + [ch * 2**i for i in range(doublings)]  # 3, ch, 2ch, 4ch, 8ch, 16ch
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 5, stride=2, padding=2) for a, b in itertools.pairwise(widths)
        )
        self.linear = nn.Linear(widths[-1] * base**2, out_dim)

    def forward(self, x: torch.Tensor, return_layers: bool = False):
        layers = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            layers.append(x)
        out = self.linear(x.flatten(1))
        return (out, [*layers, out]) if return_layers else out
