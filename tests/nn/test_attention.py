"""nn.Attention: the three scores against numpy, padding masks, gradients, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.testing import gradcheck

F64 = mt.float64


@st.composite
def attention_cases(draw, score=None):
    score = score or draw(st.sampled_from(["additive", "dot", "general"]), label="score")
    batch, seq = draw(st.integers(1, 3), label="batch"), draw(st.integers(1, 5), label="seq")
    key_size = draw(st.integers(1, 4), label="key_size")
    query_size = key_size if score == "dot" else draw(st.integers(1, 4), label="query_size")
    hidden = draw(st.none() | st.integers(1, 4), label="hidden") if score == "additive" else None
    lengths = draw(st.lists(st.integers(1, seq), min_size=batch, max_size=batch), label="lengths")
    mask = np.arange(seq)[None, :] < np.array(lengths)[:, None]
    mt.manual_seed(draw(st.integers(0, 100), label="seed"))
    attn = nn.Attention(query_size, key_size, score, hidden, dtype=F64)
    query = mt.randn(batch, query_size, dtype=F64, requires_grad=True)
    keys = mt.randn(batch, seq, key_size, dtype=F64, requires_grad=True)
    return attn, query, keys, mask


def numpy_attention(attn, query, keys, mask):
    q, k = query.array, keys.array
    if attn.score == "additive":
        hidden = np.tanh(k @ attn.key_weight.array.T + (q @ attn.query_weight.array.T)[:, None])
        scores = hidden @ attn.v.array
    elif attn.score == "general":
        scores = np.einsum("bq,qk,bsk->bs", q, attn.weight.array, k)
    else:
        scores = np.einsum("bk,bsk->bs", q, k)
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    return np.einsum("bs,bsk->bk", weights, k), weights


@given(case=attention_cases())
def test_attention_matches_numpy_and_ignores_padding(case):
    attn, query, keys, mask = case
    context, weights = attn(query, keys, mt.tensor(mask))
    expected_context, expected_weights = numpy_attention(attn, query, keys, mask)
    np.testing.assert_allclose(weights.array, expected_weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(context.array, expected_context, rtol=1e-12, atol=1e-14)
    assert (weights.array[~mask] == 0).all()
    np.testing.assert_allclose(weights.array.sum(1), 1.0, rtol=1e-12)
    # whatever sits in the padded keys changes nothing and gets no gradient
    noisy = keys.detach() + mt.tensor(np.where(mask[..., None], 0.0, 1e3))
    np.testing.assert_allclose(attn(query, noisy, mask)[0].array, context.array, rtol=1e-12)
    (context.sum() + (weights * weights).sum()).backward()
    assert not keys.grad.array[~mask].any()


@given(case=attention_cases())
def test_attention_gradients(case):
    attn, query, keys, mask = case
    params = list(attn.parameters())

    def both(query, keys, *weights):
        # gradcheck passes fresh tensors for the perturbed parameters: put them in place
        saved = dict(attn._parameters)
        attn._parameters.update(zip(saved, weights))
        try:
            context, weights = attn(query, keys, mask)
        finally:
            attn._parameters.update(saved)
        return mt.cat([context, weights], dim=1)

    assert gradcheck(both, [query, keys, *params])


def test_without_a_mask_every_position_counts():
    attn = nn.Attention(3, 3, "dot", dtype=F64)
    query, keys = mt.randn(2, 3, dtype=F64), mt.randn(2, 4, 3, dtype=F64)
    full = np.ones((2, 4), dtype=bool)
    np.testing.assert_array_equal(attn(query, keys)[1].array, attn(query, keys, full)[1].array)


def test_parameters_and_tags():
    attn = nn.Attention(4, 6, hidden_size=5)
    assert [(n, p.shape) for n, p in attn.named_parameters()] == [
        ("query_weight", (5, 4)), ("key_weight", (5, 6)), ("v", (5,))]
    assert nn.Attention(4, 6).hidden_size == 6
    assert [n for n, _ in nn.Attention(4, 6, "general").named_parameters()] == ["weight"]
    assert list(nn.Attention(6, 6, "dot").parameters()) == []
    model = nn.ModuleDict({"attn": nn.Attention(2, 2, "dot")})
    with mt.viz.record() as rec:
        context, _ = model["attn"](mt.randn(1, 2), mt.randn(1, 3, 2, requires_grad=True))
    graph = mt.viz.trace(context, rec)
    assert {node.tags.get("layer") for node in graph.nodes.values() if node.kind == "op"} == {"attn"}


def test_attention_errors_name_the_problem():
    with pytest.raises(ValueError, match="score='dot' needs query_size == key_size, got 3 and 4"):
        nn.Attention(3, 4, "dot")
    with pytest.raises(ValueError, match="score must be one of"):
        nn.Attention(3, 4, "cosine")
    with pytest.raises(ValueError, match="hidden_size is for score='additive' only"):
        nn.Attention(3, 4, "general", hidden_size=2)
    attn = nn.Attention(3, 4)
    with pytest.raises(ValueError, match=r"expected query of shape \(batch, 3\), got \(2, 4\)"):
        attn(mt.zeros(2, 4), mt.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=r"expected keys of shape \(2, seq, 4\)"):
        attn(mt.zeros(2, 3), mt.zeros(3, 5, 4))
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(2, 5\)"):
        attn(mt.zeros(2, 3), mt.zeros(2, 5, 4), mt.ones(2, 5))
    with pytest.raises(ValueError, match=r"mask rows \[1\] have no real position"):
        attn(mt.zeros(2, 3), mt.zeros(2, 5, 4), np.array([[True] * 5, [False] * 5]))
    with pytest.raises(TypeError, match="must share one dtype"):
        attn(mt.zeros(2, 3, dtype=F64), mt.zeros(2, 5, 4))


@given(case=attention_cases(score="additive"), steps=st.integers(1, 3))
def test_projected_keys_once_for_many_steps_give_the_same_values_and_gradients(case, steps):
    attn, query, keys, mask = case
    def total(projected):
        out = 0
        for k in range(steps):
            context, weights = attn(query * (k + 1), keys, mask, projected_keys=projected(keys))
            out = out + (context * context).sum() + weights[:, 0].sum()
        return out

    once = attn.project_keys(keys)
    pairs = [mt.grad(total(p), [keys, *attn.parameters()])
             for p in (lambda k: None, lambda k: once)]
    for got, want in zip(*pairs):
        np.testing.assert_allclose(got.array, want.array, rtol=1e-12, atol=1e-13)


def test_projected_keys_errors():
    attn = nn.Attention(3, 4, hidden_size=5)
    keys = mt.zeros(2, 6, 4)
    with pytest.raises(ValueError, match=r"projected_keys must be project_keys\(keys\), of shape "
                                         r"\(2, 6, 5\)"):
        attn(mt.zeros(2, 3), keys, projected_keys=mt.zeros(2, 6, 4))
    with pytest.raises(ValueError, match="project_keys is for score='additive'"):
        nn.Attention(4, 4, "dot").project_keys(keys)
