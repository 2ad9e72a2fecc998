"""Every registered extractor, baseline, GAN source, attack and command against the plugin contract
(gfcore.testing), parametrised over the registries: a new plugin gets these tests for free."""

from dataclasses import dataclass

import pytest
import torch

from gfcore.interfaces import Attack, Attributor, FitContext
from gfcore.testing import (
    ConformanceError,
    check_attack,
    check_attributor,
    check_gan_source,
    check_registered,
    registered_params,
)

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("kind,name", registered_params())
def test_registered_item_keeps_the_contract(kind, name):
    check_registered(kind, name)


def test_every_kind_of_builtin_is_covered():
    kinds = {param.values[0] for param in registered_params()}
    assert {"extractors", "baselines", "gan_sources", "commands"} <= kinds


# --- the kit finds what is broken ----------------------------------------------------------------------


class MeanColour(Attributor):
    name = "mean-colour"

    @dataclass
    class Config:
        pass

    def fit(self, train, val, ctx):
        colours, labels = (
            torch.from_numpy(train.images[:]).float().mean((2, 3)),
            torch.from_numpy(train.labels),
        )
        self.means = torch.stack([colours[labels == i].mean(0) for i in range(len(self.classes))])

    def logits(self, images):
        return -torch.cdist(images.float().mean((2, 3)), self.means)

    def state_dict(self):
        return {"means": self.means}

    def load_state_dict(self, tensors):
        self.means = tensors["means"]


class Noise(Attack):
    name = "noise"

    @dataclass
    class Config:
        amount: int = 8

    def apply(self, images, generator):
        noise = torch.randint(-self.config.amount, self.config.amount + 1, images.shape, generator=generator)
        return (images.int() + noise).clamp(0, 255).to(torch.uint8)


def test_the_kit_accepts_small_correct_classes():
    check_attributor(MeanColour)
    check_attack(Noise)


class Forgetful(MeanColour):
    """Forgets its state: a fresh instance given state_dict() predicts differently."""

    def load_state_dict(self, tensors):
        self.means = torch.zeros_like(tensors["means"])


class Restless(Noise):
    """Draws from the global RNG instead of the generator it is given."""

    def apply(self, images, generator):
        return super().apply(images, torch.Generator().manual_seed(int(torch.randint(1 << 30, ()))))


class InPlace(Noise):
    def apply(self, images, generator):
        images[:, 0] = 0
        return images


class Wide(Noise):
    def apply(self, images, generator):
        return super().apply(images, generator).float()


@pytest.mark.parametrize(
    "check,cls,message",
    [
        (check_attributor, Forgetful, "a fresh instance given state_dict"),
        (check_attack, Restless, "the same generator seed gave another output"),
        (check_attack, InPlace, "changed its input images in place"),
        (check_attack, Wide, "must return uint8"),
    ],
)
def test_the_kit_rejects_broken_classes(check, cls, message):
    with pytest.raises(ConformanceError, match=message):
        check(cls)


def test_the_kit_rejects_a_gan_without_a_last_checkpoint():
    from gfp_gans.sngan import SnGan

    class Silent(SnGan):
        def train(self, real, ctx, preview=None):
            super().train(real, FitContext(device=ctx.device, progress=ctx.progress, seed=ctx.seed), preview)

    with pytest.raises(ConformanceError, match="must call ctx.checkpoint at the last iteration"):
        check_gan_source(Silent)


def test_shipped_generator_names_are_unique_across_families():
    from gfcore.plugins import get_registries

    names = [n for e in get_registries().gan_sources.entries() for n in e.item.shipped_generators()]
    assert names and len(names) == len(set(names))


# --- gfp's own commands: the same command check as a plugin's ---------------------------------------------


def builtin_commands():
    from gfp.app import BUILTIN_COMMANDS, get_cli

    cli = get_cli()
    return [(name, cli.get_command(None, name)) for name in sorted(BUILTIN_COMMANDS)]


@pytest.mark.parametrize("name,command", builtin_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_builtin_command_keeps_the_contract(name, command):
    from gfcore.testing import check_command

    check_command(command, name)
