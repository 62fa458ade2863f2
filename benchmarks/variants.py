"""The versions of each workload that are timed against the hand-written numpy one.

Every variant is a small class with the same four methods, which is all the timing,
agreement and memory code uses:

- ``forward_backward() -> float``: drop the previous gradients, compute the loss and
  backpropagate (the unrolls stop here);
- ``update()``: one optimizer step from those gradients;
- ``gradients()`` and ``parameters()``: numpy arrays by the names of ``workloads``.

``Layers`` and ``PerStep`` are written once and run on either library: microtensor's
API follows PyTorch's, so ``lib`` is the module ``microtensor`` or ``torch``.
``Layers`` is how a user writes the model (``nn.RNN``/``nn.LSTM``, ``nn.Linear``,
``F.cross_entropy``, an optimizer), in microtensor also with the opt-in
``fused=True`` steps; ``PerStep`` is min-char-rnn translated op for op, with the
projection, readout and loss computed at every step.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from .reference import HandWrittenNumpy
from .workloads import Problem, Spec


class _Variant:
    """What both library variants share: the optimizer and reading results back as numpy."""

    label: str

    def __init__(self, problem: Problem, lib: Any, params: dict[str, Any]) -> None:
        self.spec, self.lib, self.params = problem.spec, lib, params
        self.optimizer = None
        if problem.spec.optimizer == "adagrad":
            self.optimizer = lib.optim.Adagrad(list(params.values()), lr=problem.spec.lr)
        elif problem.spec.optimizer == "sgd":
            self.optimizer = lib.optim.SGD(list(params.values()), lr=problem.spec.lr)

    def _zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def update(self) -> None:
        self.optimizer.step()

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(p.grad).copy() for name, p in self.params.items()}

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(p.detach()).copy() for name, p in self.params.items()}


class Layers(_Variant):
    """The model as a user writes it: a recurrent layer, a ``Linear`` readout and
    ``cross_entropy`` (or, for the unrolls, the sum of the outputs). ``fused`` passes
    ``fused=True`` to microtensor's layer.

    >>> import microtensor as mt
    >>> from benchmarks.workloads import W1, make_problem
    >>> model = Layers(make_problem(W1), mt)
    >>> model.label, round(model.forward_backward(), 3)
    ('microtensor nn.RNN', 104.359)
    >>> Layers(make_problem(W1), mt, fused=True).label
    'microtensor nn.RNN fused'
    """

    def __init__(self, problem: Problem, lib: Any, fused: bool = False) -> None:
        spec, float64 = problem.spec, lib.float64
        layer = lib.nn.RNN if spec.cell == "rnn" else lib.nn.LSTM
        self.label = f"{lib.__name__} nn.{layer.__name__}" + (" fused" if fused else "")
        options = {"fused": True} if fused else {}  # PyTorch's layers have no such option
        self.rnn = layer(spec.input_size, spec.hidden, dtype=float64, **options)
        weights = {k: lib.from_numpy(v.copy()) for k, v in problem.params.items()}
        self.rnn.load_state_dict({f"{k}_l0": weights[k]
                                  for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
        params = {k: getattr(self.rnn, f"{k}_l0")
                  for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        if spec.readout:
            self.readout = lib.nn.Linear(spec.hidden, spec.input_size, dtype=float64)
            self.readout.load_state_dict({"weight": weights["weight_out"],
                                          "bias": weights["bias_out"]})
            params |= {"weight_out": self.readout.weight, "bias_out": self.readout.bias}
        super().__init__(problem, lib, params)
        self.inputs = lib.from_numpy(problem.inputs)
        self.targets = lib.from_numpy(problem.targets.reshape(-1))

    def forward_backward(self) -> float:
        self._zero_grad()
        output, _ = self.rnn(self.inputs)
        if self.spec.readout:
            logits = self.readout(output).reshape(-1, self.spec.input_size)
            loss = self.lib.nn.functional.cross_entropy(logits, self.targets,
                                                        reduction=self.spec.reduction)
        else:
            loss = output.sum()
        loss.backward()
        return loss.item()


class PerStep(_Variant):
    """min-char-rnn op for op: at each step the input projection, the recurrence, the
    readout and the step's cross-entropy (or the sum of ``h``), on plain leaf tensors.

    >>> import microtensor as mt
    >>> from benchmarks.workloads import W1, make_problem
    >>> model = PerStep(make_problem(W1), mt)
    >>> model.label, round(model.forward_backward(), 3)
    ('microtensor per-step ops', 104.359)
    """

    def __init__(self, problem: Problem, lib: Any) -> None:
        self.label = f"{lib.__name__} per-step ops"
        params = {k: lib.tensor(v, requires_grad=True) for k, v in problem.params.items()}
        super().__init__(problem, lib, params)
        self.inputs = [lib.from_numpy(x) for x in problem.inputs]
        self.targets = [lib.from_numpy(y) for y in problem.targets]

    def forward_backward(self) -> float:
        self._zero_grad()
        loss = self._loss()
        loss.backward()
        return loss.item()

    def _loss(self) -> Any:
        lib, spec, p = self.lib, self.spec, self.params
        size = spec.hidden
        h = c = lib.zeros(spec.batch, size, dtype=lib.float64)
        loss = 0
        for x, target in zip(self.inputs, self.targets):
            pre = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
            if spec.cell == "lstm":
                i, f = pre[:, :size].sigmoid(), pre[:, size:2 * size].sigmoid()
                g, o = pre[:, 2 * size:3 * size].tanh(), pre[:, 3 * size:].sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
            else:
                h = pre.tanh()
            if spec.readout:
                logits = h @ p["weight_out"].T + p["bias_out"]
                loss = loss + lib.nn.functional.cross_entropy(logits, target, reduction="sum")
            else:
                loss = loss + h.sum()
        return loss / (spec.seq_len * spec.batch) if spec.reduction == "mean" else loss


def load_torch() -> Any:
    """PyTorch limited to one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


Factory = Callable[[Problem], Any]


def variants_for(spec: Spec, with_torch: bool = True) -> dict[str, Factory]:
    """The variants of ``spec`` by label, hand-written numpy first (the one ratios divide by).

    A factory imports its library only when called, so a memory measurement of one
    variant loads no other library.

    >>> from benchmarks.workloads import W1, W3
    >>> list(variants_for(W1, with_torch=False))
    ['numpy (hand-written)', 'microtensor nn.RNN', 'microtensor nn.RNN fused', 'microtensor per-step ops']
    >>> list(variants_for(W3, with_torch=False))
    ['numpy (hand-written)', 'microtensor nn.LSTM', 'microtensor nn.LSTM fused']
    """
    layer = "RNN" if spec.cell == "rnn" else "LSTM"
    found: dict[str, Factory] = {
        HandWrittenNumpy.label: HandWrittenNumpy,
        f"microtensor nn.{layer}": lambda problem: Layers(problem, _microtensor()),
        f"microtensor nn.{layer} fused": lambda problem: Layers(problem, _microtensor(), True),
    }
    if spec.key in ("W1", "W2"):
        found["microtensor per-step ops"] = lambda problem: PerStep(problem, _microtensor())
    if with_torch and importlib.util.find_spec("torch") is not None:
        found["torch per-step ops"] = lambda problem: PerStep(problem, load_torch())
        found[f"torch nn.{layer}"] = lambda problem: Layers(problem, load_torch())
    return found


def _microtensor() -> Any:
    import microtensor

    return microtensor
