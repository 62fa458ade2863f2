"""``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` against PyTorch: the same
inputs and weights in float64 give the same outputs, attention weights and gradients (of the
inputs, the float masks and every parameter), the same errors; float32 runs too; dropout is
compared by statistics, the streams being numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import gradcheck

F = mt.nn.functional
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _close(mine, theirs, tol=1e-10):
    """Values (nan where PyTorch has nan) to ``tol``; None where PyTorch gives None."""
    if theirs is None:
        assert mine is None
        return
    mine = mine.array if isinstance(mine, mt.Tensor) else mine
    np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=tol, atol=tol)


def _pair(torch, array, grad=True):
    """The same values as a microtensor and a PyTorch tensor (leaves, requiring grad for floats)."""
    grad = grad and array.dtype.kind == "f"
    return mt.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _backward(torch, mine, theirs, rng):
    """Backpropagate one random upstream gradient through both outputs."""
    upstream = rng.standard_normal(theirs.shape)
    (theirs * torch.tensor(upstream, dtype=theirs.dtype)).sum().backward()
    (mine * mt.tensor(upstream, dtype=mine.dtype)).sum().backward()


# ------------------------------------------------------------------ scaled_dot_product_attention
@st.composite
def sdpa_cases(draw):
    """Inputs of broadcast batch dims, a mask of one kind (with fully masked rows now and then),
    causal or not, a scale, grouped heads."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    length, source, size, value_size = (draw(st.integers(1, 4)) for _ in range(4))
    gqa = draw(st.booleans())
    if gqa:
        kv_heads = draw(st.integers(1, 2))
        heads = kv_heads * draw(st.integers(1, 3))
        q_batch, kv_batch = (2, heads), (2, kv_heads)
    else:
        q_batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
        kv_batch = tuple(1 if draw(st.booleans()) else n for n in q_batch)  # broadcast
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "float-inf", "causal"]))
    scores_shape = (*q_batch, length, source)
    mask_shape = scores_shape[draw(st.integers(0, len(scores_shape) - 2)):]
    mask = None
    if mask_kind == "bool":
        mask = rng.random(mask_shape) < 0.7  # some rows wholly False
    elif mask_kind.startswith("float"):
        mask = rng.standard_normal(mask_shape)
        if mask_kind == "float-inf":
            mask[rng.random(mask_shape) < 0.4] = -np.inf
    return dict(query=rng.standard_normal((*q_batch, length, size)),
                key=rng.standard_normal((*kv_batch, source, size)),
                value=rng.standard_normal((*kv_batch, source, value_size)),
                attn_mask=mask, is_causal=mask_kind == "causal", gqa=gqa, seed=seed,
                scale=draw(st.sampled_from([None, 0.3, 2.0])))


@fixture_ok
@given(case=sdpa_cases())
def test_sdpa_matches_pytorch_values_and_gradients(torch, case):
    rng = np.random.default_rng(case["seed"])
    q, tq = _pair(torch, case["query"])
    k, tk = _pair(torch, case["key"])
    v, tv = _pair(torch, case["value"])
    options = dict(is_causal=case["is_causal"], scale=case["scale"], enable_gqa=case["gqa"])
    mask = tmask = None
    if case["attn_mask"] is not None:
        mask, tmask = _pair(torch, case["attn_mask"])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **options)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask,
                                                                **options)
    _close(out, expected)
    assert out.dtype == mt.float64
    _backward(torch, out, expected, rng)
    for mine, theirs in ((q, tq), (k, tk), (v, tv)) + (((mask, tmask),) if
                                                       mask is not None and mask.requires_grad
                                                       else ()):
        _close(mine.grad, theirs.grad)


def test_sdpa_fully_masked_rows_are_zeros_with_zero_gradient(torch):
    """PyTorch's CPU kernels give 0 (not nan) for a query that may attend to no key."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    inf_mask = np.where(mask, 0.0, -np.inf)
    for attn_mask in (mask, inf_mask):
        (q, tq), (k, tk), (v, tv) = (_pair(torch, a) for a in arrays)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mt.tensor(attn_mask))
        expected = torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, attn_mask=torch.tensor(attn_mask))
        assert out[:, 1].tolist() == [[0.0] * 4] * 2
        _close(out, expected)
        _backward(torch, out, expected, rng)
        assert not q.grad.array[:, 1].any()
        _close(q.grad, tq.grad)


def test_sdpa_gradcheck_with_masks():
    rng = np.random.default_rng(1)
    q, k, v = (mt.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    bias = mt.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    keep = mt.tensor(rng.random((2, 3, 5)) < 0.6)
    assert gradcheck(lambda *xs: F.scaled_dot_product_attention(*xs[:3], attn_mask=xs[3]),
                     [q, k, v, bias])
    assert gradcheck(lambda *xs: F.scaled_dot_product_attention(*xs, attn_mask=keep), [q, k, v])
    assert gradcheck(lambda *xs: F.scaled_dot_product_attention(*xs, is_causal=True), [q, k, v])


def test_sdpa_float32_matches_pytorch(torch):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 2, 5, 8), (2, 2, 6, 8),
                                                                  (2, 2, 6, 3))]
    (q, tq), (k, tk), (v, tv) = (_pair(torch, a) for a in arrays)
    mask = rng.random((5, 6)) < 0.8
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mt.tensor(mask))
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv,
                                                                attn_mask=torch.tensor(mask))
    assert out.dtype == mt.float32
    _close(out, expected, 1e-5)
    _backward(torch, out, expected, rng)
    _close(q.grad, tq.grad, 1e-4)
    # a float32 mask is taken with float64 inputs, as PyTorch (and the result stays float64)
    q64 = mt.tensor(arrays[0], dtype=mt.float64)
    assert F.scaled_dot_product_attention(q64, q64, q64, attn_mask=mt.zeros(5, 5)).dtype == \
        mt.float64


def _dropout_statistics(sdpa, tensor, p):
    """Uniform weights over 50 keys, values all 1: each output is the kept share / (1 - p)."""
    out = sdpa(tensor(np.zeros((400, 4))), tensor(np.zeros((50, 4))),
               tensor(np.ones((50, 1))), dropout_p=p)
    out = np.asarray(out.tolist())
    return out.mean(), out.std()


def test_sdpa_dropout_draws_from_the_default_generator(torch):
    p = 0.3
    mine = _dropout_statistics(F.scaled_dot_product_attention, mt.tensor, p)
    theirs = _dropout_statistics(torch.nn.functional.scaled_dot_product_attention,
                                 torch.tensor, p)
    spread = np.sqrt(p / (1 - p) / 50)  # of each output: 50 kept-or-not weights
    for (mean, std) in (mine, theirs):
        assert abs(mean - 1) < 4 * spread / np.sqrt(400)
        assert abs(std - spread) < 0.2 * spread
    mt.manual_seed(5)
    first = F.scaled_dot_product_attention(mt.ones(3, 2), mt.ones(4, 2), mt.ones(4, 2),
                                           dropout_p=0.5)
    mt.manual_seed(5)
    again = F.scaled_dot_product_attention(mt.ones(3, 2), mt.ones(4, 2), mt.ones(4, 2),
                                           dropout_p=0.5)
    assert first.tolist() == again.tolist()


SDPA_ERRORS = [
    ("dtypes differ", dict(key=np.zeros((2, 3, 4), np.float32))),
    ("1-d query", dict(query=np.zeros(4))),
    ("feature sizes differ", dict(key=np.zeros((2, 3, 5)))),
    ("mask and causal", dict(attn_mask=np.ones((3, 3), bool), is_causal=True)),
    ("integer mask", dict(attn_mask=np.zeros((3, 3), np.int64))),
    ("float16 mask", dict(attn_mask=np.zeros((3, 3), np.float16))),
    ("mask does not broadcast", dict(attn_mask=np.ones((4, 3), bool))),
    ("dropout above 1", dict(dropout_p=1.5)),
    ("heads do not divide", dict(query=np.zeros((2, 3, 3, 4)), key=np.zeros((2, 2, 3, 4)),
                                 value=np.zeros((2, 2, 3, 4)), enable_gqa=True)),
]


@pytest.mark.parametrize(("why", "change"), SDPA_ERRORS, ids=[w for w, _ in SDPA_ERRORS])
def test_sdpa_refuses_what_pytorch_refuses(torch, why, change):
    args = dict(query=np.zeros((2, 3, 4)), key=np.zeros((2, 3, 4)), value=np.zeros((2, 3, 4)))
    args.update(change)
    tensors = [k for k, v in args.items() if isinstance(v, np.ndarray)]
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(
            **{k: torch.tensor(v) if k in tensors else v for k, v in args.items()})
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(
            **{k: mt.tensor(v) if k in tensors else v for k, v in args.items()})


# --------------------------------------------------------------------------- MultiheadAttention
def _twins(torch, seed, **options):
    """The same MultiheadAttention in both libraries, float64, PyTorch's weights copied over
    (drawn away from the init so that zero biases cannot hide a missing term)."""
    theirs = torch.nn.MultiheadAttention(**options, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float64) * 0.5)
    mine = mt.nn.MultiheadAttention(**options, dtype=mt.float64)
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


@st.composite
def mha_cases(draw):
    heads = draw(st.sampled_from([1, 2, 3]))
    embed = heads * draw(st.integers(1, 3))
    options = dict(embed_dim=embed, num_heads=heads, bias=draw(st.booleans()),
                   add_bias_kv=draw(st.booleans()), add_zero_attn=draw(st.booleans()),
                   batch_first=draw(st.booleans()),
                   kdim=draw(st.sampled_from([None, 2])), vdim=draw(st.sampled_from([None, 3])))
    batched = draw(st.booleans())
    batch = draw(st.integers(1, 3)) if batched else 1
    length, source = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    self_attention = draw(st.booleans()) and options["kdim"] is options["vdim"] is None
    source = length if self_attention else source
    extra = int(options["add_bias_kv"]) + int(options["add_zero_attn"])
    masks = {}
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["bool", "float"]))  # one kind for both masks, as PyTorch asks
    if draw(st.booleans()):
        masks["key_padding_mask"] = rng.random((batch, source)[not batched:]) < 0.3
    if draw(st.booleans()):
        shape = draw(st.sampled_from([(length, source), (batch * heads, length, source)]))
        masks["attn_mask"] = rng.random(shape) < 0.3
    if kind == "float":
        masks = {name: np.where(m, -np.inf, rng.standard_normal(m.shape))
                 for name, m in masks.items()}
    call = dict(need_weights=draw(st.booleans()), average_attn_weights=draw(st.booleans()))
    if "attn_mask" in masks and draw(st.booleans()):  # is_causal: a hint about attn_mask
        call["is_causal"] = True
        causal = np.triu(np.ones((length, source), dtype=bool), 1)
        masks["attn_mask"] = causal if kind == "bool" else np.where(causal, -np.inf, 0.0)
    def sequence(n, size):
        return (n, batch, size) if not batched or not options["batch_first"] else (batch, n, size)
    shapes = [sequence(length, embed), sequence(source, options["kdim"] or embed),
              sequence(source, options["vdim"] or embed)]
    if not batched:
        shapes = [(s[0], s[2]) for s in shapes]
    return dict(options=options, shapes=shapes, masks=masks, call=call, extra=extra,
                self_attention=self_attention, seed=draw(st.integers(0, 2**16)),
                training=draw(st.booleans()))


@fixture_ok
@given(case=mha_cases())
def test_multihead_attention_matches_pytorch(torch, case):
    mine, theirs = _twins(torch, case["seed"], **case["options"])
    mine.train(case["training"])
    theirs.train(case["training"])
    rng = np.random.default_rng(case["seed"])
    inputs = [_pair(torch, rng.standard_normal(s)) for s in case["shapes"]]
    if case["self_attention"]:  # one tensor as query, key and value, as PyTorch's self-attention
        inputs = [inputs[0]] * 3
    masks = {name: _pair(torch, m) for name, m in case["masks"].items()}
    out, weights = mine(*(m for m, _ in inputs), **{n: m for n, (m, _) in masks.items()},
                        **case["call"])
    expected, expected_weights = theirs(*(t for _, t in inputs),
                                        **{n: t for n, (_, t) in masks.items()}, **case["call"])
    _close(out, expected)
    _close(weights, expected_weights)
    _backward(torch, out, expected, rng)
    for (m, t) in inputs + list(masks.values()):
        if t.requires_grad:
            _close(m.grad, t.grad)
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(theirs_params)
    for name, param in mine.named_parameters():
        _close(param.grad, theirs_params[name].grad)


def test_parameters_state_dict_and_init_as_pytorch(torch):
    for options in (dict(embed_dim=6, num_heads=2), dict(embed_dim=6, num_heads=3, kdim=4,
                    vdim=5, add_bias_kv=True, bias=False)):
        mine = mt.nn.MultiheadAttention(**options)
        theirs = torch.nn.MultiheadAttention(**options)
        assert [(n, t.shape) for n, t in mine.state_dict().items()] == \
            [(n, tuple(t.shape)) for n, t in theirs.state_dict().items()]
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                     "in_proj_bias", "bias_k", "bias_v"):
            assert (getattr(mine, name) is None) == (getattr(theirs, name) is None)
        theirs.load_state_dict({n: torch.tensor(t.array) for n, t in mine.state_dict().items()})
        mine.load_state_dict(theirs.state_dict())
        assert isinstance(mine.out_proj, mt.nn.Linear)
    mine = mt.nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ over the packed (3E, E) weight
    weight = mine.in_proj_weight.array
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert not mine.in_proj_bias.array.any() and not mine.out_proj.bias.array.any()
    out_bound = 1 / np.sqrt(64)  # Linear's own init, kept as PyTorch keeps it
    assert np.abs(mine.out_proj.weight.array).max() <= out_bound
    assert abs(mine.bias_k.array.std() - np.sqrt(2 / 128)) < 0.05  # xavier_normal_ on (1, 1, E)


def test_fully_masked_rows_nan_with_weights_zeros_without(torch):
    """As PyTorch's slow (differentiable) path: weights are a softmax of -infs, so nan; without
    weights scaled_dot_product_attention gives zeros."""
    padding = np.array([[False, False, False], [True, True, True]])
    for need_weights in (True, False):
        mine, theirs = _twins(torch, 0, embed_dim=4, num_heads=2)
        (x, tx) = _pair(torch, np.random.default_rng(0).standard_normal((3, 2, 4)))
        out, _ = mine(x, x, x, key_padding_mask=mt.tensor(padding), need_weights=need_weights)
        expected, _ = theirs(tx, tx, tx, key_padding_mask=torch.tensor(padding),
                             need_weights=need_weights)
        assert np.isnan(out.array[:, 1]).all() == need_weights
        _close(out, expected)
        _backward(torch, out, expected, np.random.default_rng(1))
        _close(x.grad, tx.grad)
        _close(mine.in_proj_weight.grad, theirs.in_proj_weight.grad)


def test_float32_smoke_against_pytorch(torch):
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    mine = mt.nn.MultiheadAttention(8, 2, batch_first=True)
    mine.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    out, weights = mine(mt.tensor(x), mt.tensor(x), mt.tensor(x), attn_mask=mt.tensor(mask))
    expected, expected_weights = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x),
                                        attn_mask=torch.tensor(mask))
    assert out.dtype == mt.float32
    _close(out, expected, 1e-5)
    _close(weights, expected_weights, 1e-5)


def test_dropout_in_training_only():
    attn = mt.nn.MultiheadAttention(4, 2, dropout=0.5)
    x = mt.randn(6, 3, 4)
    _, weights = attn(x, x, x, average_attn_weights=False)
    kept = weights.array[weights.array > 0]
    assert (weights.array == 0).mean() > 0.3  # dropped weights are returned dropped, as PyTorch
    assert kept.max() > 1 / 6  # the rest scaled by 1 / (1 - p)
    attn.eval()
    first, _ = attn(x, x, x)
    assert first.tolist() == attn(x, x, x)[0].tolist()
    _, weights = attn(x, x, x)
    np.testing.assert_allclose(weights.array.sum(-1), 1, rtol=1e-6)


def test_drawable_by_viz():
    attn = mt.nn.MultiheadAttention(4, 2)
    model = mt.nn.ModuleDict({"attn": attn})
    x = mt.randn(3, 1, 4, requires_grad=True)
    out, _ = model["attn"](x, x, x)
    graph = mt.viz.trace(out.sum())
    names = {node.name for node in graph.nodes.values()}
    assert {"attn.in_proj_weight", "scores", "weights", "attn.out_proj.weight"} <= names
    assert "digraph" in mt.viz.draw_graph(out.sum()).source


MHA_ERRORS = [
    ("2-d attn_mask of the wrong shape", dict(attn_mask=np.zeros((3, 4), bool)), RuntimeError),
    ("3-d attn_mask of the wrong shape", dict(attn_mask=np.zeros((3, 3, 3), bool)), RuntimeError),
    ("causal hint without mask", dict(is_causal=True), RuntimeError),
    ("integer mask", dict(attn_mask=np.zeros((3, 3), np.int64)), AssertionError),
    ("key_padding_mask of the wrong shape", dict(key_padding_mask=np.zeros((2, 4), bool)),
     AssertionError),
    ("4-d query", dict(query=np.zeros((1, 3, 2, 4))), AssertionError),
    ("wrong embedding size", dict(query=np.zeros((3, 2, 5))), AssertionError),
]


@pytest.mark.parametrize(("why", "change", "error"), MHA_ERRORS, ids=[w for w, *_ in MHA_ERRORS])
def test_multihead_attention_refuses_what_pytorch_refuses(torch, why, change, error):
    mine, theirs = _twins(torch, 0, embed_dim=4, num_heads=2)
    args = dict(query=np.zeros((3, 2, 4)), key=np.zeros((3, 2, 4)), value=np.zeros((3, 2, 4)))
    args.update(change)
    with pytest.raises(error):
        theirs(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                  for k, v in args.items()})
    with pytest.raises((error, TypeError), match="MultiheadAttention"):
        mine(**{k: mt.tensor(v) if isinstance(v, np.ndarray) else v for k, v in args.items()})


def test_constructor_errors():
    with pytest.raises(ValueError, match="greater than 0"):
        mt.nn.MultiheadAttention(0, 2)
    with pytest.raises(AssertionError, match="divisible"):
        mt.nn.MultiheadAttention(5, 2)
    with pytest.raises(RuntimeError, match="cuda"):
        mt.nn.MultiheadAttention(4, 2, device="cuda")
