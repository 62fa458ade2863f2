"""Random programs: gradients of whole graphs, not of single ops.

A program is a list of steps over 2-3 input tensors; each step reads earlier values
(inputs or results, so one value may feed several steps: fan-out) and appends its
result. Steps mix broadcasting binary ops, unary ops kept in their domains, reductions,
reshapes and transposes, and matmul where the shapes fit. The last value is the output,
and ``gradcheck`` compares the engine's gradient of the whole program with finite
differences under a random upstream gradient.

Nonlinear steps are bounded (``tanh(a @ b)``, ``a * tanh(b)``) so values stay moderate
however the steps chain: a huge intermediate would make a finite-difference step of
1e-6 too coarse and the check meaningless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

import microtensor as mt
from microtensor.testing import broadcastable_shapes, gradcheck, shapes, tensors


@dataclass(frozen=True)
class Step:
    """``v{n} = text.format(*operands)``: one op (or a short composite) over earlier values."""

    text: str
    operands: tuple[int, ...]
    apply: Callable[..., mt.Tensor]

    def describe(self, n: int) -> str:
        return f"v{n} = " + self.text.format(*(f"v{i}" for i in self.operands))


@dataclass(frozen=True)
class Program:
    input_shapes: tuple[tuple[int, ...], ...]
    steps: tuple[Step, ...]

    def __call__(self, *inputs: mt.Tensor) -> mt.Tensor:
        values = list(inputs)
        for step in self.steps:
            values.append(step.apply(*(values[i] for i in step.operands)))
        return values[-1]

    def __str__(self) -> str:
        lines = [f"v{i}: input of shape {s}" for i, s in enumerate(self.input_shapes)]
        first = len(self.input_shapes)
        return "\n".join(lines + [s.describe(first + k) for k, s in enumerate(self.steps)])


# Each kind of step: (draw, shapes of the values so far) -> a Step, or None when no value
# has a shape it applies to.
UNARY = {
    "tanh({})": lambda x: x.tanh(),
    "sigmoid({})": lambda x: x.sigmoid(),
    "-{}": lambda x: -x,
    "log({0} * {0} + 1)": lambda x: (x * x + 1).log(),
    "sqrt({0} * {0} + 1)": lambda x: (x * x + 1).sqrt(),
    "exp(tanh({}))": lambda x: x.tanh().exp(),
    "(tanh({}) + 2) ** 1.5": lambda x: (x.tanh() + 2) ** 1.5,
    "2.0 * {} - 0.5": lambda x: 2.0 * x - 0.5,
}

BINARY = {
    "{} + {}": lambda a, b: a + b,
    "{} - {}": lambda a, b: a - b,
    "{} * tanh({})": lambda a, b: a * b.tanh(),
    "{0} / ({1} * {1} + 1)": lambda a, b: a / (b * b + 1),
}


def unary(draw, shapes_):
    i = draw(st.integers(0, len(shapes_) - 1))
    text = draw(st.sampled_from(sorted(UNARY)))
    return Step(text, (i,), UNARY[text])


def binary(draw, shapes_):
    pairs = [(i, j) for i in range(len(shapes_)) for j in range(len(shapes_))
             if _broadcast(shapes_[i], shapes_[j])]
    i, j = draw(st.sampled_from(pairs))  # never empty: (i, i) always broadcasts
    text = draw(st.sampled_from(sorted(BINARY)))
    return Step(text, (i, j), BINARY[text])


def reduction(draw, shapes_):
    candidates = [i for i, s in enumerate(shapes_) if s]
    if not candidates:
        return None
    i = draw(st.sampled_from(candidates))
    dim = draw(st.integers(-len(shapes_[i]), len(shapes_[i]) - 1))
    keepdim = draw(st.booleans())
    name = draw(st.sampled_from(["sum", "mean", "logsumexp", "softmax", "log_softmax"]))
    if name in ("softmax", "log_softmax"):
        return Step(f"{name}({{}}, dim={dim})", (i,), lambda x: getattr(x, name)(dim))
    return Step(f"{name}({{}}, dim={dim}, keepdim={keepdim})", (i,),
                lambda x: getattr(x, name)(dim=dim, keepdim=keepdim))


def reshaping(draw, shapes_):
    i = draw(st.integers(0, len(shapes_) - 1))
    shape = shapes_[i]
    moves = {
        "{}.reshape(reversed shape)": lambda x: x.reshape(*reversed(x.shape)),
        "{}.unsqueeze(0)": lambda x: x.unsqueeze(0),
        "{}.squeeze()": lambda x: x.squeeze(),
        "{}.flatten()": lambda x: x.flatten(),
        "{}.T": lambda x: x.T,
    }
    if len(shape) >= 2:
        moves["{}.transpose(-1, -2)"] = lambda x: x.transpose(-1, -2)
    if shape:
        # Reversed by an index array: PyTorch (and so microtensor) has no negative slice steps.
        moves["{}[..., reversed]"] = lambda x: x[..., np.arange(x.shape[-1])[::-1].copy()]
        moves["{}[0]"] = lambda x: x[0]
    text = draw(st.sampled_from(sorted(moves)))
    return Step(text, (i,), moves[text])


def matmul(draw, shapes_):
    options = []
    for i, a in enumerate(shapes_):
        for j, b in enumerate(shapes_):
            if _matmul_fits(a, b):
                options.append(("tanh({} @ {})", (i, j), lambda a, b: (a @ b).tanh()))
            if len(b) >= 2 and _matmul_fits(a, b[:-2] + (b[-1], b[-2])):
                options.append(("tanh({} @ {}.transpose(-1, -2))", (i, j),
                                lambda a, b: (a @ b.transpose(-1, -2)).tanh()))
    if not options:
        return None
    text, operands, apply = draw(st.sampled_from(options))
    return Step(text, operands, apply)


def _broadcast(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _matmul_fits(a: tuple, b: tuple) -> bool:
    if not a or not b or len(a) > 3 or len(b) > 3:
        return False
    inner = b[-2] if len(b) >= 2 else b[0]
    return a[-1] == inner and _broadcast(a[:-2], b[:-2])


KINDS = [unary, binary, reduction, reshaping, matmul]


@st.composite
def programs(draw) -> Program:
    base = draw(shapes(min_dims=1, max_dims=3, max_side=3), label="base shape")
    others = [draw(broadcastable_shapes(base, max_dims=3, max_side=3))
              for _ in range(draw(st.integers(1, 2)))]
    input_shapes = (base, *others)
    shapes_ = list(input_shapes)
    steps = []
    for _ in range(draw(st.integers(5, 30), label="steps")):
        step = draw(st.sampled_from(KINDS))(draw, shapes_)
        if step is None:
            continue
        steps.append(step)
        # The output shape is found by running the step on zeros (valid for every step).
        zeros = [mt.zeros(shapes_[i], dtype=mt.float64) for i in step.operands]
        shapes_.append(step.apply(*zeros).shape)
    if not steps:  # every drawn step did not apply: end with one that always does
        steps.append(Step("tanh({})", (0,), UNARY["tanh({})"]))
    return Program(input_shapes, tuple(steps))


@st.composite
def programs_with_inputs(draw):
    program = draw(programs())
    inputs = [draw(tensors(s, min_value=-2, max_value=2), label=f"v{i}")
              for i, s in enumerate(program.input_shapes)]
    return program, inputs


@given(case=programs_with_inputs())
def test_random_program_gradients_match_finite_differences(case):
    program, inputs = case
    note(f"program:\n{program}")
    before = [x.array.copy() for x in inputs]

    assert gradcheck(program, inputs)

    # The .backward() path (gradients accumulated into .grad) agrees with mt.grad, and
    # neither forward nor backward wrote into the inputs.
    out = program(*inputs)
    upstream = mt.tensor(np.random.default_rng(1).standard_normal(out.shape))
    expected = mt.grad(out, inputs, grad_outputs=upstream, allow_unused=True)
    program(*inputs).backward(upstream)
    for x, g, original in zip(inputs, expected, before):
        np.testing.assert_array_equal(x.array, original)
        if g is None:
            assert x.grad is None
        else:
            np.testing.assert_allclose(x.grad.array, g.array, rtol=1e-12, atol=1e-12)
