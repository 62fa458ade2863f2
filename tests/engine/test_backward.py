"""The backward pass: accumulation, graph walking, freeing, grad modes, hooks, mt.grad."""

import gc
import sys
import weakref

import numpy as np
import pytest

import microtensor as mt


def leaf(values, dtype=mt.float64):
    return mt.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------ accumulation
def test_fan_out_sums_gradients_of_every_use():
    x = leaf([1.0, 2.0])
    y = x * x * x + x  # x used four times
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, 3 * x.array**2 + 1)


def test_paths_through_shared_intermediate_add_up():
    x = leaf([0.5, -1.5])
    h = x.tanh()
    out = (h * 2 + h.exp() + h).sum()  # three paths through h
    out.backward()
    dh = 3 + np.exp(np.tanh(x.array))
    np.testing.assert_allclose(x.grad.array, dh * (1 - np.tanh(x.array) ** 2))


def test_leaf_grads_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.array, [7.0, 7.0])


def test_same_tensor_as_both_inputs():
    x = leaf([3.0])
    (x * x).backward()
    assert x.grad.tolist() == [6.0]


def test_gradient_argument_is_the_upstream_gradient():
    x = leaf([1.0, 2.0, 3.0])
    upstream = np.array([0.1, -1.0, 2.0])
    (x * 5).backward(gradient=upstream)
    np.testing.assert_allclose(x.grad.array, 5 * upstream)


def test_leaf_grad_is_owned_not_aliased_to_the_upstream_gradient():
    x = leaf([1.0, 2.0])
    upstream = np.array([1.0, 1.0])
    (x + 0).backward(gradient=upstream)
    x.grad.mul_(0)  # an optimizer or clipping may write into .grad
    assert upstream.tolist() == [1.0, 1.0]


def test_grads_come_back_in_each_inputs_dtype():
    a = leaf([1.0, 2.0], dtype=mt.float32)
    b = leaf([3.0, 4.0], dtype=mt.float64)
    out = a * b
    assert out.dtype == mt.float64
    out.sum().backward()
    assert a.grad.dtype == mt.float32 and b.grad.dtype == mt.float64


def test_broadcast_gradients_are_summed_back_by_the_engine():
    x = leaf(np.ones((3, 1)))
    y = leaf(np.arange(4.0))
    (x * y).sum().backward()
    assert x.grad.shape == (3, 1) and y.grad.shape == (4,)
    np.testing.assert_allclose(x.grad.array, np.full((3, 1), 6.0))
    np.testing.assert_allclose(y.grad.array, np.full(4, 3.0))


# ----------------------------------------------------------------- graph walking
def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk would need 100,000 frames
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.tolist() == [1.0]


def test_graph_has_no_reference_cycles():
    """Freed by reference counting alone: no work left for the cyclic collector."""
    gc.disable()
    try:
        x = leaf(np.ones(3))
        h = x.tanh()
        out = (h * h).sum()
        watched = [weakref.ref(t) for t in (h, out)] + [weakref.ref(out.grad_fn)]
        out.backward()
        del h, out
        assert all(ref() is None for ref in watched)
    finally:
        gc.enable()


def test_only_tensors_that_need_grad_are_recorded():
    x = mt.tensor([1.0, 2.0])
    y = x * 2
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


# ----------------------------------------------------------------- freeing graph
def test_saved_values_are_released_after_backward():
    x = leaf([1.0, 2.0])
    y = x.exp()
    node = y.grad_fn
    saved = weakref.ref(node.saved_tensors[0])
    z = y.sum()
    del y
    z.backward()
    assert saved() is None


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    z = (x.exp()).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="Exp: trying to backward through the graph a second time"):
        z.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    z = (x.exp()).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.array, 2 * np.exp(x.array))


# -------------------------------------------------------------------- grad modes
def test_no_grad_records_nothing():
    x = leaf([1.0])
    with mt.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert mt.is_grad_enabled()


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = leaf([1.0])

    @mt.no_grad()
    def infer():
        with mt.enable_grad():
            inner = x * 2
        return x * 2, inner

    outer, inner = infer()
    assert not outer.requires_grad and inner.requires_grad


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError), mt.no_grad():
        _ = 1 / 0
    assert mt.is_grad_enabled()


def test_detach_shares_memory_but_not_history():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.array, y.array)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.array, y.array)  # no gradient flowed through d


# ------------------------------------------------------------ hooks, retain_grad
def test_leaf_hook_sees_and_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]


def test_non_leaf_hook_changes_what_flows_upstream():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 0.5)
    (h * h).sum().backward()  # dL/dh = 2h, halved, times 3
    np.testing.assert_allclose(x.grad.array, 3 * 0.5 * 2 * 3 * x.array)


def test_hook_removal():
    x = leaf([1.0])
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    handle.remove()  # a second remove does nothing, as PyTorch's RemovableHandle
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0]


def test_a_hook_handle_removes_its_own_registration_and_works_as_a_context_manager():
    x = leaf([1.0])
    double = lambda g: g * 2  # noqa: E731 - one function registered twice
    first, _ = x.register_hook(double), x.register_hook(double)
    first.remove()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2.0]  # the second registration still runs
    y = leaf([1.0])
    with y.register_hook(lambda g: g * 100):
        (y * 1).sum().backward()
    (y * 1).sum().backward()
    assert y.grad.tolist() == [101.0]


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    other = x * 4
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.array, 2 * h.array)
    assert other.grad is None


# ----------------------------------------------------------------------- mt.grad
def test_functional_grad_returns_without_touching_dot_grad():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    (dx,) = mt.grad((x * w).sum(), x)
    np.testing.assert_allclose(dx.array, w.array)
    assert x.grad is None and w.grad is None


def test_functional_grad_of_non_leaf_input_and_grad_outputs():
    x = leaf([1.0, 2.0])
    h = x * x
    y = h * 3
    dh, dx = mt.grad(y, [h, x], grad_outputs=mt.tensor([1.0, -1.0], dtype=mt.float64))
    np.testing.assert_allclose(dh.array, [3.0, -3.0])
    np.testing.assert_allclose(dx.array, [6.0, -12.0])


def test_functional_grad_unused_input():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        mt.grad((x * 2).sum(), [x, unused])
    dx, du = mt.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert dx.tolist() == [2.0] and du is None


# ------------------------------------------------------------------------ errors
def test_backward_on_non_scalar_without_gradient_says_what_to_pass():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\); pass gradient="):
        y.backward()


def test_backward_with_wrong_gradient_shape():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.ones(2).sum().backward()


def test_leaf_hook_runs_once_on_the_total_gradient():
    x = leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append(g.tolist()))
    (x * x + x).sum().backward()  # three uses of x
    assert calls == [[3.0]]


def test_functional_grad_runs_leaf_hooks():
    x = leaf([1.0])
    x.register_hook(lambda g: g * 10)
    (dx,) = mt.grad((x * 2).sum(), x)
    assert dx.tolist() == [20.0] and x.grad is None


# ---------------------------------------------------------------------- observe
def test_observer_sees_forward_nodes_backward_order_edges_and_leaves():
    class Recorder:
        def __init__(self):
            self.events = []

        def forward(self, fn, output):
            self.events.append(("forward", type(fn).__name__, output.shape))

        def backward(self, fn, grad):
            self.events.append(("backward", type(fn).__name__))

        def edge(self, fn, index, parent, grad):
            self.events.append(("edge", type(fn).__name__, index, grad.shape))

        def leaf(self, tensor, grad):
            self.events.append(("leaf", tensor.name, grad.tolist()))

    w = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    w.name = "w"
    with mt.observe(Recorder()) as rec:
        loss = (w * 3).sum()
        loss.backward()
    assert rec.events == [
        ("forward", "Mul", (2,)), ("forward", "Sum", ()),
        ("backward", "Sum"), ("edge", "Sum", 0, (2,)),
        ("backward", "Mul"), ("edge", "Mul", 0, (2,)),
        ("leaf", "w", [3.0, 3.0]),
    ]


def test_naming_a_computed_tensor_labels_its_node():
    h = mt.ones(2, requires_grad=True).tanh()
    h.name = "h"
    assert h.grad_fn.name == "h" and "name='h'" in repr(h)


def test_zero_dim_tensors_accumulate_many_uses_and_backward_calls():
    """Summing 0-d gradients yields numpy scalars; the engine must keep arrays."""
    x = leaf(2.0)
    y = x.tanh()
    (y * y * y + y).backward()  # four uses of y: accumulated in place after the second
    d = 1 - np.tanh(2.0) ** 2
    np.testing.assert_allclose(x.grad.array, (3 * np.tanh(2.0) ** 2 + 1) * d)
    for _ in range(2):
        (x * x).backward()
    assert isinstance(x.grad.array, np.ndarray) and x.grad.shape == ()


def test_per_step_transposed_weights_pass_lazy_gradients_on_to_the_weight():
    rng = np.random.default_rng(0)
    w = mt.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    xs = [rng.normal(size=(2, 3)) for _ in range(5)]
    loss = sum(((mt.tensor(x) @ w.T) ** 2).sum() for x in xs)
    loss.backward()
    expected = sum(2 * (x @ w.array.T).T @ x for x in xs)
    np.testing.assert_allclose(w.grad.array, expected, rtol=1e-12)


def test_a_hook_on_a_transposed_weight_sees_an_array():
    w = mt.ones(4, 3, requires_grad=True)
    seen = []
    wt = w.T
    wt.register_hook(lambda g: seen.append(type(g.array)))
    (mt.ones(2, 3) @ wt).sum().backward()
    assert seen == [np.ndarray] and w.grad.tolist() == [[2.0] * 3] * 4


def test_a_gradient_of_a_shape_that_does_not_broadcast_to_the_input_is_refused():
    class Transposing(mt.Function):
        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            return grad.reshape(grad.shape[::-1])

    x = mt.ones(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match=r"Transposing.backward returned a gradient of shape "
                                         r"\(4, 3\) for input 0, which has shape \(3, 4\)"):
        Transposing.apply(x).sum().backward()


def test_backward_pauses_the_cyclic_collector_and_restores_it_even_on_error():
    states = []
    x = mt.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: states.append(gc.isenabled()))
    y.sum().backward()
    assert states == [False] and gc.isenabled()

    def fail(g):
        raise KeyError("hook failed")

    z = x * 3
    z.register_hook(fail)
    with pytest.raises(KeyError):
        z.sum().backward()
    assert gc.isenabled()
    gc.disable()
    try:  # a collector the user turned off stays off
        (x * 4).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
