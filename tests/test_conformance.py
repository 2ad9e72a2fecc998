"""Every registered extractor, baseline, GAN source, attack and command against the plugin contract
(gfcore.testing), parametrised over the registries: a new plugin gets these tests for free."""

import pytest
import torch

from gfcore.testing import check_registered, registered_params


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny models are slower with several threads on a shared CPU.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind,name", registered_params())
def test_registered_item_keeps_the_contract(kind, name):
    check_registered(kind, name)


def test_every_kind_of_builtin_is_covered():
    kinds = {param.values[0] for param in registered_params()}
    assert {"extractors", "baselines", "gan_sources", "commands"} <= kinds
