"""mt.Generator and generator= (PyTorch's torch.Generator, on numpy's streams)."""

from __future__ import annotations

import pytest

import microtensor as mt

SAMPLERS = {
    "randn": lambda g: mt.randn(4, generator=g),
    "rand": lambda g: mt.rand(4, generator=g),
    "randint": lambda g: mt.randint(0, 100, (4,), generator=g),
    "randperm": lambda g: mt.randperm(10, generator=g),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_seeded_generator_repeats_its_stream_and_leaves_the_default_alone(name):
    sample = SAMPLERS[name]
    mt.manual_seed(3)
    default_before = mt.randn(2).tolist()
    mt.manual_seed(3)
    first = sample(mt.Generator().manual_seed(5)).tolist()
    assert sample(mt.Generator().manual_seed(5)).tolist() == first
    assert mt.randn(2).tolist() == default_before  # the default stream did not move


def test_generators_answer_as_pytorchs(torch):
    assert mt.Generator().initial_seed() == torch.Generator().initial_seed()
    g = mt.Generator(device="cpu")
    assert g.manual_seed(11) is g and g.initial_seed() == 11 and g.device == "cpu"
    assert g.seed() == g.initial_seed()
    assert isinstance(mt.manual_seed(0), mt.Generator)
    with pytest.raises(RuntimeError, match="got device 'cuda'"):
        mt.Generator(device="cuda")
    with pytest.raises(TypeError, match="generator must be an mt.Generator, got int"):
        mt.randn(2, generator=0)


def test_randperm_is_a_permutation_of_the_asked_dtype():
    order = mt.randperm(50, dtype=mt.int32)
    assert order.dtype == mt.int32 and sorted(order.tolist()) == list(range(50))
