"""Sequence layers: ``RNN``, ``LSTM`` and ``GRU``, stacked and unrolled over time.

Same signatures, parameter names, shapes, gate order and initialisation as
PyTorch, so a PyTorch ``state_dict`` (as numpy arrays) loads and gives the same
outputs and gradients.

Per layer, the input projection ``x @ W_ih.T + b`` is computed for every
timestep in one matmul; the loop then does one ``h @ W_hh.T`` per step (see
``cells.py``; with ``fused=True``, each step is one op, see ``fused.py``). Each
step runs inside ``mt.scope(layer="lstm.l0", t=t, cell=LSTMCell)`` (``"lstm.l0_reverse"``
for the second direction of a bidirectional layer), so a rendered graph groups its ops by
layer, direction and time, and reads the step's states and gates from the cell's
declarations.

A ``PackedSequence`` input runs packed: the input projection covers the real steps
only, and at step ``t`` the first ``batch_sizes[t]`` sequences (the longest, as
packing sorts them) take a step, so padding is never computed at all. Each packed step
also carries the tags ``padding`` (the rows of the caller's batch that are padding
there, a tuple) and ``batch`` (the batch size), so a rendered graph can show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..autograd import collector_paused, scope
from ..creation import zeros
from ..devices import check_device
from ..functions import cat, stack
from ..tensor import Tensor, _raw
from . import functional as F
from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase, Step, project
from .checks import check_input, check_nonlinearity, check_sizes, check_state, reset_uniform, scope_label
from .module import Module, empty_parameter
from .utils.rnn import PackedSequence


def _check_proj_size(layer: str, proj_size: Any, hidden_size: int,
                     cell: type[RNNCellBase]) -> None:
    """PyTorch's rules for ``proj_size``: an int in [0, hidden_size), nonzero only for a cell
    whose step projects (the LSTM's).

    >>> _check_proj_size("LSTM", 4, 4, LSTMCell)
    Traceback (most recent call last):
    ...
    ValueError: LSTM: proj_size has to be smaller than hidden_size (4), got 4
    """
    if not isinstance(proj_size, int) or isinstance(proj_size, bool):
        raise TypeError(f"{layer}: proj_size must be an int, got {proj_size!r}")
    if proj_size and not cell.projects:
        raise ValueError(f"{layer}: proj_size argument is only supported for LSTM, not RNN or "
                         f"GRU ({cell.__name__} declares no projection)")
    if proj_size < 0:
        raise ValueError(f"{layer}: proj_size should be a positive integer or zero to disable "
                         f"projections, got {proj_size}")
    if proj_size >= hidden_size:
        raise ValueError(f"{layer}: proj_size has to be smaller than hidden_size "
                         f"({hidden_size}), got {proj_size}")


class RNNBase(Module):
    """What the sequence layers share: parameters per layer and direction, input and state
    handling, packed sequences, dropout between layers, and the loop over time.

    A subclass declares one thing, ``cell``: the ``RNNCellBase`` subclass whose ``step``
    (and ``fused_step``), ``gates``, ``state_names`` and options it unrolls; every step is
    tagged ``cell=`` that class, and its ``gate_names`` and ``gate_labels`` are copied here
    with the others.

    ``fused=True`` runs each step as one op with a hand-written backward (the cell's
    ``fused_step``, from ``fused.py``): the same numbers, less engine overhead per step, but
    a rendered graph shows one node per step instead of the gates. The composed steps are
    the default.

    ``bidirectional=True`` adds a second pass over every layer, from the last step to the
    first, with its own parameters (suffix ``_reverse``) and ``layer`` tag
    (``"lstm.l0_reverse"``); the layer's output is both passes side by side (forward half
    first), and states are ordered layer 0 forward, layer 0 reverse, layer 1 forward, ...

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(2, 3, num_layers=2)
    >>> isinstance(lstm, RNNBase), lstm.gates, lstm.state_names, lstm.weight_ih_l1.shape
    (True, 4, ('h', 'c'), (12, 3))
    >>> lstm.gate_names
    ('forget', 'input', 'candidate', 'output')
    >>> mt.nn.GRU(2, 3, fused=True)
    GRU(2, 3, fused=True)
    """

    cell: type[RNNCellBase]
    gates: int
    state_names: tuple[str, ...]
    gate_names: tuple[str, ...]
    gate_labels: Mapping[str, str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cell = cls.__dict__.get("cell", getattr(cls, "cell", None))
        if not (isinstance(cell, type) and issubclass(cell, RNNCellBase)):
            raise TypeError(f"{cls.__name__}: declare cell, the RNNCellBase subclass whose step "
                            f"the layer unrolls, got {cell!r}")
        # Class attributes, so whoever reads the declarations (the renderer) finds them here.
        cls.gates, cls.state_names = cell.gates, cell.state_names
        cls.gate_names, cls.gate_labels = cell.gate_names, cell.gate_labels

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None, *,
                 fused: bool = False) -> None:
        super().__init__()
        layer = type(self).__name__
        check_device(device)
        check_sizes(layer, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        _check_proj_size(layer, proj_size, hidden_size, self.cell)
        if not 0 <= dropout <= 1:
            raise ValueError(f"{layer}: dropout must be in [0, 1], got {dropout}")
        for flag, value in (("bidirectional", bidirectional), ("fused", fused)):
            if not isinstance(value, bool):
                raise TypeError(f"{layer}: {flag} must be True or False, got {value!r}")
        if fused and self.cell.fused_step is None:
            raise ValueError(f"{layer}: fused=True, but {self.cell.__name__} declares no "
                             "fused_step; use the composed steps (fused=False)")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional, self.fused, self.proj_size = bidirectional, fused, proj_size
        rows, directions = self.cell.gates * hidden_size, 2 if bidirectional else 1
        out_size = proj_size or hidden_size  # the width of h, each layer's output per direction
        for k in range(num_layers):
            for suffix in self._suffixes():
                inputs = input_size if k == 0 else directions * out_size
                setattr(self, f"weight_ih_l{k}{suffix}", empty_parameter(rows, inputs, dtype=dtype))
                setattr(self, f"weight_hh_l{k}{suffix}",
                        empty_parameter(rows, out_size, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", empty_parameter(rows, dtype=dtype))
                    setattr(self, f"bias_hh_l{k}{suffix}", empty_parameter(rows, dtype=dtype))
                if proj_size:
                    setattr(self, f"weight_hr_l{k}{suffix}",
                            empty_parameter(proj_size, hidden_size, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        reset_uniform(self, self.hidden_size)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _layer_parameters(self, name: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        params = self._parameters
        return (params[f"weight_ih_{name}"], params[f"weight_hh_{name}"],
                params.get(f"bias_ih_{name}"), params.get(f"bias_hh_{name}"))

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor | PackedSequence, hx: Any = None  # noqa: A002
                ) -> tuple[Tensor | PackedSequence, Any]:
        layer, dtype = type(self).__name__, self.weight_ih_l0.dtype
        packed = isinstance(input, PackedSequence)
        if packed:
            check_input(layer, input.data, (2,), f"PackedSequence data (steps, {self.input_size})",
                        self.input_size, dtype)
            batch_sizes = np.asarray(_raw(input.batch_sizes))
            x, batched, batch = input.data, True, int(batch_sizes[0])
        else:
            order = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            check_input(layer, input, (2, 3), f"{order} or unbatched (seq, input_size)",
                        self.input_size, dtype)
            batch_sizes, batched = None, input.ndim == 3
            x = self._time_major(input, batched)
            if x.shape[0] == 0:
                raise ValueError(f"{layer}: the input sequence is empty (shape {input.shape})")
            batch = x.shape[1]
        initial = self._initial_states(hx, batch, batched, dtype)
        if packed and input.sorted_indices is not None:  # the caller's batch order to packed
            initial = [s[:, np.asarray(_raw(input.sorted_indices))] for s in initial]

        label = scope_label(self)
        rows = None  # the caller's batch row of each packed row, for the padding tags
        if packed:
            rows = (np.arange(batch) if input.sorted_indices is None
                    else np.asarray(_raw(input.sorted_indices)))
        finals = []
        with collector_paused():  # a long unroll would set off full collections pass after pass
            for k in range(self.num_layers):
                if k and self.training and self.dropout:
                    x = F.dropout(x, self.dropout)
                outputs = []
                for d, suffix in enumerate(self._suffixes()):
                    start = tuple(s[k * len(self._suffixes()) + d] for s in initial)
                    output, final = self._run_direction(f"l{k}{suffix}", x, start, bool(d),
                                                        batch_sizes, rows, label)
                    outputs.append(output)
                    finals.append(final)
                x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=-1)

        final = [stack(list(states)) for states in zip(*finals)]  # (layers * directions, B, H)
        if packed:
            if input.unsorted_indices is not None:  # back to the caller's batch order
                final = [s[:, np.asarray(_raw(input.unsorted_indices))] for s in final]
            output = PackedSequence(x, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            output = self._caller_layout(x, batched)
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
        """Each state (h, or h and c) as (layers * directions, batch, width): checked, or
        zeros. The width is hidden_size, but proj_size for h under a projection."""
        layer, count = type(self).__name__, len(self.state_names)
        widths = [self.proj_size or self.hidden_size] + [self.hidden_size] * (count - 1)
        shapes = [(self.num_layers * len(self._suffixes()), batch, w) for w in widths]
        if hx is None:
            return [zeros(shape, dtype=dtype) for shape in shapes]
        if count == 1:
            hx = (hx,)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == count):
            raise TypeError(f"{layer}: hx must be a tuple {tuple(n + '0' for n in self.state_names)}")
        for name, state, shape in zip(self.state_names, hx, shapes):
            expected = shape if batched else (shape[0], shape[2])
            check_state(layer, f"{name}0", state, expected, dtype)
        return list(hx) if batched else [s.unsqueeze(1) for s in hx]

    def _run_direction(self, name: str, x: Tensor, state: tuple, reverse: bool,
                       batch_sizes: np.ndarray | None, rows: np.ndarray | None,
                       label: str) -> tuple[Tensor, tuple]:
        """Unroll the parameters ``name`` (``"l0"``, ``"l0_reverse"``) over ``x``, (seq,
        batch, features), or packed data (steps, features) with ``batch_sizes`` and the
        caller's batch row of each packed row, ``rows``; return the outputs in the same
        layout and the final state."""
        weight_ih, weight_hh, bias_ih, bias_hh = self._layer_parameters(name)
        label, cell = f"{label}.{name}", self.cell
        with scope(layer=label, cell=cell):
            if self.cell.folds_hidden_bias and bias_ih is not None:
                x_proj, bias_hh = project(x, weight_ih, bias_ih + bias_hh), None
            else:
                x_proj = project(x, weight_ih, bias_ih)
            x_proj.name = "x_proj"
            weight_hh_t = weight_hh.T  # transposed once, used at every step
        step: Step = self.cell.fused_step if self.fused else self.cell.step
        options = {option: getattr(self, option) for option in self.cell.step_options}
        if self.proj_size:
            with scope(layer=label, cell=cell):
                options["weight_hr_t"] = self._parameters[f"weight_hr_{name}"].T  # once, as W_hh

        def run(t: int, rows: int | slice, state: tuple, **tags: Any) -> tuple:
            # The step reads its rows of x_proj itself, so what it sends back to x_proj is
            # tagged with its step (how a recording splits W_ih's gradient by step).
            with scope(layer=label, t=t, cell=cell, **tags):
                return step(x_proj[rows], state, weight_hh_t, bias_hh, **options)

        if batch_sizes is None:
            outputs = [None] * x.shape[0]
            for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
                state = run(t, t, state)
                outputs[t] = state[0]
            return stack(outputs), state
        return self._run_packed(run, state, reverse, batch_sizes, rows)

    @staticmethod
    def _run_packed(run: Any, initial: tuple, reverse: bool,
                    batch_sizes: np.ndarray, rows: np.ndarray) -> tuple[Tensor, tuple]:
        """The loop over packed steps: at step ``t`` the first ``batch_sizes[t]`` sequences
        run. Forward, a sequence's final state is set aside when it ends; in reverse, a
        sequence joins at its own last step with its initial state. Each step is tagged
        with the caller's rows that are padding there (``padding``) and the ``batch`` size."""
        starts = np.concatenate([[0], np.cumsum(batch_sizes)])
        outputs = [None] * len(batch_sizes)
        batch = len(rows)
        padding = [{"padding": tuple(sorted(int(r) for r in rows[size:])), "batch": batch}
                   for size in batch_sizes]
        if not reverse:
            state, ended = initial, []
            for t, size in enumerate(batch_sizes):
                if size < state[0].shape[0]:
                    ended.append(tuple(s[size:] for s in state))
                    state = tuple(s[:size] for s in state)
                state = run(t, slice(starts[t], starts[t + 1]), state, **padding[t])
                outputs[t] = state[0]
            pieces = [state, *reversed(ended)]  # rows 0.. first: they ran longest
            final = tuple(cat(list(rows)) if len(pieces) > 1 else rows[0]
                          for rows in zip(*pieces))
            return cat(outputs), final
        running = int(batch_sizes[-1])
        state = tuple(s[:running] for s in initial)
        for t in reversed(range(len(batch_sizes))):
            size = int(batch_sizes[t])
            if size > running:  # sequences whose last step is t start here
                state = tuple(cat([s, s0[running:size]]) for s, s0 in zip(state, initial))
                running = size
            state = run(t, slice(starts[t], starts[t + 1]), state, **padding[t])
            outputs[t] = state[0]
        return cat(outputs), state

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:  # where PyTorch shows it
            extra += f", proj_size={self.proj_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "fused": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                extra += f", {name}={getattr(self, name)}"
        return extra


class RNN(RNNBase):
    """A stack of Elman RNN layers: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``
    (or relu).

    Input (seq, batch, input_size), (batch, seq, input_size) with ``batch_first``,
    unbatched (seq, input_size), or a ``PackedSequence``; ``hx`` (num_layers * directions,
    batch, hidden_size) defaults to zeros. Returns ``(output, h_n)``: the top layer's ``h``
    at every step (both directions side by side if bidirectional; packed if the input was),
    and every layer's last ``h``.

    >>> import microtensor as mt
    >>> rnn = mt.nn.RNN(3, 5, num_layers=2, nonlinearity="relu")
    >>> rnn
    RNN(3, 5, num_layers=2, nonlinearity='relu')
    >>> output, h_n = rnn(mt.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 5), (2, 4, 5))
    >>> output, h_n = mt.nn.RNN(3, 5, bidirectional=True)(mt.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 10), (2, 4, 5))
    """

    cell = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None, *, fused: bool = False) -> None:
        check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, fused=fused)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.nonlinearity == "tanh" else f"{extra}, nonlinearity='relu'"


class LSTM(RNNBase):
    """A stack of LSTM layers (gates i, f, g, o as PyTorch).

    Input as ``RNN``; ``hx = (h0, c0)``, each (num_layers * directions, batch, hidden_size),
    defaults to zeros. Returns ``(output, (h_n, c_n))``.

    >>> import microtensor as mt
    >>> lstm = mt.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    >>> output, (h_n, c_n) = lstm(mt.randn(4, 7, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((4, 7, 5), (2, 4, 5), (2, 4, 5))

    With ``proj_size`` (PyTorch's LSTM with projections), each step's ``h`` is multiplied by
    ``weight_hr_l{k}.T`` (``weight_hr_l{k}`` is (proj_size, hidden_size)): ``h``, the output
    and the next layer's input have proj_size features per direction, ``c`` keeps
    hidden_size. ``fused=True`` runs the step fused and the projection as one more matmul.

    >>> output, (h_n, c_n) = mt.nn.LSTM(3, 5, proj_size=2)(mt.randn(7, 4, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((7, 4, 2), (1, 4, 2), (1, 4, 5))

    Truncated backpropagation through time: carry the state across chunks of a
    long sequence, but ``detach`` it, so each backward stops at its chunk's start.

    >>> x = mt.randn(4, 30, 3)
    >>> state = None
    >>> for chunk in x.split(10, dim=1):
    ...     output, state = lstm(chunk, state)
    ...     output.sum().backward()
    ...     state = tuple(s.detach() for s in state)
    """

    cell = LSTMCell


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

    cell = GRUCell
