"""``backward(inputs=...)`` and ``mt.autograd.backward``: gradients accumulate into the given
tensors' ``.grad`` only (leaves or not), through their hooks, as PyTorch's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import microtensor as mt


def _run(lib, inputs_of, twice=False):
    x = lib.tensor([1.0, -2.0], requires_grad=True, dtype=lib.float64)
    w = lib.tensor([0.5, 3.0], requires_grad=True, dtype=lib.float64)
    unused = lib.ones(2, requires_grad=True, dtype=lib.float64)
    h = (x * w).tanh()
    h.register_hook(lambda g: g * 10)
    loss = (h * h * lib.tensor([1.0, 2.0], dtype=lib.float64)).sum()
    named = {"x": x, "w": w, "h": h, "unused": unused}
    for _ in range(2 if twice else 1):
        loss.backward(inputs=inputs_of(named), retain_graph=True)
    return {k: None if t.grad is None else t.grad.numpy().copy() for k, t in named.items()}


@pytest.mark.parametrize("pick", [["w"], ["x", "w"], ["h"], ["h", "x"], ["unused", "w"], "w"])
@pytest.mark.parametrize("twice", [False, True])
def test_only_the_inputs_get_gradients_as_in_pytorch(torch, pick, twice):
    def inputs_of(named):
        return named[pick] if isinstance(pick, str) else [named[k] for k in pick]
    with warnings.catch_warnings():  # PyTorch warns on reading a non-leaf's .grad
        warnings.simplefilter("ignore")
        theirs = _run(torch, inputs_of, twice)
    ours = _run(mt, inputs_of, twice)
    for name in ours:
        if theirs[name] is None:
            assert ours[name] is None, name
        else:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, err_msg=name)


def test_the_function_form_takes_several_tensors_and_gradients(torch):
    results = []
    for lib in (mt, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = x * 2, x ** 2
        lib.autograd.backward([a, b], [lib.ones(2), lib.tensor([1.0, 10.0])], inputs=[x])
        results.append(x.grad.tolist())
    assert results[0] == results[1] == [4.0, 42.0]


@pytest.mark.parametrize(("inputs", "message"), [
    ([], "cannot be empty"), ([mt.ones(2)], "input 0 .* does not require grad")])
def test_bad_inputs_are_refused(inputs, message):
    x = mt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        (x * 2).sum().backward(inputs=inputs)
    assert x.grad is None
