"""Fused recurrent steps: a whole RNN, LSTM or GRU step as one ``Function`` with a
hand-written backward, the opt-in fast path of ``nn.RNN(..., fused=True)``.

The composed steps in ``cells.py`` build each step from the engine's primitive ops
(an LSTM step is about fifteen nodes), which is what makes the gates visible in a
rendered graph. Here the same math runs as one node per step, so the engine does a
few bookkeeping calls per step instead of dozens; that overhead, not numpy's
arithmetic, dominates small batches and long unrolls.

Each step takes ``x_proj`` (this step's row of the input projection, both biases
included where they fold), the previous state and ``weight_hh_t = weight_hh.T``;
states are (batch, hidden). The gradient for ``weight_hh_t`` is returned as an
``OuterGrad``, so the engine multiplies out the sum over all steps as one matmul.
``tests/nn/test_fused.py`` checks every output and gradient against the composed
steps.

A ``Function`` has one output, so the LSTM step returns ``h`` and ``c`` side by side
as one (batch, 2 * hidden) array, which ``lstm_step`` splits with two slices.

Higher-order gradients (``create_graph=True``): the RNN step's backward is written on its
saved inputs and output, so it records like any op's. The LSTM and GRU steps keep gates
computed in ``forward`` (recomputing them is the cost fusing avoids); they declare that a
recorded pass must refuse them (``refuses_create_graph``), saying to use the composed layer
(``fused=False``).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, OuterGrad
from ..summation import cascaded_sum
from ..tensor import Tensor


def _named(tensor: Tensor, name: str) -> Tensor:
    tensor.name = name
    return tensor


def _check(op: str, gates: int, x_proj: np.ndarray, weight_hh_t: np.ndarray,
           **states: np.ndarray) -> int:
    """The hidden size (the last state's width), after checking every shape and dtype against
    it (naming the op). The first state, ``h``, may be narrower: an LSTM with ``proj_size``."""
    first, last = next(iter(states.values())), list(states.values())[-1]
    if first.ndim != 2 or last.ndim != 2:
        raise ValueError(f"{op}: states must be (batch, hidden), got {first.shape}")
    (batch, width), size = first.shape, last.shape[1]
    expected = {"x_proj": (batch, gates * size), "weight_hh_t": (width, gates * size)}
    expected |= {name: (batch, size) for name in states}
    expected[next(iter(states))] = (batch, width)
    arrays = {"x_proj": x_proj, "weight_hh_t": weight_hh_t, **states}
    for name, array in arrays.items():
        if array.shape != expected[name]:
            raise ValueError(f"{op}: expected {name} of shape {expected[name]}, got {array.shape}")
        if array.dtype != first.dtype or array.dtype.kind != "f":
            raise TypeError(f"{op}: {name} has dtype {array.dtype}; every input must have the "
                            f"same floating dtype as the state ({first.dtype})")
    return size


def _refusal(step: str, layer: str) -> str:
    """Why the fused ``step`` of ``layer`` cannot be differentiated twice, and what to do."""
    return (f"{step}: the fused {layer} step cannot be differentiated twice "
            f"(create_graph=True): its backward uses gates computed in forward. Build the layer "
            f"with fused=False (the composed steps) to take higher-order gradients")


def _gates(gates: np.ndarray, size: int) -> list[np.ndarray]:
    """The four (batch, size) column blocks of LSTM gates, as views (``np.split`` is slower)."""
    return [gates[:, k * size:(k + 1) * size] for k in range(4)]


def _sigmoid_(x: np.ndarray) -> None:
    """``sigmoid(x)`` in place, through tanh as the ``Sigmoid`` op (no overflow)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


class RNNStep(Function):
    """``h' = act(x_proj + h @ weight_hh_t)``, act tanh or relu, as one op.

    >>> import microtensor as mt
    >>> h = RNNStep.apply(mt.zeros(1, 2), mt.ones(1, 2), mt.eye(2), nonlinearity="relu")
    >>> h.tolist()
    [[1.0, 1.0]]
    """

    def forward(self, x_proj: np.ndarray, h: np.ndarray, weight_hh_t: np.ndarray,
                nonlinearity: str = "tanh") -> np.ndarray:
        _check("RNNStep", 1, x_proj, weight_hh_t, h=h)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNStep: nonlinearity must be 'tanh' or 'relu', "
                             f"got {nonlinearity!r}")
        out = h @ weight_hh_t
        out += x_proj
        if nonlinearity == "tanh":
            np.tanh(out, out=out)
        else:
            np.maximum(out, 0, out=out)
        self.nonlinearity = nonlinearity
        self.save_for_backward(h, weight_hh_t, out)  # both derivatives read the output
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        h, weight_hh_t, out = self.saved_tensors
        d_pre = grad * (1 - out * out) if self.nonlinearity == "tanh" else grad * (out > 0)
        need_x, need_h, need_w = self.needs_input_grad
        return (d_pre if need_x else None,
                d_pre @ weight_hh_t.T if need_h else None,
                OuterGrad(h, d_pre) if need_w else None)


class LSTMStep(Function):
    """One LSTM step as one op (gates i, f, g, o as PyTorch); returns ``h'`` and ``c'``
    side by side, (batch, 2 * hidden).

    >>> import microtensor as mt
    >>> state = LSTMStep.apply(mt.zeros(1, 8), mt.zeros(1, 2), mt.ones(1, 2), mt.zeros(2, 8))
    >>> [round(v, 4) for v in state.tolist()[0]]  # h' = sigmoid(0) tanh(c'), c' = sigmoid(0) 1
    [0.2311, 0.2311, 0.5, 0.5]
    """

    refuses_create_graph = _refusal("LSTMStep", "LSTM")

    def forward(self, x_proj: np.ndarray, h: np.ndarray, c: np.ndarray,
                weight_hh_t: np.ndarray) -> np.ndarray:
        size = _check("LSTMStep", 4, x_proj, weight_hh_t, h=h, c=c)
        gates = h @ weight_hh_t
        gates += x_proj
        i, f, g, o = _gates(gates, size)  # views: the activations run in place
        _sigmoid_(gates[:, :2 * size])  # i and f are adjacent
        np.tanh(g, out=g)
        _sigmoid_(o)
        state = np.empty((h.shape[0], 2 * size), h.dtype)
        h_next, c_next = state[:, :size], state[:, size:]
        np.multiply(f, c, out=c_next)
        c_next += i * g
        tanh_c = np.tanh(c_next)
        np.multiply(o, tanh_c, out=h_next)
        self.save_for_backward(h, c, weight_hh_t, gates, tanh_c)
        return state

    def backward(self, grad: np.ndarray) -> tuple:
        h, c, weight_hh_t, gates, tanh_c = self.saved_tensors
        size = c.shape[1]
        i, f, g, o = _gates(gates, size)
        d_h, d_c = grad[:, :size], grad[:, size:]
        d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)  # c' reaches the loss directly and via h'
        # The gradient w.r.t. the activated gates, then through their derivatives:
        # s * (1 - s) for the sigmoids, 1 - g^2 for the candidate.
        d_gates = np.concatenate([d_c * g, d_c * c, d_c * i, d_h * tanh_c], axis=1)
        slope = gates * (1 - gates)
        slope[:, 2 * size:3 * size] = 1 - g * g
        d_gates *= slope
        need_x, need_h, need_c, need_w = self.needs_input_grad
        return (d_gates if need_x else None,
                d_gates @ weight_hh_t.T if need_h else None,
                d_c * f if need_c else None,
                OuterGrad(h, d_gates) if need_w else None)


class GRUStep(Function):
    """One GRU step as one op (gates r, z, n as PyTorch); ``bias_hh`` may be None.

    >>> import microtensor as mt
    >>> GRUStep.apply(mt.zeros(1, 6), mt.ones(1, 2), mt.zeros(2, 6), None).tolist()
    [[0.5, 0.5]]
    """

    refuses_create_graph = _refusal("GRUStep", "GRU")

    def forward(self, x_proj: np.ndarray, h: np.ndarray, weight_hh_t: np.ndarray,
                bias_hh: np.ndarray | None) -> np.ndarray:
        size = _check("GRUStep", 3, x_proj, weight_hh_t, h=h)
        if bias_hh is not None and bias_hh.shape != (3 * size,):
            raise ValueError(f"GRUStep: expected bias_hh of shape {(3 * size,)}, "
                             f"got {bias_hh.shape}")
        h_proj = h @ weight_hh_t
        if bias_hh is not None:
            h_proj += bias_hh
        gates = x_proj[:, :2 * size] + h_proj[:, :2 * size]
        _sigmoid_(gates)
        r, z = gates[:, :size], gates[:, size:]
        n = r * h_proj[:, 2 * size:]
        n += x_proj[:, 2 * size:]
        np.tanh(n, out=n)
        self.save_for_backward(h, weight_hh_t, gates, n, h_proj[:, 2 * size:])
        return n + z * (h - n)

    def backward(self, grad: np.ndarray) -> tuple:
        h, weight_hh_t, gates, n, h_proj_n = self.saved_tensors
        size = h.shape[1]
        r, z = gates[:, :size], gates[:, size:]
        d_n = grad * (1 - z) * (1 - n * n)  # through h' = (1 - z) n + z h, then n's tanh
        d_rz = np.concatenate([d_n * h_proj_n, grad * (h - n)], axis=1)
        d_rz *= gates * (1 - gates)
        # The reset gate scales the hidden projection's n rows: their gradient is d_n * r.
        d_h_proj = np.concatenate([d_rz, d_n * r], axis=1)
        need_x, need_h, need_w, need_b = self.needs_input_grad
        d_h = None
        if need_h:
            d_h = d_h_proj @ weight_hh_t.T
            d_h += grad * z
        return (np.concatenate([d_rz, d_n], axis=1) if need_x else None,
                d_h,
                OuterGrad(h, d_h_proj) if need_w else None,
                cascaded_sum(d_h_proj, 0) if need_b else None)


# ------------------------------------------------- the steps, as cells.py has them
# The signature every step shares (``cells.Step``): x_proj, the state tuple, weight_hh.T,
# bias_hh (None when the layer folded it into x_proj), options as keywords; returns the state.
def rnn_step(x_proj: Tensor, state: tuple[Tensor], weight_hh_t: Tensor,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> tuple[Tensor]:
    """``cells.rnn_step`` as one node; states are (batch, hidden).

    >>> import microtensor as mt
    >>> (h,) = rnn_step(mt.zeros(2, 3), (mt.ones(2, 3),), mt.eye(3), nonlinearity="relu")
    >>> h.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if bias_hh is not None:
        x_proj = x_proj + bias_hh
    return (_named(RNNStep.apply(x_proj, state[0], weight_hh_t, nonlinearity=nonlinearity), "h"),)


def lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], weight_hh_t: Tensor,
              bias_hh: Tensor | None = None, weight_hr_t: Tensor | None = None
              ) -> tuple[Tensor, Tensor]:
    """``cells.lstm_step`` as one node (named ``"h, c"``) and the two slices ``h``
    and ``c`` of its output; with ``weight_hr_t`` (``proj_size``), ``h`` is that slice
    times ``weight_hr_t``, one matmul more.

    >>> import microtensor as mt
    >>> h, c = lstm_step(mt.zeros(1, 8), (mt.zeros(1, 2), mt.ones(1, 2)), mt.zeros(2, 8))
    >>> c.tolist()
    [[0.5, 0.5]]
    """
    if bias_hh is not None:
        x_proj = x_proj + bias_hh
    h, c = state
    both = _named(LSTMStep.apply(x_proj, h, c, weight_hh_t), "h, c")
    size = c.shape[-1]
    if weight_hr_t is None:
        return _named(both[:, :size], "h"), _named(both[:, size:], "c")
    return _named(both[:, :size] @ weight_hr_t, "h"), _named(both[:, size:], "c")


def gru_step(x_proj: Tensor, state: tuple[Tensor], weight_hh_t: Tensor,
             bias_hh: Tensor | None = None) -> tuple[Tensor]:
    """``cells.gru_step`` as one node; states are (batch, hidden).

    >>> import microtensor as mt
    >>> (h,) = gru_step(mt.zeros(1, 6), (mt.ones(1, 2),), mt.zeros(2, 6))
    >>> h.tolist()
    [[0.5, 0.5]]
    """
    return (_named(GRUStep.apply(x_proj, state[0], weight_hh_t, bias_hh), "h"),)
