"""Recurrent cells: one step of a vanilla RNN, an LSTM and a GRU.

The math is written once, as functions on tensors, and shared by the cell
modules here and the sequence layers in ``recurrent.py``. It uses the engine's
ops only, so backpropagation through time is just ``loss.backward()``.

A step is split the way a fast implementation needs it:

- ``project``: the input's contribution to every gate, ``x @ W_ih.T + b``. It
  does not depend on the previous state, so a sequence layer computes it for
  all timesteps in one matmul;
- ``*_step``: what must run step by step, one ``h @ W_hh.T`` for all gates
  together, then the gates (split by slicing, in PyTorch's order).

Each gate is computed inside ``mt.scope(gate=...)`` and its tensor is named, so
a rendered graph shows the gates; without a renderer this costs a few
attribute stores per step.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import scope
from ..creation import zeros
from ..tensor import Tensor
from . import init
from .module import Module, empty_parameter

NONLINEARITIES = ("tanh", "relu")


def _named(tensor: Tensor, name: str) -> Tensor:
    tensor.name = name
    return tensor


# ------------------------------------------------------------------ the math
def project(input: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:  # noqa: A002
    """``input @ weight_ih.T + bias`` for input (..., I), as one 2-D matmul.

    Leading dimensions (time, batch) are flattened first, so the backward pass
    for the weight is one large matrix product too.

    >>> import microtensor as mt
    >>> project(mt.ones(5, 2, 3), mt.ones(8, 3), mt.zeros(8)).shape
    (5, 2, 8)
    """
    lead = input.shape[:-1]
    flat = input.reshape(-1, input.shape[-1]) if input.ndim > 2 else input
    out = flat @ weight_ih.T
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, out.shape[-1]) if input.ndim > 2 else out


def rnn_step(x_proj: Tensor, h: Tensor, weight_hh_t: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """``h' = act(x_proj + h @ W_hh.T)``, where ``x_proj`` already holds both biases.

    >>> import microtensor as mt
    >>> rnn_step(mt.zeros(2, 3), mt.ones(2, 3), mt.eye(3), "relu").tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    pre = x_proj + h @ weight_hh_t
    return _named(pre.tanh() if nonlinearity == "tanh" else pre.relu(), "h")


def lstm_step(x_proj: Tensor, h: Tensor, c: Tensor, weight_hh_t: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM step; ``x_proj`` holds the input's part of the gates (rows i, f, g, o)
    and both biases.

    ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')``.

    >>> import microtensor as mt
    >>> h, c = lstm_step(mt.zeros(1, 8), mt.zeros(1, 2), mt.ones(1, 2), mt.zeros(2, 8))
    >>> c.tolist()  # forget gate sigmoid(0) = 0.5 keeps half of c; candidate tanh(0) = 0 adds nothing
    [[0.5, 0.5]]
    """
    size = h.shape[-1]
    gates = x_proj + h @ weight_hh_t
    with scope(gate="input"):
        i = _named(gates[..., :size].sigmoid(), "input")
    with scope(gate="forget"):
        f = _named(gates[..., size:2 * size].sigmoid(), "forget")
    with scope(gate="candidate"):
        g = _named(gates[..., 2 * size:3 * size].tanh(), "candidate")
    with scope(gate="output"):
        o = _named(gates[..., 3 * size:].sigmoid(), "output")
    c = _named(f * c + i * g, "c")
    return _named(o * c.tanh(), "h"), c


def gru_step(x_proj: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One GRU step; ``x_proj`` holds the input's part of the gates (rows r, z, n) and
    ``bias_ih`` only, because ``bias_hh``'s n rows sit inside the reset gate's product:

    ``r, z = sigmoid(.)``, ``n = tanh(x_n + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    >>> import microtensor as mt
    >>> gru_step(mt.zeros(1, 6), mt.ones(1, 2), mt.zeros(2, 6), None).tolist()  # z = 0.5, n = 0
    [[0.5, 0.5]]
    """
    size = h.shape[-1]
    h_proj = h @ weight_hh_t
    if bias_hh is not None:
        h_proj = h_proj + bias_hh
    with scope(gate="reset"):
        r = _named((x_proj[..., :size] + h_proj[..., :size]).sigmoid(), "reset")
    with scope(gate="update"):
        z = _named((x_proj[..., size:2 * size] + h_proj[..., size:2 * size]).sigmoid(), "update")
    with scope(gate="new"):
        n = _named((x_proj[..., 2 * size:] + r * h_proj[..., 2 * size:]).tanh(), "new")
    return _named(n + z * (h - n), "h")  # (1 - z) * n + z * h, one op fewer


def _sum_biases(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    """RNN and LSTM add both biases to the same sum, so they can join the input projection."""
    if bias_ih is None:
        return bias_hh
    return bias_ih if bias_hh is None else bias_ih + bias_hh


def rnn_cell(input: Tensor, hx: Tensor, weight_ih: Tensor, weight_hh: Tensor,  # noqa: A002
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
             nonlinearity: str = "tanh") -> Tensor:
    """``h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, the functional ``RNNCell``.

    >>> import microtensor as mt
    >>> rnn_cell(mt.ones(1, 2), mt.zeros(1, 3), mt.zeros(3, 2), mt.eye(3)).shape
    (1, 3)
    """
    return rnn_step(project(input, weight_ih, _sum_biases(bias_ih, bias_hh)), hx, weight_hh.T,
                    nonlinearity)


def lstm_cell(input: Tensor, hx: tuple[Tensor, Tensor], weight_ih: Tensor,  # noqa: A002
              weight_hh: Tensor, bias_ih: Tensor | None = None,
              bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step from ``hx = (h, c)`` to ``(h', c')``, the functional ``LSTMCell``.

    >>> import microtensor as mt
    >>> h, c = lstm_cell(mt.ones(1, 2), (mt.zeros(1, 3), mt.zeros(1, 3)), mt.zeros(12, 2),
    ...                  mt.zeros(12, 3))
    >>> h.shape, c.shape
    ((1, 3), (1, 3))
    """
    h, c = hx
    return lstm_step(project(input, weight_ih, _sum_biases(bias_ih, bias_hh)), h, c, weight_hh.T)


def gru_cell(input: Tensor, hx: Tensor, weight_ih: Tensor, weight_hh: Tensor,  # noqa: A002
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> Tensor:
    """One GRU step from ``h`` to ``h'``, the functional ``GRUCell``.

    >>> import microtensor as mt
    >>> gru_cell(mt.ones(1, 2), mt.zeros(1, 3), mt.zeros(9, 2), mt.zeros(9, 3)).shape
    (1, 3)
    """
    return gru_step(project(input, weight_ih, bias_ih), hx, weight_hh.T, bias_hh)


# ------------------------------------------------- shared checks and labels
def _check_size(layer: str, **sizes: int) -> None:
    """Reject sizes that are not positive integers, naming the layer and the argument."""
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def _check_state(layer: str, what: str, state: Any, shape: tuple, dtype: Any) -> None:
    """Reject an initial state of the wrong type, shape or dtype, naming the layer."""
    if not isinstance(state, Tensor):
        raise TypeError(f"{layer}: {what} must be a Tensor, got {type(state).__name__}")
    if state.shape != shape:
        raise ValueError(f"{layer}: expected {what} of shape {shape}, got {state.shape}")
    if state.dtype != dtype:
        raise TypeError(f"{layer}: {what} has dtype {state.dtype} but the parameters have "
                        f"{dtype}")


def _check_input(layer: str, input: Tensor, ndims: tuple[int, int], shapes: str,  # noqa: A002
                 input_size: int, dtype: Any) -> None:
    """Reject an input of the wrong type, rank, feature size or dtype, naming the layer."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in ndims or input.shape[-1] != input_size:
        raise ValueError(f"{layer}: expected input of shape {shapes} with input_size "
                         f"{input_size}, got {input.shape}")
    if input.dtype != dtype:
        raise TypeError(f"{layer}: input has dtype {input.dtype} but the parameters have "
                        f"{dtype}; convert the input, or the model with .to(dtype)")


def _scope_label(module: Module) -> str:
    """The ``layer`` tag of a module's ops: its path in the model, or its class for a
    standalone module (``"lstm"``)."""
    return module.path or type(module).__name__.lower()


# --------------------------------------------------------------------- modules
class RNNCellBase(Module):
    """Parameters, initialisation and input checks shared by the three cells.

    ``weight_ih`` (gates * hidden_size, input_size), ``weight_hh`` (gates * hidden_size,
    hidden_size), ``bias_ih`` and ``bias_hh`` (gates * hidden_size), all drawn from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as PyTorch.

    A cell does not know the timestep, so it tags its ops with its layer name only;
    wrap a call in ``mt.scope(t=t)`` to add the step.

    >>> import microtensor as mt
    >>> cell = mt.nn.GRUCell(2, 3)
    >>> isinstance(cell, RNNCellBase), cell.gates, cell.state_names, cell.weight_ih.shape
    (True, 3, ('h',), (9, 2))
    """

    gates = 1
    #: The names of the state tensors a step carries, in the order the cell takes and
    #: returns them: ``("h",)``, or ``("h", "c")`` for the LSTM.
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        _check_size(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = empty_parameter(rows, input_size, dtype=dtype)
        self.weight_hh = empty_parameter(rows, hidden_size, dtype=dtype)
        self.bias_ih = empty_parameter(rows, dtype=dtype) if bias else None
        self.bias_hh = empty_parameter(rows, dtype=dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _states(self, input: Tensor, hx: tuple | None, count: int) -> tuple:  # noqa: A002
        """Check ``input`` and the ``count`` state tensors in ``hx`` (zeros if None)."""
        layer, dtype = type(self).__name__, self.weight_ih.dtype
        shapes = f"(batch, {self.input_size}) or ({self.input_size},)"
        _check_input(layer, input, (1, 2), shapes, self.input_size, dtype)
        shape = (*input.shape[:-1], self.hidden_size)
        if hx is None:
            return tuple(zeros(shape, dtype=dtype) for _ in range(count))
        names = ("hx",) if count == 1 else ("h", "c")
        for name, state in zip(names, hx):
            _check_state(layer, name, state, shape, dtype)
        return hx

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + (
            "" if self.bias_ih is not None else ", bias=False")


class RNNCell(RNNCellBase):
    """An Elman RNN cell: ``h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` (or relu).

    Input (batch, input_size) or unbatched (input_size,); ``hx`` defaults to zeros.

    >>> import microtensor as mt
    >>> cell = mt.nn.RNNCell(3, 5, nonlinearity="relu")
    >>> cell
    RNNCell(3, 5, nonlinearity='relu')
    >>> h = cell(mt.ones(2, 3))
    >>> h = cell(mt.ones(2, 3), h)
    >>> h.shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNNCell: nonlinearity must be one of {NONLINEARITIES}, "
                             f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        (h,) = self._states(input, None if hx is None else (hx,), 1)
        with scope(layer=_scope_label(self)):
            return rnn_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih,
                            self.bias_hh, self.nonlinearity)

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.nonlinearity == "tanh" else f"{extra}, nonlinearity='relu'"


class LSTMCell(RNNCellBase):
    """A long short-term memory cell (gates i, f, g, o as PyTorch); returns ``(h', c')``.

    Input (batch, input_size) or unbatched (input_size,); ``hx = (h, c)`` defaults to zeros.

    >>> import microtensor as mt
    >>> cell = mt.nn.LSTMCell(3, 5)
    >>> cell.weight_ih.shape
    (20, 3)
    >>> h, c = cell(mt.ones(2, 3))
    >>> h, c = cell(mt.ones(2, 3), (h, c))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """

    gates = 4
    state_names = ("h", "c")

    def forward(self, input: Tensor,  # noqa: A002
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTMCell: hx must be a pair (h, c)")
        h, c = self._states(input, hx, 2)
        with scope(layer=_scope_label(self)):
            return lstm_cell(input, (h, c), self.weight_ih, self.weight_hh, self.bias_ih,
                             self.bias_hh)


class GRUCell(RNNCellBase):
    """A gated recurrent unit cell (gates r, z, n as PyTorch).

    Input (batch, input_size) or unbatched (input_size,); ``hx`` defaults to zeros.

    >>> import microtensor as mt
    >>> cell = mt.nn.GRUCell(3, 5)
    >>> cell.weight_hh.shape
    (15, 5)
    >>> cell(mt.ones(3)).shape
    (5,)
    """

    gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        (h,) = self._states(input, None if hx is None else (hx,), 1)
        with scope(layer=_scope_label(self)):
            return gru_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
