"""``Embedding`` and ``F.embedding`` beside PyTorch: ``max_norm`` (the in-place renormalisation
of the looked-up rows), ``scale_grad_by_freq``, ``from_pretrained``, ``_weight``/``_freeze``,
positional arguments, repr, and the refusal of ``sparse=True``."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
import microtensor.nn.functional as F


def _lookup(lib, table, indices, upstream, **options):
    weight = lib.tensor(table, requires_grad=True)
    out = lib.nn.functional.embedding(lib.tensor(indices), weight, **options)
    (out * lib.tensor(upstream)).sum().backward()
    return [np.array(t.detach().numpy()) for t in (out, weight, weight.grad)]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(data=st.data(), rows=st.integers(1, 6), dim=st.integers(1, 4),
       max_norm=st.one_of(st.none(), st.floats(0.1, 3.0)),
       norm_type=st.sampled_from([1.0, 2.0, 3.5, math.inf]), by_freq=st.booleans(),
       padding=st.booleans(), dtype=st.sampled_from(["float64", "float32"]))
def test_embedding_options_match_pytorch(torch, data, rows, dim, max_norm, norm_type, by_freq,
                                         padding, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    table = (rng.standard_normal((rows, dim)) * 2).astype(dtype)
    shape = data.draw(st.sampled_from([(5,), (2, 3), (0,)]))
    indices = rng.integers(0, rows, shape)
    upstream = rng.standard_normal((*shape, dim)).astype(dtype)
    options = {"max_norm": max_norm, "norm_type": norm_type, "scale_grad_by_freq": by_freq,
               "padding_idx": 0 if padding else None}
    ours = _lookup(mt, table, indices, upstream, **options)
    theirs = _lookup(torch, table, indices, upstream, **options)
    tolerance = 1e-12 if dtype == "float64" else 2e-6
    for a, b in zip(ours, theirs):  # output, the weight after renormalising, its gradient
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


def test_max_norm_renormalises_the_weight_in_place_outside_autograd(torch):
    for lib in (mt, torch):
        layer = lib.nn.Embedding(3, 2, max_norm=1.0)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]))
        layer(lib.tensor([0, 1, 0]))
        assert layer.weight.is_leaf and layer.weight.grad_fn is None
        np.testing.assert_allclose(layer.weight.detach().numpy(),
                                   [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]], rtol=1e-6)


def test_sparse_gradients_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="sparse=True"):
        mt.nn.Embedding(3, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        F.embedding(mt.tensor([0]), mt.ones(3, 2), sparse=True)


def test_from_pretrained_shares_memory_and_freezes_as_pytorch(torch):
    for lib in (mt, torch):
        table = lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        frozen = lib.nn.Embedding.from_pretrained(table, padding_idx=1)
        assert not frozen.weight.requires_grad and frozen.padding_idx == 1
        assert frozen.weight[1].tolist() == [3.0, 4.0]  # the padding row is left as given
        with lib.no_grad():
            table[0, 0] = 10.0
        assert frozen(lib.tensor([0])).tolist() == [[10.0, 2.0]]
        trained = lib.nn.Embedding.from_pretrained(table, freeze=False, max_norm=1.0)
        assert trained.weight.requires_grad and trained.max_norm == 1.0
    with pytest.raises(ValueError, match="2-dimensional"):
        mt.nn.Embedding.from_pretrained(mt.ones(3))
    with pytest.raises(ValueError, match="does not match num_embeddings"):
        mt.nn.Embedding(4, 2, _weight=mt.ones(3, 2))


def test_positional_arguments_and_repr_as_pytorch(torch):
    args = (5, 3, -1, 2.0, 1.0, True)
    ours, theirs = mt.nn.Embedding(*args), torch.nn.Embedding(*args)
    for name in ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                 "scale_grad_by_freq", "sparse"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert repr(ours) == repr(theirs)
    assert repr(mt.nn.Embedding(4, 2)) == repr(torch.nn.Embedding(4, 2))
    frozen = mt.nn.Embedding(2, 2, None, None, 2.0, False, False, mt.ones(2, 2), True)
    assert not frozen.weight.requires_grad
    assert mt.nn.Embedding(2, 2, dtype=mt.float64, device="cpu").weight.dtype == np.float64
