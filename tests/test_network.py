import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gfcore import AttributionNet
from gfcore.errors import GfpError
from gfcore.nn.equalized import EqualizedConv2d, EqualizedLinear


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_paper_at_128_with_5_classes():
    assert count(AttributionNet(128, 5)) == 8_913_797


@pytest.mark.parametrize("resolution", [16, 32, 64, 128, 256])
def test_shapes_at_every_resolution(resolution):
    net = AttributionNet(resolution, 4, width=0.125)
    x = torch.zeros(2, 3, resolution, resolution)
    assert net(x).shape == (2, 4)
    assert net.image_fingerprint(x).shape == (2, net.fingerprint_dim)


def test_channel_layout_follows_nf_rule_at_128():
    convs = [m for m in AttributionNet(128, 5).features if isinstance(m, EqualizedConv2d)]
    assert [c.weight.shape[0] for c in convs] == [16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512]
    assert convs[0].weight.shape[1] == 3  # no fromRGB: the first conv reads RGB


def test_no_normalisation_layers_and_avgpool_downsampling():
    net = AttributionNet(64, 3)
    kinds = {type(m) for m in net.modules()}
    assert not kinds & {nn.BatchNorm2d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm, nn.Dropout}
    assert nn.AvgPool2d in kinds


def test_fingerprint_dim_is_512_or_number_of_classes():
    assert AttributionNet(32, 5).fingerprint_dim == 512
    assert AttributionNet(32, 600, width=1.0).fingerprint_dim == 600


def test_equalised_lr_is_a_runtime_scale_with_reflect_padding():
    torch.manual_seed(0)
    conv = EqualizedConv2d(8, 4, 3, padding_mode="reflect")
    assert abs(conv.weight.std().item() - 1.0) < 0.15  # stored as N(0, 1)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 9))
    x = torch.randn(1, 8, 6, 6)
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight * conv.scale, conv.bias)
    assert torch.allclose(conv(x), expected)
    # the scale is applied in forward: changing it changes the output without touching the parameter
    conv.scale *= 2
    assert torch.allclose(conv(x), 2 * expected, atol=1e-5)


def test_last_layer_has_gain_one_and_hidden_layers_gain_sqrt2():
    net = AttributionNet(32, 5)
    assert net.dense2.scale == pytest.approx(1 / math.sqrt(512))
    assert net.dense1.scale == pytest.approx(math.sqrt(2) / math.sqrt(512 * 16))
    assert isinstance(net.dense2, EqualizedLinear)


def test_biases_start_at_zero():
    net = AttributionNet(32, 3)
    assert all(
        float(m.bias.detach().abs().sum()) == 0
        for m in net.modules()
        if hasattr(m, "bias") and m.bias is not None
    )


@pytest.mark.parametrize("resolution", [8, 48, 512])
def test_unsupported_resolution_is_a_clear_error(resolution):
    with pytest.raises(GfpError, match="power of two"):
        AttributionNet(resolution, 3)
