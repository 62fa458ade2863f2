"""Sequence layers: ``RNN``, ``LSTM`` and ``GRU``, stacked and unrolled over time.

Same signatures, parameter names, shapes, gate order and initialisation as
PyTorch, so a PyTorch ``state_dict`` (as numpy arrays) loads and gives the same
outputs and gradients.

Per layer, the input projection ``x @ W_ih.T + b`` is computed for every
timestep in one matmul; the loop then does one ``h @ W_hh.T`` per step (see
``cells.py``; with ``fused=True``, each step is one op, see ``fused.py``). Each
step runs inside ``mt.scope(layer="lstm.l0", t=t)``, so a rendered graph groups
its ops by layer and time.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import scope
from ..creation import zeros
from ..functions import stack
from ..tensor import Tensor
from . import functional as F
from . import fused as fused_steps
from . import init
from .cells import (
    NONLINEARITIES,
    _check_input,
    _check_size,
    _check_state,
    _scope_label,
    gru_step,
    lstm_step,
    project,
    rnn_step,
)
from .module import Module, empty_parameter


class RNNBase(Module):
    """What the three sequence layers share: parameters per layer, input and state
    handling, dropout between layers, and the loop over time.

    A subclass sets ``gates`` and ``state_names`` and writes ``_step``.

    ``fused=True`` runs each step as one op with a hand-written backward (``fused.py``):
    the same numbers, less engine overhead per step, but a rendered graph shows one
    node per step instead of the gates. The composed steps are the default.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3, num_layers=2)
    >>> isinstance(lstm, RNNBase), lstm.gates, lstm.state_names, lstm.weight_ih_l1.shape
    (True, 4, ('h', 'c'), (12, 3))
    >>> mt.nn.GRU(2, 3, fused=True)
    GRU(2, 3, fused=True)
    """

    gates = 1
    state_names: tuple[str, ...] = ("h",)
    #: RNN and LSTM add ``bias_hh`` to the same sum as ``bias_ih``, so it can join the
    #: input projection; GRU keeps part of it inside the reset gate's product.
    folds_hidden_bias = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, dtype: Any = None,
                 fused: bool = False) -> None:
        super().__init__()
        layer = type(self).__name__
        _check_size(layer, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not 0 <= dropout <= 1:
            raise ValueError(f"{layer}: dropout must be in [0, 1], got {dropout}")
        if not isinstance(fused, bool):
            raise TypeError(f"{layer}: fused must be True or False, got {fused!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.fused = fused
        rows = self.gates * hidden_size
        for k in range(num_layers):
            setattr(self, f"weight_ih_l{k}",
                    empty_parameter(rows, input_size if k == 0 else hidden_size, dtype=dtype))
            setattr(self, f"weight_hh_l{k}", empty_parameter(rows, hidden_size, dtype=dtype))
            if bias:
                setattr(self, f"bias_ih_l{k}", empty_parameter(rows, dtype=dtype))
                setattr(self, f"bias_hh_l{k}", empty_parameter(rows, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _layer_parameters(self, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        params = self._parameters
        return (params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"],
                params.get(f"bias_ih_l{k}"), params.get(f"bias_hh_l{k}"))

    def _step(self, x_proj: Tensor, state: tuple, weight_hh_t: Tensor,
              bias_hh: Tensor | None) -> tuple:
        """One step from ``state`` (a tuple: ``(h,)`` or ``(h, c)``) to the next."""
        raise NotImplementedError(f"{type(self).__name__} must implement _step")

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:  # noqa: A002
        layer, dtype = type(self).__name__, self.weight_ih_l0.dtype
        order = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
        _check_input(layer, input, (2, 3), f"{order} or unbatched (seq, input_size)",
                     self.input_size, dtype)
        batched = input.ndim == 3
        x = self._time_major(input, batched)
        if x.shape[0] == 0:
            raise ValueError(f"{layer}: the input sequence is empty (shape {input.shape})")
        initial = self._initial_states(hx, x.shape[1], batched, dtype)

        label = _scope_label(self)
        finals = []
        for k in range(self.num_layers):
            if k and self.training and self.dropout:
                x = F.dropout(x, self.dropout)
            x, state = self._run_layer(k, x, tuple(s[k] for s in initial), f"{label}.l{k}")
            finals.append(state)

        output = self._caller_layout(x, batched)
        final = [stack(list(states)) for states in zip(*finals)]  # (num_layers, batch, hidden)
        if not batched:
            final = [s.squeeze(1) for s in final]
        return output, (final[0] if len(final) == 1 else tuple(final))

    def _time_major(self, x: Tensor, batched: bool) -> Tensor:
        """The caller's layout to (seq, batch, features)."""
        if not batched:
            return x.unsqueeze(1)
        return x.transpose(0, 1) if self.batch_first else x

    def _caller_layout(self, x: Tensor, batched: bool) -> Tensor:
        """(seq, batch, features) back to the caller's layout."""
        if not batched:
            return x.squeeze(1)
        return x.transpose(0, 1) if self.batch_first else x

    def _initial_states(self, hx: Any, batch: int, batched: bool, dtype: Any) -> list[Tensor]:
        """Each state (h, or h and c) as (num_layers, batch, hidden): checked, or zeros."""
        layer, count = type(self).__name__, len(self.state_names)
        shape = (self.num_layers, batch, self.hidden_size)
        if hx is None:
            return [zeros(shape, dtype=dtype) for _ in range(count)]
        if count == 1:
            hx = (hx,)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == count):
            raise TypeError(f"{layer}: hx must be a tuple {tuple(n + '0' for n in self.state_names)}")
        expected = shape if batched else (self.num_layers, self.hidden_size)
        for name, state in zip(self.state_names, hx):
            _check_state(layer, f"{name}0", state, expected, dtype)
        return list(hx) if batched else [s.unsqueeze(1) for s in hx]

    def _run_layer(self, k: int, x: Tensor, state: tuple, label: str) -> tuple[Tensor, tuple]:
        """Unroll layer ``k`` over ``x`` (seq, batch, features); return its outputs and
        its final state."""
        weight_ih, weight_hh, bias_ih, bias_hh = self._layer_parameters(k)
        with scope(layer=label):
            if self.folds_hidden_bias and bias_ih is not None:
                x_proj = project(x, weight_ih, bias_ih + bias_hh)
            else:
                x_proj = project(x, weight_ih, bias_ih)
            x_proj.name = "x_proj"
            weight_hh_t = weight_hh.T  # transposed once, used at every step
        outputs = []
        for t in range(x.shape[0]):
            with scope(layer=label, t=t):
                state = self._step(x_proj[t], state, weight_hh_t, bias_hh)
            outputs.append(state[0])
        return stack(outputs), state

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "fused": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                extra += f", {name}={getattr(self, name)}"
        return extra


class RNN(RNNBase):
    """A stack of Elman RNN layers: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``
    (or relu).

    Input (seq, batch, input_size), (batch, seq, input_size) with ``batch_first``, or
    unbatched (seq, input_size); ``hx`` (num_layers, batch, hidden_size) defaults to zeros.
    Returns ``(output, h_n)``: the top layer's ``h`` at every step, and every layer's last ``h``.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(3, 5, num_layers=2, nonlinearity="relu")
    >>> rnn
    RNN(3, 5, num_layers=2, nonlinearity='relu')
    >>> output, h_n = rnn(mt.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, dtype: Any = None, fused: bool = False) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNN: nonlinearity must be one of {NONLINEARITIES}, "
                             f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, dtype,
                         fused)
        self.nonlinearity = nonlinearity

    def _step(self, x_proj: Tensor, state: tuple, weight_hh_t: Tensor,
              bias_hh: Tensor | None) -> tuple:
        step = fused_steps.rnn_step if self.fused else rnn_step
        return (step(x_proj, state[0], weight_hh_t, self.nonlinearity),)

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.nonlinearity == "tanh" else f"{extra}, nonlinearity='relu'"


class LSTM(RNNBase):
    """A stack of LSTM layers (gates i, f, g, o as PyTorch).

    Input as ``RNN``; ``hx = (h0, c0)``, each (num_layers, batch, hidden_size), defaults
    to zeros. Returns ``(output, (h_n, c_n))``.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    >>> output, (h_n, c_n) = lstm(mt.randn(4, 7, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((4, 7, 5), (2, 4, 5), (2, 4, 5))

    Truncated backpropagation through time: carry the state across chunks of a
    long sequence, but ``detach`` it, so each backward stops at its chunk's start.

    >>> x = mt.randn(4, 30, 3)
    >>> state = None
    >>> for chunk in x.split(10, dim=1):
    ...     output, state = lstm(chunk, state)
    ...     output.sum().backward()
    ...     state = tuple(s.detach() for s in state)
    """

    gates = 4
    state_names = ("h", "c")

    def _step(self, x_proj: Tensor, state: tuple, weight_hh_t: Tensor,
              bias_hh: Tensor | None) -> tuple:
        step = fused_steps.lstm_step if self.fused else lstm_step
        return step(x_proj, state[0], state[1], weight_hh_t)


class GRU(RNNBase):
    """A stack of GRU layers (gates r, z, n as PyTorch, with
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    Input, ``hx`` and outputs as ``RNN``.

    >>> import microtensor as mt
    >>> gru = mt.nn.GRU(3, 5)
    >>> [name for name, _ in gru.named_parameters()]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    >>> output, h_n = gru(mt.randn(7, 3))  # unbatched
    >>> output.shape, h_n.shape
    ((7, 5), (1, 5))
    """

    gates = 3
    folds_hidden_bias = False

    def _step(self, x_proj: Tensor, state: tuple, weight_hh_t: Tensor,
              bias_hh: Tensor | None) -> tuple:
        step = fused_steps.gru_step if self.fused else gru_step
        return (step(x_proj, state[0], weight_hh_t, bias_hh),)
