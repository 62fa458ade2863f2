"""Recurrent cells: one step of a vanilla RNN, an LSTM and a GRU.

The math is written once, as functions on tensors, and shared by the cell
modules here and the sequence layers in ``recurrent.py``. It uses the engine's
ops only, so backpropagation through time is just ``loss.backward()``.

A step is split the way a fast implementation needs it:

- ``project``: the input's contribution to every gate, ``x @ W_ih.T + b``. It
  does not depend on the previous state, so a sequence layer computes it for
  all timesteps in one matmul;
- ``*_step``: what must run step by step, one ``h @ W_hh.T`` for all gates
  together, then the gates (split by slicing, in PyTorch's order). Every step has
  the signature of ``Step``, so a layer unrolls any cell the same way.

Each cell class declares its step (and its fused step, from ``fused.py``); the
sequence layers in ``recurrent.py`` name the cell they unroll. See ``RNNCellBase``
for what a new cell declares.

Each gate is computed inside ``gate(name)`` (``mt.nn.gate``) and its tensor is named,
and each step is tagged with its cell (``cell=LSTMCell``), whose declarations say which
states and gates a step has, so a rendered graph shows the gates and finds the states.
Without a renderer this costs a few attribute stores per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from ..autograd import scope
from ..creation import zeros
from ..devices import check_device
from ..tensor import Tensor
from . import fused
from .checks import check_input, check_nonlinearity, check_sizes, check_state, reset_uniform, scope_label
from .module import Module, empty_parameter


class Step(Protocol):
    """What a cell declares as its ``step`` (and ``fused_step``): one step from ``state`` (a
    tuple, ``(h,)`` or ``(h, c)``) to the next, given this step's input projection
    ``x_proj``, ``weight_hh_t = weight_hh.T`` and ``bias_hh`` (None when the layer folded it
    into ``x_proj``); options such as ``nonlinearity`` come as keywords."""

    def __call__(self, x_proj: Tensor, state: tuple[Tensor, ...], weight_hh_t: Tensor,
                 bias_hh: Tensor | None = None, **options: Any) -> tuple[Tensor, ...]: ...


class CellDeclaration(Protocol):
    """What a step's ``cell`` scope tag carries for the renderer: every ``RNNCellBase``
    subclass, or any object with these three attributes (see ``RNNCellBase``)."""

    state_names: tuple[str, ...]
    gate_names: tuple[str, ...]
    gate_labels: Mapping[str, str]


class gate(scope):  # noqa: N801 - used like a function, as mt.scope
    """``with gate("forget"):`` names the gate computed inside; the same tag as
    ``mt.scope(gate="forget")``. ``mt.viz.trace`` gives the tensor that leaves the block the
    gate's name (unless it has a name of its own), so the gate is a named box in a picture.

    >>> import microtensor as mt
    >>> x = mt.ones(2, requires_grad=True)
    >>> with mt.scope(t=0), mt.nn.gate("forget"):
    ...     f = x.sigmoid()
    >>> dict(f.grad_fn.scope)
    {'t': 0, 'gate': 'forget'}
    """

    __slots__ = ()

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"gate: the name must be a str, got {name!r}")
        self.tags = (("gate", name),)  # what scope(gate=name) holds, without its keyword dict (hot path)


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


def rnn_step(x_proj: Tensor, state: tuple[Tensor], weight_hh_t: Tensor,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> tuple[Tensor]:
    """``h' = act(x_proj + h @ W_hh.T (+ bias_hh))``; a layer folds ``bias_hh`` into ``x_proj``.

    >>> import microtensor as mt
    >>> (h,) = rnn_step(mt.zeros(2, 3), (mt.ones(2, 3),), mt.eye(3), nonlinearity="relu")
    >>> h.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    pre = x_proj + state[0] @ weight_hh_t
    if bias_hh is not None:
        pre = pre + bias_hh
    return (_named(pre.tanh() if nonlinearity == "tanh" else pre.relu(), "h"),)


def lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], weight_hh_t: Tensor,
              bias_hh: Tensor | None = None, weight_hr_t: Tensor | None = None
              ) -> tuple[Tensor, Tensor]:
    """One LSTM step from ``state = (h, c)``; ``x_proj`` holds the input's part of the gates
    (rows i, f, g, o) and ``bias_ih`` (a layer folds ``bias_hh`` in too).

    ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')``;
    with ``weight_hr_t`` (PyTorch's ``proj_size``: ``weight_hr.T``, (hidden, proj)),
    ``h' = (o * tanh(c')) @ weight_hr_t``, so ``h`` has proj_size columns and ``c`` hidden_size.

    >>> import microtensor as mt
    >>> h, c = lstm_step(mt.zeros(1, 8), (mt.zeros(1, 2), mt.ones(1, 2)), mt.zeros(2, 8))
    >>> c.tolist()  # forget gate sigmoid(0) = 0.5 keeps half of c; candidate tanh(0) = 0 adds nothing
    [[0.5, 0.5]]
    """
    h, c = state
    size = c.shape[-1]  # h is narrower under a projection
    gates = x_proj + h @ weight_hh_t
    if bias_hh is not None:
        gates = gates + bias_hh
    with gate("input"):
        i = _named(gates[..., :size].sigmoid(), "input")
    with gate("forget"):
        f = _named(gates[..., size:2 * size].sigmoid(), "forget")
    with gate("candidate"):
        g = _named(gates[..., 2 * size:3 * size].tanh(), "candidate")
    with gate("output"):
        o = _named(gates[..., 3 * size:].sigmoid(), "output")
    c = _named(f * c + i * g, "c")
    if weight_hr_t is None:
        return _named(o * c.tanh(), "h"), c
    return _named((o * c.tanh()) @ weight_hr_t, "h"), c


def gru_step(x_proj: Tensor, state: tuple[Tensor], weight_hh_t: Tensor,
             bias_hh: Tensor | None = None) -> tuple[Tensor]:
    """One GRU step; ``x_proj`` holds the input's part of the gates (rows r, z, n) and
    ``bias_ih`` only, because ``bias_hh``'s n rows sit inside the reset gate's product:

    ``r, z = sigmoid(.)``, ``n = tanh(x_n + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    >>> import microtensor as mt
    >>> (h,) = gru_step(mt.zeros(1, 6), (mt.ones(1, 2),), mt.zeros(2, 6))  # z = 0.5, n = 0
    >>> h.tolist()
    [[0.5, 0.5]]
    """
    (h,) = state
    size = h.shape[-1]
    h_proj = h @ weight_hh_t
    if bias_hh is not None:
        h_proj = h_proj + bias_hh
    with gate("reset"):
        r = _named((x_proj[..., :size] + h_proj[..., :size]).sigmoid(), "reset")
    with gate("update"):
        z = _named((x_proj[..., size:2 * size] + h_proj[..., size:2 * size]).sigmoid(), "update")
    with gate("new"):
        n = _named((x_proj[..., 2 * size:] + r * h_proj[..., 2 * size:]).tanh(), "new")
    return (_named(n + z * (h - n), "h"),)  # (1 - z) * n + z * h, one op fewer


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
    x_proj = project(input, weight_ih, _sum_biases(bias_ih, bias_hh))
    return rnn_step(x_proj, (hx,), weight_hh.T, nonlinearity=nonlinearity)[0]


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
    return lstm_step(project(input, weight_ih, _sum_biases(bias_ih, bias_hh)), tuple(hx),
                     weight_hh.T)


def gru_cell(input: Tensor, hx: Tensor, weight_ih: Tensor, weight_hh: Tensor,  # noqa: A002
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> Tensor:
    """One GRU step from ``h`` to ``h'``, the functional ``GRUCell``.

    >>> import microtensor as mt
    >>> gru_cell(mt.ones(1, 2), mt.zeros(1, 3), mt.zeros(9, 2), mt.zeros(9, 3)).shape
    (1, 3)
    """
    return gru_step(project(input, weight_ih, bias_ih), (hx,), weight_hh.T, bias_hh)[0]


# --------------------------------------------------------------------- modules
class RNNCellBase(Module):
    """A recurrent cell, declared by its class attributes; parameters, initialisation,
    checks and ``forward`` are shared, and the sequence layers (``recurrent.py``) unroll
    the same declaration over time. A new cell is one subclass that declares:

    - ``gates``: how many blocks of ``hidden_size`` rows the weights have;
    - ``state_names``: the states a step carries, hidden state first (``("h", "c")``);
    - ``step``: a ``Step``, ``step(x_proj, state, weight_hh_t, bias_hh, **options) -> state``,
      composed from engine ops;
    - ``fused_step`` (optional): the same step as one op, for ``fused=True`` layers;
    - ``folds_hidden_bias``: True if ``bias_hh`` only adds to the same sum as ``bias_ih``
      (then ``x_proj`` holds both and the step gets ``bias_hh=None``);
    - ``step_options``: names of the module's attributes passed to the step as keywords;
    - ``projects``: True if ``step`` (and ``fused_step``) take ``weight_hr_t``, a projection
      of the new hidden state (PyTorch's LSTM ``proj_size``); only then may a layer have one;
    - ``gate_names`` (for the renderer): the gates a step computes, each inside ``gate(name)``,
      in the order a picture shows them left to right (LSTM: forget, input, candidate, output,
      the order of the classic explanation);
    - ``gate_labels`` (for the renderer): the classic explanation's words for gates and states,
      ``{"forget": "forget gate", ...}``, where it has any.

    ``weight_ih`` (gates * hidden_size, input_size), ``weight_hh`` (gates * hidden_size,
    hidden_size), ``bias_ih`` and ``bias_hh`` (gates * hidden_size), all drawn from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as PyTorch.

    The cell tags its ops with its layer name and ``cell=`` its class, whose declarations
    tell the renderer the step's states and gates. A cell does not know the timestep; wrap
    a call in ``mt.scope(t=t)`` to add the step.

    >>> import microtensor as mt
    >>> cell = mt.nn.GRUCell(2, 3)
    >>> isinstance(cell, RNNCellBase), cell.gates, cell.state_names, cell.weight_ih.shape
    (True, 3, ('h',), (9, 2))
    >>> cell.gate_names, dict(cell(mt.ones(1, 2)).grad_fn.scope)["cell"].__name__
    (('reset', 'update', 'new'), 'GRUCell')
    """

    gates = 1
    #: The names of the state tensors a step carries, in the order the cell takes and
    #: returns them: ``("h",)``, or ``("h", "c")`` for the LSTM.
    state_names: tuple[str, ...] = ("h",)
    step: Step
    fused_step: Step | None = None
    folds_hidden_bias = True
    step_options: tuple[str, ...] = ()
    projects = False
    #: The gates a step computes inside ``gate(name)``, in display order (left to right).
    gate_names: tuple[str, ...] = ()
    #: Display labels of gates and states in the classic explanation; read-only, as every
    #: subclass that declares none shares it.
    gate_labels: Mapping[str, str] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_declaration(cls)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device(device)
        check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = empty_parameter(rows, input_size, dtype=dtype)
        self.weight_hh = empty_parameter(rows, hidden_size, dtype=dtype)
        self.bias_ih = empty_parameter(rows, dtype=dtype) if bias else None
        self.bias_hh = empty_parameter(rows, dtype=dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        reset_uniform(self, self.hidden_size)

    def forward(self, input: Tensor, hx: Any = None) -> Any:  # noqa: A002
        state = self._states(input, hx)
        options = {name: getattr(self, name) for name in self.step_options}
        with scope(layer=scope_label(self), cell=type(self)):
            if self.folds_hidden_bias:
                x_proj = project(input, self.weight_ih, _sum_biases(self.bias_ih, self.bias_hh))
                state = self.step(x_proj, state, self.weight_hh.T, None, **options)
            else:
                x_proj = project(input, self.weight_ih, self.bias_ih)
                state = self.step(x_proj, state, self.weight_hh.T, self.bias_hh, **options)
        return state[0] if len(state) == 1 else state

    def _states(self, input: Tensor, hx: Any) -> tuple:  # noqa: A002
        """Check ``input`` and the states in ``hx`` (a tensor, or a tuple of them for more
        than one state; zeros if None)."""
        layer, dtype = type(self).__name__, self.weight_ih.dtype
        shapes = f"(batch, {self.input_size}) or ({self.input_size},)"
        check_input(layer, input, (1, 2), shapes, self.input_size, dtype)
        shape = (*input.shape[:-1], self.hidden_size)
        if hx is None:
            return tuple(zeros(shape, dtype=dtype) for _ in self.state_names)
        if len(self.state_names) == 1:
            hx, names = (hx,), ("hx",)
        elif isinstance(hx, (tuple, list)) and len(hx) == len(self.state_names):
            hx, names = tuple(hx), self.state_names
        else:
            kind = "pair" if len(self.state_names) == 2 else "tuple"
            raise TypeError(f"{layer}: hx must be a {kind} ({', '.join(self.state_names)})")
        for name, state in zip(names, hx):
            check_state(layer, name, state, shape, dtype)
        return hx

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.bias_ih is None:
            extra += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            extra += f", nonlinearity={self.nonlinearity!r}"
        return extra


def check_declaration(cls: type) -> None:
    """Check what a cell class declares (see ``RNNCellBase``) when the class is created, so a
    mistake fails at import with the class's name, not inside the first forward pass."""
    name = cls.__name__
    if not isinstance(cls.gates, int) or cls.gates < 1:
        raise TypeError(f"{name}: gates must be a positive int, got {cls.gates!r}")
    check_cell_names(name, cls)
    if not callable(getattr(cls, "step", None)):
        raise TypeError(f"{name}: declare step, the function that computes one step "
                        "(see RNNCellBase)")
    if cls.fused_step is not None and not callable(cls.fused_step):
        raise TypeError(f"{name}: fused_step must be a function or None, got {cls.fused_step!r}")


def check_cell_names(owner: str, cell: Any) -> None:
    """Check the names a cell declares for the renderer (a ``CellDeclaration``): ``state_names``
    a non-empty tuple of str, ``gate_names`` a tuple of distinct str, ``gate_labels`` a mapping
    from those names to str. A one-line ``TypeError`` starts with ``owner``: a cell class's name
    when it is created, the ``cell`` scope tag when ``mt.viz.trace`` reads one.

    >>> from types import SimpleNamespace
    >>> check_cell_names("Loop", SimpleNamespace(state_names=("a",), gate_names=("keep",),
    ...                                          gate_labels={"kept": "keep gate"}))
    Traceback (most recent call last):
    ...
    TypeError: Loop: gate_labels labels 'kept', which is neither a gate nor a state ('keep', 'a')
    """
    for attribute in ("state_names", "gate_names", "gate_labels"):
        if not hasattr(cell, attribute):
            raise TypeError(f"{owner}: declare {attribute} (see RNNCellBase)")
    states, gates, labels = cell.state_names, cell.gate_names, cell.gate_labels
    if not (isinstance(states, tuple) and states and all(isinstance(n, str) for n in states)):
        raise TypeError(f"{owner}: state_names must be a non-empty tuple of str, got {states!r}")
    if not (isinstance(gates, tuple) and all(isinstance(n, str) for n in gates)
            and len(set(gates)) == len(gates)):
        raise TypeError(f"{owner}: gate_names must be a tuple of distinct str, got {gates!r}")
    if not (isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())):
        raise TypeError(f"{owner}: gate_labels must map names to str, got {labels!r}")
    for key in labels:
        if key not in gates and key not in states:
            raise TypeError(f"{owner}: gate_labels labels {key!r}, which is neither a gate nor a "
                            f"state {(*gates, *states)}")


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

    step = staticmethod(rnn_step)
    fused_step = staticmethod(fused.rnn_step)
    step_options = ("nonlinearity",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity


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
    gate_names = ("forget", "input", "candidate", "output")  # forget, learn, remember, use
    gate_labels = MappingProxyType({
        "forget": "forget gate",  # f: how much long-term memory (c) to keep
        "input": "learn gate: ignore",  # i: how much of the new information to let in
        "candidate": "learn gate: new",  # g: the new information
        "output": "use gate",  # o: what of the memory to use now
        "c": "remember gate",  # the long-term memory: what the forget and learn gates keep
    })
    step = staticmethod(lstm_step)
    fused_step = staticmethod(fused.lstm_step)
    projects = True


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
    gate_names = ("reset", "update", "new")
    step = staticmethod(gru_step)
    fused_step = staticmethod(fused.gru_step)
    folds_hidden_bias = False  # bias_hh's n rows sit inside the reset gate's product
