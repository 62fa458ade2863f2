"""``mt.autograd.functional`` against ``torch.autograd.functional``: values (float64, 1e-10),
the single/tuple forms of inputs, outputs and results, ``create_graph`` (results that are
differentiated again), ``strict``'s errors (the same messages), ``v``'s checks, the refused
``vectorize``/``strategy`` flags, and the Hessian-vector product of an LSTM's loss."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

torch = pytest.importorskip("torch", reason="the PyTorch oracle extra is not installed")
TF = torch.autograd.functional
MINE = {"vjp": vjp, "jvp": jvp, "jacobian": jacobian, "hessian": hessian, "hvp": hvp, "vhp": vhp}


def leaves(arrays, requires_grad=False):
    """The same float64 tensors in both libraries."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    return ([mt.tensor(a, requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a, requires_grad=requires_grad) for a in arrays])


def same(mine, theirs, what=""):
    """The same nesting of tuples, the same values (1e-10) and the same requires_grad."""
    if isinstance(theirs, tuple):
        assert isinstance(mine, tuple) and len(mine) == len(theirs), what
        for i, (m, t) in enumerate(zip(mine, theirs)):
            same(m, t, f"{what}[{i}]")
        return
    assert isinstance(mine, mt.Tensor), f"{what}: {type(mine)}"
    assert mine.shape == tuple(theirs.shape), what
    assert mine.requires_grad == theirs.requires_grad, what
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-10, err_msg=what)


def flat(result):
    """Every tensor in a nested tuple."""
    if isinstance(result, tuple):
        return [t for r in result for t in flat(r)]
    return [result]


def raised(fn, args, kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - the error is the result compared
        return err
    raise AssertionError(f"{fn.__name__}: no error raised")


def same_error(api, mine_args, theirs_args, **kwargs):
    """``api`` raises in both libraries, the same type and message."""
    m = raised(MINE[api], mine_args, kwargs)
    t = raised(getattr(TF, api), theirs_args, kwargs)
    assert type(m) is type(t), (m, t)
    assert str(m) == str(t).replace("isonly", "is only")  # a space PyTorch's message lacks


# Functions written once for both libraries (``lib`` is mt or torch), with several inputs and
# outputs, from ops whose second derivatives the oracle covers.
ONE_IN_ONE_OUT = lambda lib, x: (x.exp() * x.sin()).sum(dim=1)  # noqa: E731
ONE_IN_TWO_OUT = lambda lib, x: (x.tanh() * x, (x ** 3).sum())  # noqa: E731
TWO_IN_ONE_OUT = lambda lib, x, y: (x * y).tanh()  # noqa: E731
TWO_IN_TWO_OUT = lambda lib, x, y: ((x * y).exp(), (x * x).sum(dim=0) * y.sum())  # noqa: E731
SCALAR_ONE = lambda lib, x: (x.sin() * x.exp()).sum()  # noqa: E731
SCALAR_TWO = lambda lib, x, y: ((x * y).tanh() * (x * y).sum(dim=1, keepdim=True)).sum()  # noqa: E731

SHAPES = {ONE_IN_ONE_OUT: [(2, 3)], ONE_IN_TWO_OUT: [(3,)], TWO_IN_ONE_OUT: [(2, 3), (3,)],
          TWO_IN_TWO_OUT: [(2, 3), (3,)], SCALAR_ONE: [(2, 2)], SCALAR_TWO: [(2, 3), (3,)]}
NAMES = {ONE_IN_ONE_OUT: "1->1", ONE_IN_TWO_OUT: "1->2", TWO_IN_ONE_OUT: "2->1",
         TWO_IN_TWO_OUT: "2->2", SCALAR_ONE: "1->scalar", SCALAR_TWO: "2->scalar"}


def bound(f, lib):
    return lambda *args: f(lib, *args)


def call_both(api, f, arrays, v=None, as_tuple=True, requires_grad=False, **kwargs):
    """``api`` in both libraries on the same inputs (a tuple, or the single tensor) and ``v``
    (None, a tuple of arrays, or one array), returning both results."""
    (mine, theirs), results = leaves(arrays, requires_grad), []
    for k, (lib, ins) in enumerate(((mt, mine), (torch, theirs))):
        args = [bound(f, lib), tuple(ins) if as_tuple else ins[0]]
        if v is not None:
            vs = leaves(v if isinstance(v, tuple) else [v])[k]
            args.append(tuple(vs) if isinstance(v, tuple) else vs[0])
        results.append((MINE[api] if lib is mt else getattr(TF, api))(*args, **kwargs))
    return results


def random_like(rng, shapes):
    return [rng.standard_normal(s) for s in shapes]


def v_for(api, f, arrays, rng, as_tuple):
    """A random ``v`` shaped as the outputs (vjp) or as the inputs, in the form PyTorch takes;
    None for the APIs without one."""
    if api in ("jacobian", "hessian"):
        return None
    if api == "vjp":
        outs = bound(f, torch)(*[torch.tensor(a) for a in arrays])
        if not isinstance(outs, tuple):
            return rng.standard_normal(tuple(outs.shape))
        return tuple(random_like(rng, [tuple(o.shape) for o in outs]))
    return tuple(random_like(rng, SHAPES[f])) if as_tuple else rng.standard_normal(SHAPES[f][0])


# Each API on each function it takes (second-order ones take a single-element function), the
# inputs as a tuple and, for one input, as the bare tensor.
CASES = [(api, f, as_tuple) for api in MINE for f in SHAPES for as_tuple in (True, False)
         if (as_tuple or len(SHAPES[f]) == 1)
         and (api in ("vjp", "jvp", "jacobian") or f in (SCALAR_ONE, SCALAR_TWO))]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(("api", "f", "as_tuple"), CASES,
                         ids=[f"{api}-{NAMES[f]}-{'tuple' if t else 'tensor'}"
                              for api, f, t in CASES])
def test_values_and_forms_match_pytorch(api, f, as_tuple, create_graph):
    rng = np.random.default_rng(len(SHAPES[f]) + 10 * as_tuple)
    arrays = random_like(rng, SHAPES[f])
    v = v_for(api, f, arrays, rng, as_tuple)
    mine, theirs = call_both(api, f, arrays, v, as_tuple, create_graph=create_graph)
    same(mine, theirs, api)


@pytest.mark.parametrize("api", ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"])
def test_create_graph_results_differentiate_again_as_pytorch(api):
    """With inputs that require grad, the results are in a graph back to them: the gradient of
    a random weighting of every result with respect to the inputs matches PyTorch's."""
    rng = np.random.default_rng(3)
    f = SCALAR_TWO
    arrays = random_like(rng, SHAPES[f])
    (mine_in, theirs_in) = leaves(arrays, requires_grad=True)
    found = []
    for lib, ins, fn in ((mt, mine_in, MINE[api]), (torch, theirs_in, getattr(TF, api))):
        args = [bound(f, lib), tuple(ins)]
        if api in ("jvp", "hvp", "vhp"):
            args.append(tuple(lib.tensor(a) for a in random_like(np.random.default_rng(4),
                                                                   SHAPES[f])))
        elif api == "vjp":
            args.append(lib.tensor(1.0, dtype=lib.float64))
        result = flat(fn(*args, create_graph=True))
        weights = random_like(np.random.default_rng(5), [tuple(r.shape) for r in result])
        total = sum((r * lib.tensor(w)).sum() for r, w in zip(result, weights))
        found.append(lib.autograd.grad(total, ins))
    same(*found)


def test_single_element_v_may_be_left_out():
    x = np.array([0.7])
    for api, f in (("vjp", SCALAR_ONE), ("jvp", ONE_IN_ONE_OUT), ("hvp", SCALAR_ONE),
                   ("vhp", SCALAR_ONE)):
        shape = (1, 1) if f is ONE_IN_ONE_OUT else (1,)
        mine, theirs = call_both(api, f, [x.reshape(shape)], as_tuple=False)
        same(mine, theirs, api)


@pytest.mark.parametrize("api", ["vjp", "jvp", "hvp", "vhp"])
def test_v_left_out_for_many_elements_is_pytorchs_error(api):
    f = ONE_IN_ONE_OUT if api in ("vjp", "jvp") else SCALAR_ONE
    x = np.ones((2, 3)) if f is ONE_IN_ONE_OUT else np.ones((2, 2))
    same_error(api, (bound(f, mt), mt.tensor(x)), (bound(f, torch), torch.tensor(x)))


@pytest.mark.parametrize("api", ["vjp", "jvp", "hvp", "vhp"])
def test_v_of_the_wrong_shape_or_count_is_a_clear_error(api):
    f = SCALAR_TWO if api != "vjp" else TWO_IN_TWO_OUT
    x, y = mt.ones(2, 3, dtype=mt.float64), mt.ones(3, dtype=mt.float64)
    fn = bound(f, mt)
    with pytest.raises(RuntimeError, match=r"^Entry 1 in v has invalid size: should be \(.*\) but "
                                           r"got \(5,\)\.$"):
        MINE[api](fn, (x, y), (mt.ones(2, 3), mt.ones(5)))
    with pytest.raises(RuntimeError, match="^v is a tuple of invalid length: should be 2 but got 1"):
        MINE[api](fn, (x, y), (mt.ones(2, 3),))
    one = bound(SCALAR_ONE if api != "vjp" else ONE_IN_ONE_OUT, mt)
    with pytest.raises(RuntimeError, match=r"^v has invalid size: should be \(2,?\) but got \(3,\)"):
        MINE[api](one, mt.ones(2, 5) if api == "vjp" else mt.ones(2), mt.ones(3))
    with pytest.raises(RuntimeError, match="^The given v should contain a single Tensor"):
        MINE[api](one, mt.ones(2, 2), (mt.ones(2), mt.ones(2)))


def first_sum(*args):
    return args[0].sum()


def not_a_tensor(x):
    return 3.0


@pytest.mark.parametrize("api", list(MINE))
def test_inputs_and_outputs_must_be_tensors_as_pytorch(api):
    needs_v = api in ("vjp", "jvp", "hvp", "vhp")
    for mine_in, theirs_in in (([mt.ones(1)], [torch.ones(1)]),
                               ((mt.ones(1), 2.0), (torch.ones(1), 2.0))):
        same_error(api, (first_sum, mine_in), (first_sum, theirs_in))
    extra = (mt.ones(1),) if needs_v else ()
    t_extra = (torch.ones(1),) if needs_v else ()
    same_error(api, (not_a_tensor, mt.ones(1), *extra), (not_a_tensor, torch.ones(1), *t_extra))


@pytest.mark.parametrize("api", ["hessian", "hvp", "vhp"])
def test_second_order_apis_need_a_single_element_output(api):
    v = (mt.ones(2),) if api != "hessian" else ()
    tv = (torch.ones(2),) if api != "hessian" else ()
    for f in (lambda lib, x: x * x, lambda lib, x: ((x * x).sum(), x.sum())):
        same_error(api, (bound(f, mt), mt.ones(2), *v), (bound(f, torch), torch.ones(2), *tv))


# ---------------------------------------------------------------------- strict
UNUSED_INPUT = lambda lib, x, y: (x * x).sum()  # noqa: E731 - y is not used
LINEAR = lambda lib, x, y: (2 * x).sum() + (3 * y).sum()  # noqa: E731 - constant gradients
CONSTANT = lambda lib, x, y: lib.ones(1, dtype=lib.float64).sum()  # noqa: E731 - no input used
QUADRATIC = lambda lib, x, y: (x * x).sum() + (x * y).sum()  # noqa: E731 - a constant Hessian
STRICT_CASES = [(f, api, cg) for f in (UNUSED_INPUT, LINEAR, CONSTANT, QUADRATIC)
                for api in MINE for cg in (False, True)]


@pytest.mark.parametrize(("f", "api", "create_graph"), STRICT_CASES,
                         ids=[f"{i}" for i in range(len(STRICT_CASES))])
def test_strict_raises_as_pytorch_and_zeros_otherwise(f, api, create_graph):
    """Each case raises in both (the same message) or in neither (the same zeros and values)."""
    arrays = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    v = (np.array([0.5, -1.0]), np.array([2.0, 1.0])) if api in ("jvp", "hvp", "vhp") else None
    if api == "vjp":
        v = (np.array(1.5),)

    def run(lib, strict):
        ins = tuple(leaves(arrays)[0 if lib is mt else 1])
        fn = MINE[api] if lib is mt else getattr(TF, api)
        args = [bound(f, lib), ins]
        if v is not None:
            vs = leaves(v)[0 if lib is mt else 1]
            args.append(vs[0] if api == "vjp" else tuple(vs))
        return fn(*args, create_graph=create_graph, strict=strict)

    try:
        theirs = run(torch, True)
    except RuntimeError as err:
        with pytest.raises(RuntimeError) as mine:
            run(mt, True)
        assert str(mine.value) == str(err)
    else:
        same(run(mt, True), theirs)
    same(run(mt, False), run(torch, False))


# ---------------------------------------------------------------------- refused flags
def test_vectorize_and_forward_mode_are_refused_with_pytorchs_errors():
    x, tx = mt.ones(2), torch.ones(2)
    f = lambda lib, x: x * x  # noqa: E731
    s = lambda lib, x: (x * x).sum()  # noqa: E731
    for kwargs in ({"strategy": "sideways"}, {"strategy": "forward-mode"},
                   {"strategy": "forward-mode", "create_graph": True},
                   {"strategy": "forward-mode", "strict": True},
                   {"vectorize": True, "strict": True}):
        same_error("jacobian", (bound(f, mt), x), (bound(f, torch), tx), **kwargs)
    for kwargs in ({"outer_jacobian_strategy": "sideways"},
                   {"outer_jacobian_strategy": "forward-mode"},
                   {"outer_jacobian_strategy": "forward-mode", "create_graph": True},
                   {"vectorize": True, "strict": True}):
        same_error("hessian", (bound(s, mt), x), (bound(s, torch), tx), **kwargs)
    # Where PyTorch would vectorize with vmap, this library says it cannot.
    for call in (lambda: jacobian(bound(f, mt), x, vectorize=True),
                 lambda: jacobian(bound(f, mt), x, vectorize=True, strategy="forward-mode"),
                 lambda: hessian(bound(s, mt), x, vectorize=True)):
        with pytest.raises(NotImplementedError, match="^jacobian: vectorize=True is not supported"):
            call()


# ---------------------------------------------------------------------- the inputs themselves
def test_inputs_captured_by_func_are_not_the_inputs_differentiated():
    """func is called on new tensors, so one it captures from outside is a constant there."""
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    same(jacobian(lambda z: z * x, x), TF.jacobian(lambda z: z * tx, tx))
    same(jacobian(lambda z: z * x, x, create_graph=True),
         TF.jacobian(lambda z: z * tx, tx, create_graph=True))
    assert x.grad is None


def test_identity_and_integer_free_edge_forms():
    for api, v in (("vjp", np.ones(3)), ("jvp", np.ones(3)), ("jacobian", None)):
        mine, theirs = call_both(api, lambda lib, x: x, [np.arange(3.0)], v, as_tuple=False)
        same(mine, theirs, api)


def test_results_keep_the_input_dtype():
    x = mt.tensor([1.0, 2.0], dtype=mt.float32)
    assert jacobian(lambda z: (z * z).exp(), x).dtype == mt.float32
    assert hessian(lambda z: (z * z * z).sum(), x).dtype == mt.float32


# ---------------------------------------------------------------------- shapes
shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@given(x_shape=shapes, y_shape=shapes, seed=st.integers(0, 2 ** 16))
def test_jacobian_and_hessian_over_shapes(x_shape, y_shape, seed):
    rng = np.random.default_rng(seed)
    arrays = random_like(rng, [x_shape, y_shape])

    def f(lib, x, y):
        return (x.tanh() * x).sum() * y.sin(), (x.exp().sum() * y * y).sum()

    def s(lib, x, y):
        return (x.sin() * x).sum() * (y * y).exp().sum()

    same(*call_both("jacobian", f, arrays), "jacobian")
    same(*call_both("hessian", s, arrays), "hessian")
    vs = tuple(random_like(rng, [x_shape, y_shape]))
    for api in ("hvp", "vhp"):
        same(*call_both(api, s, arrays, vs), api)
    hv, vh = hvp(bound(s, mt), tuple(leaves(arrays)[0]), tuple(leaves(vs)[0]))[1], \
        vhp(bound(s, mt), tuple(leaves(arrays)[0]), tuple(leaves(vs)[0]))[1]
    for a, b in zip(hv, vh):  # a symmetric Hessian: H v = v^T H
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- an LSTM's loss
def test_lstm_loss_hvp_wrt_weight_hh_matches_pytorch():
    """H v of a sequence loss with respect to the recurrent weights, the other parameters the
    same in both libraries (copied from PyTorch's layer)."""
    theirs = torch.nn.LSTM(3, 4, dtype=torch.float64)
    ours = mt.nn.LSTM(3, 4, dtype=mt.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(7)
    x, target = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    v = rng.standard_normal((16, 4))
    w = theirs.weight_hh_l0.detach().numpy()

    def our_loss(weight_hh):
        # The layer reads its parameters from _parameters: put the argument there for the call.
        kept = ours._parameters["weight_hh_l0"]
        ours._parameters["weight_hh_l0"] = weight_hh
        try:
            out, _ = ours(mt.tensor(x))
        finally:
            ours._parameters["weight_hh_l0"] = kept
        return ((out - mt.tensor(target)) ** 2).mean()

    def their_loss(weight_hh):
        out, _ = torch.func.functional_call(theirs, {"weight_hh_l0": weight_hh},
                                            (torch.tensor(x),))
        return ((out - torch.tensor(target)) ** 2).mean()

    mine = hvp(our_loss, mt.tensor(w), mt.tensor(v))
    expected = TF.hvp(their_loss, torch.tensor(w), torch.tensor(v))
    same(mine, expected, "hvp")
    same(vhp(our_loss, mt.tensor(w), mt.tensor(v)), TF.vhp(their_loss, torch.tensor(w),
                                                           torch.tensor(v)), "vhp")


def test_reachable_as_mt_autograd_functional():
    assert mt.autograd.functional.hvp is hvp and mt.autograd.functional.jacobian is jacobian
    assert mt.autograd.functional.__all__ == torch.autograd.functional.__all__
