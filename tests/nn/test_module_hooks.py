"""Module hooks (forward pre-hooks, forward hooks, full backward hooks and pre-hooks), the
dotted-path getters and ``requires_grad_``, each run beside PyTorch: the same module is
written once for both libraries, and what the hooks see, return and cause is compared."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt


def _numpy(value):
    """A hook argument as comparable data: arrays for tensors, nested the same way."""
    if isinstance(value, (tuple, list)):
        return tuple(_numpy(v) for v in value)
    if hasattr(value, "detach"):  # a tensor of either library
        return np.array(value.detach().numpy())
    return value


def _same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, (a, b)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    else:
        assert a == b


def mix_module(lib):
    """Inputs: a float that requires grad, one that may not, integer indices, a number;
    outputs: a tensor, a tensor the loss may not use, a number, as PyTorch's tests use."""

    class Mix(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64))

        def forward(self, a, b, idx, scale, shift=0.0):
            out = (a * b.tanh() * self.w) * scale + shift
            return out, a[idx].sum() * 3, 7

    return Mix()


def _inputs(lib, b_requires):
    a = lib.tensor([0.3, -0.2, 0.9], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([1.5, 0.1, -0.7], dtype=lib.float64, requires_grad=b_requires)
    return a, b, lib.tensor([0, 2, 2]), 2.0


def _run(lib, b_requires, use_second, pre_scale, hook_scale, log):
    module = mix_module(lib)

    def pre(m, grad_output):
        log.append(("pre", _numpy(grad_output)))
        if pre_scale is not None:
            return tuple(None if g is None else g * pre_scale for g in grad_output)
        return None

    def hook(m, grad_input, grad_output):
        log.append(("hook", _numpy(grad_input), _numpy(grad_output)))
        if hook_scale == "drop":  # no gradient for the first input
            return (None, *grad_input[1:])
        if hook_scale is not None:
            return tuple(None if g is None or g.dtype != lib.float64 else g * hook_scale
                         for g in grad_input)
        return None

    def second(m, grad_input, grad_output):  # sees the first hook's replacement
        log.append(("second", _numpy(grad_input)))

    module.register_full_backward_pre_hook(pre)
    module.register_full_backward_hook(hook)
    module.register_full_backward_hook(second)
    a, b, idx, scale = _inputs(lib, b_requires)
    out, other, seven = module(a, b, idx, scale)
    loss = (out * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum()
    if use_second:
        loss = loss + other
    loss.backward()
    grads = [a.grad, b.grad if b_requires else None, module.w.grad]
    return seven, [None if g is None else _numpy(g) for g in grads]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(b_requires=st.booleans(), use_second=st.booleans(),
       pre_scale=st.sampled_from([None, 0.5]),
       hook_scale=st.sampled_from([None, 10.0, "drop"]))
def test_full_backward_hooks_see_and_replace_what_pytorchs_do(torch, b_requires, use_second,
                                                              pre_scale, hook_scale):
    theirs, ours = [], []
    expected = _run(torch, b_requires, use_second, pre_scale, hook_scale, theirs)
    got = _run(mt, b_requires, use_second, pre_scale, hook_scale, ours)
    assert [entry[0] for entry in ours] == [entry[0] for entry in theirs] == [
        "pre", "hook", "second"]
    for mine, reference in zip(ours, theirs):
        _same(mine[1:], reference[1:])
    assert got[0] == expected[0] == 7
    for mine, reference in zip(got[1], expected[1]):
        _same(mine, reference)


def test_a_pre_hook_returning_none_sends_zeros_into_the_module():
    """PyTorch passes an undefined gradient on, which its ops turn into zeros or into no
    gradient depending on the op; here it is zeros (a documented difference)."""
    layer = mt.nn.Tanh()
    seen = []
    layer.register_full_backward_pre_hook(lambda m, go: (None,))
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi[0].tolist(), go)))
    x = mt.ones(2, requires_grad=True)
    layer(x).sum().backward()
    assert seen == [([0.0, 0.0], (None,))] and x.grad.tolist() == [0.0, 0.0]  # as PyTorch here


def _order_log(lib):
    log = []
    layer = lib.nn.Linear(2, 2).double()
    handles = [layer.register_full_backward_hook(lambda m, gi, go, k=k: log.append(k))
               for k in ("first", "second")]
    layer.register_full_backward_hook(lambda m, gi, go: log.append("prepended"), prepend=True)
    handles.append(layer.register_forward_pre_hook(lambda m, args: log.append("pre1")))
    layer.register_forward_pre_hook(lambda m, args: log.append("pre0"), prepend=True)
    layer.register_forward_hook(lambda m, args, out: log.append("fwd1"))
    layer.register_forward_hook(lambda m, args, out: log.append("fwd0"), prepend=True)
    x = lib.ones(1, 2, dtype=lib.float64, requires_grad=True)
    layer(x).sum().backward()
    for handle in handles:
        handle.remove()
        handle.remove()  # a second remove does nothing
    layer(x).sum().backward()
    return log


def test_hook_order_prepend_and_removal_as_pytorch(torch):
    assert _order_log(mt) == _order_log(torch) == [
        "pre0", "pre1", "fwd0", "fwd1", "prepended", "first", "second",
        "pre0", "fwd0", "fwd1", "prepended"]


@pytest.mark.parametrize("which", ["mt", "torch"])
def test_backward_hooks_are_those_registered_when_the_module_ran(torch, which):
    lib = mt if which == "mt" else torch
    log = []
    layer = lib.nn.Tanh()
    x = lib.ones(2, requires_grad=True)
    handle = layer.register_full_backward_hook(lambda m, gi, go: log.append("early"))
    y = layer(x)
    handle.remove()  # after the forward: still runs for this graph
    layer.register_full_backward_hook(lambda m, gi, go: log.append("late"))
    y.sum().backward()
    assert log == ["early"]


def _forward_hooks_log(lib):
    log = []
    layer = lib.nn.Linear(2, 3).double()
    layer.register_forward_pre_hook(lambda m, args: args[0] * 2)  # a bare tensor: wrapped
    layer.register_forward_pre_hook(
        lambda m, args, kwargs: (args, {**kwargs}), with_kwargs=True)
    layer.register_forward_hook(lambda m, args, out: out + 1)
    layer.register_forward_hook(
        lambda m, args, kwargs, out: log.append((_numpy(args), kwargs, _numpy(out))),
        with_kwargs=True)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        layer.bias.zero_()
    out = layer(lib.tensor([[1.0, -1.0]], dtype=lib.float64))
    return log, _numpy(out)


def test_forward_hooks_replace_arguments_and_results_as_pytorch(torch):
    (ours, out), (theirs, expected) = _forward_hooks_log(mt), _forward_hooks_log(torch)
    _same(out, expected)
    assert len(ours) == len(theirs) == 1
    _same(ours[0][0], theirs[0][0])
    assert ours[0][1] == theirs[0][1] == {}
    _same(ours[0][2], theirs[0][2])


class Failing(mt.nn.Module):
    def forward(self, x):
        raise ValueError("forward failed")


def _always_call_hooks(module, log):
    module.register_forward_hook(lambda m, args, out: log.append("plain"))
    module.register_forward_hook(lambda m, args, out: log.append(("always", out)),
                                 always_call=True)

    def broken(m, args, out):
        raise KeyError("hook failed")

    module.register_forward_hook(broken, always_call=True)


def test_always_call_forward_hooks_run_when_forward_raises(torch):
    class TorchFailing(torch.nn.Module):
        def forward(self, x):
            raise ValueError("forward failed")

    for module in (Failing(), TorchFailing()):
        log: list = []
        _always_call_hooks(module, log)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match="forward failed"):
                module(1.0)
        assert log == [("always", None)]
        assert any("always_call=True" in str(w.message) and "hook failed" in str(w.message)
                   for w in caught)


@pytest.mark.parametrize("which", ["mt", "torch"])
def test_bad_hook_returns_raise_as_pytorch(torch, which):
    lib = mt if which == "mt" else torch
    layer = lib.nn.Identity()
    layer.register_forward_pre_hook(lambda m, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        layer(lib.ones(1))
    for bad, error, match in (
            (lambda m, gi, go: (gi[0], gi[0]), RuntimeError, "invalid number of grad_input"),
            (lambda m, gi, go: (gi[0][:1],), RuntimeError, "size"),
            (lambda m, gi, go: (gi[0].double(),), RuntimeError, "changed the type of value")):
        layer = lib.nn.Tanh()
        layer.register_full_backward_hook(bad)
        with pytest.raises(error, match=match):
            layer(lib.ones(2, requires_grad=True)).sum().backward()
    layer = lib.nn.Tanh()
    layer.register_full_backward_pre_hook(lambda m, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_output"):
        layer(lib.ones(2, requires_grad=True)).sum().backward()


@pytest.mark.parametrize("which", ["mt", "torch"])
def test_no_input_requiring_grad_calls_the_hook_from_the_outputs(torch, which):
    lib = mt if which == "mt" else torch
    log = []
    layer = lib.nn.Linear(2, 1)
    layer.register_full_backward_hook(lambda m, gi, go: log.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        layer(lib.ones(3, 2)).sum().backward()
    assert log[0][0] == (None,) and tuple(log[0][1]) == (3, 1)
    assert layer.weight.grad is not None
    layer.register_full_backward_hook(lambda m, gi, go: (lib.ones(1),))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="return None"):
        layer(lib.ones(3, 2)).sum().backward()


@pytest.mark.parametrize("which", ["mt", "torch"])
def test_backward_hooks_fire_once_per_backward_and_again_with_retain_graph(torch, which):
    lib = mt if which == "mt" else torch
    log = []
    layer = lib.nn.Tanh()
    layer.register_full_backward_hook(lambda m, gi, go: log.append(float(go[0].sum())))
    x = lib.ones(2, requires_grad=True)
    y = layer(x)
    (y.sum() + 2 * y.sum()).backward(retain_graph=True)  # two uses, one call with the total
    y.sum().backward()
    assert log == [6.0, 2.0]


def test_a_hooked_module_inside_an_lstm_loop_matches_plain_gradients():
    """The bundling copies values: gradients are those of the module without hooks."""
    cell = mt.nn.LSTMCell(3, 4, dtype=mt.float64)
    x = mt.randn(5, 2, 3, dtype=mt.float64, requires_grad=True)

    def run():
        state = None
        for t in range(5):
            state = cell(x[t], state)
        state[0].sum().backward()
        grads = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in cell.parameters()]
        x.grad = None
        cell.zero_grad()
        return grads

    plain = run()
    seen = []
    handle = cell.register_full_backward_hook(lambda m, gi, go: seen.append(len(gi)))
    hooked = run()
    handle.remove()
    assert seen == [2] * 5  # (input, None or (h, c)): the tuple is not looked into, as PyTorch
    for a, b in zip(plain, hooked):
        np.testing.assert_array_equal(a, b)


# -------------------------------------------------------- paths and requires_grad_
def _tree(lib):
    model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.Tanh()))
    model[0].register_buffer("steps", lib.zeros(1))
    return model


@pytest.mark.parametrize("call, target", [
    ("get_submodule", ""), ("get_submodule", "1.0"), ("get_submodule", "2"),
    ("get_submodule", "0.weight"), ("get_submodule", "1.0.x"), ("get_submodule", "0.in_features"),
    ("get_parameter", "0.weight"), ("get_parameter", "0.steps"), ("get_parameter", "0.nope"),
    ("get_parameter", "weight"), ("get_parameter", "3.bias"),
    ("get_buffer", "0.steps"), ("get_buffer", "0.weight"), ("get_buffer", "0.training"),
    ("get_buffer", "1.0.steps"),
])
def test_dotted_getters_find_and_refuse_as_pytorch(torch, call, target):
    outcomes = []
    for lib in (mt, torch):
        try:
            found = getattr(_tree(lib), call)(target)
            outcomes.append(("found", type(found).__name__, tuple(getattr(found, "shape", ()))))
        except AttributeError as err:
            outcomes.append(("AttributeError", str(err).strip("'")))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("which", ["mt", "torch"])
def test_requires_grad_freezes_and_unfreezes_every_parameter(torch, which):
    lib = mt if which == "mt" else torch
    model = _tree(lib)
    assert model.requires_grad_(False) is model
    assert [p.requires_grad for p in model.parameters()] == [False, False]
    model.requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [True, True]
