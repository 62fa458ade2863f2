"""Issue 18, second round: where nn did something else than PyTorch without saying so.

Half-precision gradient clipping, the dtype and target checks of LayerNorm and the losses,
and the state_dict of a model that ties a module or a parameter under two names. Each test
states PyTorch 2.13's numbers where they can be written down; the ones that run PyTorch
itself skip (with one line saying why) when it is not installed.
"""

import math

import numpy as np
import pytest

import microtensor as mt
import microtensor.nn.functional as F
from microtensor.nn.utils import clip_grad_norm_

# ---------------------------------------------------------------- 4: clip_grad_norm_ in half

def with_grads(grads, dtypes):
    """A parameter per gradient, each holding that gradient in its dtype."""
    params = []
    for g, dtype in zip(grads, dtypes):
        p = mt.zeros(np.shape(g), dtype=dtype, requires_grad=True)
        p.grad = mt.tensor(g, dtype=dtype)
        params.append(p)
    return params


def test_clip_half_gradients_whose_squares_overflow_half():
    # 300² + 400² = 250000 is past float16's largest (65504): the sum of squares runs in float32.
    (p,) = with_grads([[300.0, 400.0]], [mt.float16])
    total = clip_grad_norm_(p, max_norm=1.0)
    assert total.dtype == mt.float16 and total.item() == 500.0
    assert p.grad.dtype == mt.float16
    assert p.grad.tolist() == [0.60009765625, 0.80029296875]  # PyTorch's, bit for bit


def test_clip_half_gradients_whose_squares_underflow_half():
    # (1e-4)² is below float16's smallest subnormal: today's norm was 0.
    (p,) = with_grads([[1e-4, 1e-4]], [mt.float16])
    total = clip_grad_norm_(p, max_norm=1.0)
    assert total.dtype == mt.float16 and total.item() == 0.00014150142669677734
    assert p.grad.tolist() == [0.00010001659393310547] * 2  # under max_norm: untouched


@pytest.mark.parametrize("norm_type, norm, grads", [
    (math.inf, 400.0, [0.75, 1.0]),
    (1.0, 700.0, [0.428466796875, 0.5712890625]),
    (2.0, 500.0, [0.60009765625, 0.80029296875]),
])
def test_clip_half_gradients_other_norms(norm_type, norm, grads):
    (p,) = with_grads([[300.0, 400.0]], [mt.float16])
    total = clip_grad_norm_(p, 1.0, norm_type=norm_type)
    assert total.dtype == mt.float16 and total.item() == norm and p.grad.tolist() == grads


def test_clip_half_norm_past_half_range_is_inf_and_refused_if_asked():
    # The norm itself (84852.8) does not fit in float16: PyTorch returns inf and zeroes.
    (p,) = with_grads([[60000.0, 60000.0]], [mt.float16])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert p.grad.tolist() == [60000.0, 60000.0]  # a refused clip changes nothing
    total = clip_grad_norm_(p, 1.0)
    assert total.dtype == mt.float16 and total.item() == math.inf
    assert p.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtypes, norm, dtype, grads", [
    # Each gradient's norm is taken in its own dtype, then the norms are promoted together.
    ((mt.float16, mt.float32), 1300.0, mt.float32, [[0.230712890625, 0.3076171875],
                                                   [0.9230769276618958]]),
    ((mt.float32, mt.float16), 1300.0, mt.float32, [[0.23076923191547394, 0.3076923191547394],
                                                   [0.9228515625]]),
    ((mt.float16, mt.float64), 1300.0, mt.float64, [[0.230712890625, 0.3076171875],
                                                   [0.9230769223668639]]),
    ((mt.float32, mt.float64), 1300.0, mt.float64, [[0.23076923191547394, 0.3076923191547394],
                                                   [0.9230769223668639]]),
])
def test_clip_mixed_dtypes_promote_the_norm(dtypes, norm, dtype, grads):
    params = with_grads([[300.0, 400.0], [1200.0]], dtypes)
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == dtype and total.item() == norm
    assert [p.grad.tolist() for p in params] == grads
    assert [p.grad.dtype for p in params] == list(dtypes)


def test_clip_mixed_dtypes_a_half_norm_that_overflows_stays_inf():
    # The float16 gradient's own norm is inf before the float32 one joins it (PyTorch too).
    a, b = with_grads([[60000.0, 60000.0], [1.0]], [mt.float16, mt.float32])
    assert clip_grad_norm_([a, b], 1.0).item() == math.inf
    a, b = with_grads([[60000.0, 60000.0], [1.0]], [mt.float32, mt.float16])
    total = clip_grad_norm_([a, b], 1.0)
    assert total.dtype == mt.float32 and total.item() == pytest.approx(84852.8125, rel=1e-7)
    assert b.grad.tolist() == [1.1801719665527344e-05]


def test_clip_without_gradients_returns_zero_in_the_default_dtype():
    mt.set_default_dtype(mt.float64)
    total = clip_grad_norm_([mt.zeros(2, requires_grad=True)], 1.0)
    assert total.dtype == mt.float64 and total.item() == 0.0


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("dtypes", [("float16",), ("float16", "float16"), ("float16", "float32"),
                                    ("float32", "float16"), ("float64", "float16"),
                                    ("float32", "float64"), ("float32", "float32")])
@pytest.mark.parametrize("seed", range(4))
def test_clip_matches_pytorch(torch, norm_type, dtypes, seed):
    rng = np.random.default_rng(seed)
    scale = [1e-5, 1.0, 300.0, 3e4][seed]  # underflow, plain, overflow of half's squares, of half
    grads = [np.clip(rng.standard_normal(int(rng.integers(1, 60))) * scale, -6e4, 6e4)
             for _ in dtypes]
    max_norm = float(rng.choice([0.5, 1.0, 7.0]))
    ours = with_grads(grads, dtypes)
    theirs = []
    for g, dtype in zip(grads, dtypes):
        p = torch.zeros(len(g), dtype=getattr(torch, dtype), requires_grad=True)
        p.grad = torch.tensor(g, dtype=getattr(torch, dtype))
        theirs.append(p)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert str(total.dtype) == str(expected.dtype).removeprefix("torch.")
    assert [p.grad.dtype for p in ours] == [p.dtype for p in ours]
    if set(dtypes) == {"float16"}:
        # Rounded to half, the float32 sums agree whatever their order: bit for bit.
        np.testing.assert_array_equal(total.array, expected.numpy())  # nan equals nan here
        for p, q in zip(ours, theirs):
            np.testing.assert_array_equal(p.grad.array, q.grad.numpy())
        return
    # float32 sums in another order than PyTorch's vectorised ones: an ulp or two apart.
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(),
                                   rtol=1e-3 if p.dtype == mt.float16 else 1e-6)


# ------------------------------------------- 8: dtype and target checks PyTorch makes

FLOATS = [mt.float16, mt.float32, mt.float64]


def test_layer_norm_refuses_an_input_of_another_dtype_than_its_parameters():
    norm = mt.nn.LayerNorm(4)  # float32 weight and bias
    with pytest.raises(mt.DtypeError, match=r"LayerNorm: .*input float64.*weight and bias "
                                            r"float32.*\.to\(mt\.float32\)"):
        norm(mt.ones(2, 4, dtype=mt.float64))
    with pytest.raises(RuntimeError, match="LayerNorm"):  # what PyTorch's users catch
        norm.double()(mt.ones(2, 4))
    with pytest.raises(RuntimeError, match="LayerNorm: .*input float64.*weight float32"):
        mt.nn.LayerNorm(4, bias=False)(mt.ones(2, 4, dtype=mt.float64))
    with pytest.raises(RuntimeError, match="LayerNorm: .*input float32.*float16"):
        mt.nn.LayerNorm(4, dtype=mt.float16)(mt.ones(2, 4))


def test_layer_norm_without_parameters_takes_any_floating_input():
    out = mt.nn.LayerNorm(4, elementwise_affine=False)(mt.ones(2, 4, dtype=mt.float64))
    assert out.dtype == mt.float64


def test_layer_norm_refuses_integer_input():
    for affine in (True, False):
        with pytest.raises(mt.DtypeError, match="LayerNorm: .*floating point.*int64"):
            mt.nn.LayerNorm(4, elementwise_affine=affine)(mt.ones(2, 4, dtype=mt.int64))


def test_layer_norm_refuses_a_weight_and_bias_of_two_dtypes():
    norm = mt.nn.LayerNorm(4)
    norm.bias = mt.nn.Parameter(mt.zeros(4, dtype=mt.float64))
    with pytest.raises(mt.DtypeError, match="LayerNorm: .*weight float32.*bias float64"):
        norm(mt.ones(2, 4))


def test_layer_norm_half_input_with_float_parameters_stays_half():
    # PyTorch's mixed precision on the CPU: float16 input, float32 weight and bias, float16 out.
    norm = mt.nn.LayerNorm(4)
    x = mt.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=mt.float16, requires_grad=True)
    out = norm(x)
    assert out.dtype == mt.float16
    assert out.tolist() == [[-1.341796875, -0.447265625, 0.447265625, 1.341796875]]
    out.sum().backward()
    assert x.grad.dtype == mt.float16 and norm.weight.grad.dtype == mt.float32


def test_layer_norm_function_checks_weight_and_bias_apart():
    from microtensor.nn.normalization import layer_norm
    x = mt.ones(2, 4)
    with pytest.raises(mt.DtypeError, match="layer_norm: .*input float32.*weight float64"):
        layer_norm(x, (4,), mt.ones(4, dtype=mt.float64))
    with pytest.raises(mt.DtypeError, match="layer_norm: .*input float32.*bias float64"):
        layer_norm(x, (4,), None, mt.zeros(4, dtype=mt.float64))
    assert layer_norm(x, (4,), mt.ones(4), mt.zeros(4)).dtype == mt.float32


@pytest.mark.parametrize("x_dtype", FLOATS)
@pytest.mark.parametrize("w_dtype", [None, *FLOATS])
@pytest.mark.parametrize("b_dtype", [None, *FLOATS])
def test_layer_norm_dtypes_as_pytorch(torch, x_dtype, w_dtype, b_dtype):
    from microtensor.nn.normalization import layer_norm
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)

    def ours():
        return layer_norm(mt.tensor(x, dtype=x_dtype), (4,),
                          None if w_dtype is None else mt.tensor(w, dtype=w_dtype),
                          None if b_dtype is None else mt.tensor(b, dtype=b_dtype))

    def theirs():
        def t(a, d):
            return None if d is None else torch.tensor(a, dtype=getattr(torch, str(d)))
        return torch.nn.functional.layer_norm(t(x, x_dtype), (4,), t(w, w_dtype), t(b, b_dtype))

    try:
        expected = theirs()
    except RuntimeError:
        with pytest.raises(RuntimeError):
            ours()
        return
    out = ours()
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.array.astype(np.float64), expected.double().numpy(),
                               rtol={mt.float16: 2e-3, mt.float32: 1e-5, mt.float64: 1e-12}[x_dtype],
                               atol=1e-3 if x_dtype == mt.float16 else 1e-6)


def scores_and_classes(dtype=mt.float32):
    return mt.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=dtype), mt.tensor([2, 0])


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss",
                                  "label_smoothing"])
def test_class_weight_must_have_the_input_dtype(loss):
    scores, classes = scores_and_classes()

    def call(weight):
        if loss == "label_smoothing":
            return mt.nn.functional.cross_entropy(scores, classes, weight, label_smoothing=0.1)
        if loss[0].isupper():
            return getattr(mt.nn, loss)(weight)(scores, classes)
        return getattr(mt.nn.functional, loss)(scores, classes, weight)

    op = "nll_loss" if "nll" in loss.lower() else "cross_entropy"
    with pytest.raises(mt.DtypeError, match=rf"{op}: weight has dtype float64 but the input "
                                            r"float32.*weight\.to\(mt\.float32\)"):
        call(mt.ones(3, dtype=mt.float64))
    with pytest.raises(RuntimeError, match=f"{op}: weight has dtype int64"):
        call(mt.ones(3, dtype=mt.int64))
    assert call(mt.ones(3)).dtype == mt.float32


def test_class_weight_of_the_wrong_shape_is_a_runtime_error_too():
    scores, classes = scores_and_classes()
    with pytest.raises(mt.ShapeError, match=r"nll_loss: weight must be a floating tensor of shape"):
        mt.nn.functional.nll_loss(scores, classes, mt.ones(2))


def test_class_weight_as_a_list_reads_as_mt_tensor_does():
    # A list of Python floats is float32 (the default dtype), so it fits float32 scores.
    scores, classes = scores_and_classes()
    out = mt.nn.functional.cross_entropy(scores, classes, [1.0, 2.0, 0.5])
    assert out.item() == mt.nn.functional.cross_entropy(scores, classes,
                                                        mt.tensor([1.0, 2.0, 0.5])).item()
    probs = mt.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    with pytest.raises(mt.ShapeError, match=r"cross_entropy: weight must be .* shape \(3,\)"):
        mt.nn.functional.cross_entropy(scores, probs, mt.ones(2))


def test_class_weight_with_probability_targets_promotes_as_pytorch():
    # No check there: PyTorch multiplies weight into the loss, so float64 weight gives float64.
    scores = scores_and_classes()[0]
    probs = mt.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    out = mt.nn.functional.cross_entropy(scores, probs, mt.tensor([1.0, 2.0, 0.5], dtype=mt.float64))
    assert out.dtype == mt.float64
    assert out.item() == pytest.approx(2.06423556804657, rel=1e-6)
    out = mt.nn.functional.cross_entropy(scores, probs, mt.tensor([1, 2, 1]))  # int: promoted
    assert out.dtype == mt.float32


def test_probability_targets_refuse_an_ignore_index():
    scores = scores_and_classes()[0]
    probs = mt.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    for call in (lambda: mt.nn.functional.cross_entropy(scores, probs, ignore_index=1),
                 lambda: mt.nn.CrossEntropyLoss(ignore_index=0)(scores, probs)):
        with pytest.raises(RuntimeError, match=r"cross_entropy: ignore_index=[01] is not supported "
                                               r"for a floating point \(probability\) target"):
            call()
    # A negative ignore_index never names a class: PyTorch lets it pass (it has nothing to do).
    same = mt.nn.functional.cross_entropy(scores, probs, ignore_index=-1)
    assert same.item() == mt.nn.functional.cross_entropy(scores, probs).item()


def test_probability_targets_of_no_rows_average_to_nan():
    out = mt.nn.functional.cross_entropy(mt.zeros(0, 3), mt.zeros(0, 3))
    assert math.isnan(out.item())


def test_an_integer_target_of_the_input_shape_is_refused_as_pytorch():
    with pytest.raises(mt.DtypeError, match=r"cross_entropy: a target of the input's shape "
                                            r"\(2, 3\) holds class probabilities.*int64"):
        mt.nn.functional.cross_entropy(mt.zeros(2, 3), mt.zeros(2, 3, dtype=mt.int64))


@pytest.mark.parametrize("dtype", [mt.int32, mt.int16, mt.int8, mt.bool])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"])
def test_class_targets_must_be_int64_or_uint8(dtype, loss):
    scores, classes = scores_and_classes()
    call = getattr(mt.nn, loss)() if loss[0].isupper() else getattr(mt.nn.functional, loss)
    op = "nll_loss" if "nll" in loss.lower() else "cross_entropy"
    with pytest.raises(mt.DtypeError, match=rf"{op}: target must hold integer class indices as "
                                            rf"int64 \(or uint8\), got dtype {dtype}.*\.long\(\)"):
        call(scores, classes.to(dtype))
    with pytest.raises(RuntimeError, match="cross_entropy: target"):  # smoothed and weighted too
        mt.nn.functional.cross_entropy(scores, classes.to(dtype), mt.ones(3), label_smoothing=0.1)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_uint8_class_targets_are_taken_for_one_or_two_dims_only(loss):
    fn = getattr(mt.nn.functional, loss)
    scores, classes = scores_and_classes()
    assert fn(scores, classes.to(mt.uint8)).item() == fn(scores, classes).item()
    assert fn(scores[0], classes[0].to(mt.uint8)).item() == fn(scores[0], classes[0]).item()
    with pytest.raises(mt.DtypeError, match=rf"{loss}: .*uint8 .*only with input \(C,\) or \(N, C\)"):
        fn(scores.reshape(2, 3, 1), classes.reshape(2, 1).to(mt.uint8))


@pytest.mark.parametrize("target_dtype", ["int64", "uint8", "int32", "int16", "int8", "bool"])
@pytest.mark.parametrize("input_shape", [(3,), (2, 3), (2, 3, 2)])
@pytest.mark.parametrize("weight_dtype", [None, "float32", "float64"])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_target_and_weight_checks_as_pytorch(torch, target_dtype, input_shape, weight_dtype, loss):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(input_shape).astype(np.float32)
    target = rng.integers(0, 2, (*input_shape[:1], *input_shape[2:]) if len(input_shape) > 1 else ())
    w = None if weight_dtype is None else rng.random(3).astype(weight_dtype)
    try:
        expected = getattr(torch.nn.functional, loss)(
            torch.tensor(x), torch.tensor(target.astype(target_dtype)),
            None if w is None else torch.tensor(w))
    except RuntimeError:
        with pytest.raises(RuntimeError, match=loss):
            getattr(mt.nn.functional, loss)(mt.tensor(x), mt.tensor(target.astype(target_dtype)),
                                            None if w is None else mt.tensor(w))
        return
    out = getattr(mt.nn.functional, loss)(mt.tensor(x), mt.tensor(target.astype(target_dtype)),
                                          None if w is None else mt.tensor(w))
    assert out.dtype == mt.float32
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)


@pytest.mark.parametrize("ignore_index", [-100, -1, 0, 2])
@pytest.mark.parametrize("weight_dtype", [None, "float32", "float64", "int64"])
@pytest.mark.parametrize("target_dtype", ["float32", "float64"])
def test_probability_target_checks_as_pytorch(torch, ignore_index, weight_dtype, target_dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    p = rng.dirichlet(np.ones(3), size=2).astype(target_dtype)
    w = None if weight_dtype is None else (rng.random(3) * 3).astype(weight_dtype)

    def call(lib, tensor):
        return lib.nn.functional.cross_entropy(tensor(x), tensor(p), None if w is None else tensor(w),
                                               ignore_index=ignore_index)

    try:
        expected = call(torch, torch.tensor)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="cross_entropy: ignore_index"):
            call(mt, mt.tensor)
        return
    out = call(mt, mt.tensor)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)


def test_probability_target_weight_gets_pytorch_gradient(torch):
    rng = np.random.default_rng(3)
    x, p, w = rng.standard_normal((2, 3)), rng.dirichlet(np.ones(3), size=2), rng.random(3)
    weight = mt.tensor(w, requires_grad=True)
    mt.nn.functional.cross_entropy(mt.tensor(x), mt.tensor(p), weight).backward()
    t_weight = torch.tensor(w, requires_grad=True)
    torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p), t_weight).backward()
    np.testing.assert_allclose(weight.grad.array, t_weight.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_integer_scores_are_a_runtime_error_too(loss):
    with pytest.raises(mt.DtypeError, match=rf"{loss}: input must hold floating point scores, "
                                            r"got dtype int64; convert it with \.float\(\)"):
        getattr(mt.nn.functional, loss)(mt.zeros(3, 4, dtype=mt.int64), mt.tensor([0, 1, 2]))


# ------------------------------------------ 9: state_dict of tied modules and parameters

def tied_module_model(lib):
    """An output layer reachable under two names (``shared`` is ``out``), with a buffer."""
    class Tied(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.nn.Embedding(5, 3)
            self.out = lib.nn.Linear(3, 5)
            self.out.register_buffer("scale", lib.ones(5))
            self.shared = self.out
            self.norm = lib.nn.LayerNorm(3)
    return Tied()


def tied_parameter_model(lib):
    """Two layers holding one weight (``a.weight`` is ``b.weight``)."""
    class TiedWeight(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.nn.Linear(3, 3)
            self.b = lib.nn.Linear(3, 3)
            self.a.weight = self.b.weight
    return TiedWeight()


def repeated_in_sequential(lib):
    layer = lib.nn.Linear(2, 2)
    return lib.nn.Sequential(layer, lib.nn.Tanh(), layer)


TIED_KEYS = ["embed.weight", "out.weight", "out.bias", "out.scale", "shared.weight",
             "shared.bias", "shared.scale", "norm.weight", "norm.bias"]


def test_state_dict_names_a_tied_module_under_each_name():
    model = tied_module_model(mt)
    state = model.state_dict()
    assert list(state) == TIED_KEYS  # PyTorch 2.13's keys, in its order
    assert np.shares_memory(state["shared.weight"].array, model.out.weight.array)
    # parameters() and named_parameters() still give each parameter once, under its first name
    assert [n for n, _ in model.named_parameters()] == ["embed.weight", "out.weight", "out.bias",
                                                        "norm.weight", "norm.bias"]
    assert len(list(model.parameters())) == 5


def test_state_dict_names_a_tied_parameter_under_each_name():
    model = tied_parameter_model(mt)
    assert list(model.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert [n for n, _ in model.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    assert list(repeated_in_sequential(mt).state_dict()) == ["0.weight", "0.bias", "2.weight",
                                                             "2.bias"]


def test_load_state_dict_takes_both_names_of_a_tied_module_and_misses_either():
    model = tied_module_model(mt)
    state = {k: v.array.copy() for k, v in model.state_dict().items()}
    assert model.load_state_dict(state) == ([], [])  # strict
    state["out.weight"][:] = 1.0
    state["shared.weight"][:] = 2.0  # the later key wins, as PyTorch loads them in this order
    model.load_state_dict(state)
    assert (model.out.weight.array == 2.0).all()
    del state["shared.weight"]
    with pytest.raises(RuntimeError, match="missing key: shared.weight"):
        model.load_state_dict(state)
    assert model.load_state_dict(state, strict=False) == (["shared.weight"], [])


@pytest.mark.parametrize("build", [tied_module_model, tied_parameter_model, repeated_in_sequential])
def test_tied_state_dict_as_pytorch_and_loads_strictly(torch, build):
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(mt)
    expected = theirs.state_dict()
    assert list(ours.state_dict()) == list(expected)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.load_state_dict({k: v.numpy() for k, v in expected.items()}) == ([], [])
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value.array, expected[name].numpy())
    partial = {k: v.numpy() for k, v in list(expected.items())[:-1]}  # one key short
    assert tuple(ours.load_state_dict(partial, strict=False)) == tuple(
        theirs.load_state_dict({k: torch.tensor(v) for k, v in partial.items()}, strict=False))


@pytest.mark.parametrize("build", [tied_module_model, tied_parameter_model])
def test_tied_state_dict_survives_save_and_load(build, tmp_path):
    model = build(mt)
    for p in model.parameters():
        p.array[...] = np.random.default_rng(0).standard_normal(p.shape)
    mt.save({"model": model.state_dict()}, tmp_path / "tied.ckpt")
    saved = mt.load(tmp_path / "tied.ckpt")["model"]
    assert list(saved) == list(model.state_dict())
    fresh = build(mt)
    assert fresh.load_state_dict(saved) == ([], [])
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a.array, b.array, err_msg=name)



@pytest.mark.parametrize("target", [mt.tensor([0, 1]), mt.tensor([0, -100])])
def test_a_class_weight_that_requires_grad_is_refused_as_pytorch(target):
    weight = mt.ones(3, requires_grad=True)
    scores = mt.zeros(2, 3)
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight"):
        F.cross_entropy(scores, target, weight=weight)
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight"):
        F.nll_loss(scores, target, weight=weight)
    with mt.no_grad():  # nothing is recorded, so nothing is refused, as in PyTorch
        assert F.cross_entropy(scores, target, weight=weight).item() == pytest.approx(np.log(3))
