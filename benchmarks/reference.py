"""The hand-written numpy version of every workload: forward, manual backpropagation
through time, and the optimizer step. Every ratio in the report divides by its time.

It is written the way a careful numpy programmer would write it (min-char-rnn, batched):
the input projection of all timesteps and the readout of all timesteps are one matmul
each, the recurrence is one ``h @ W_hh.T`` per step, and the weight gradients of the
recurrence are one matmul after the backward loop. Its gradients are checked against
finite differences by ``gradient_check``.
"""

from __future__ import annotations

import numpy as np

from .workloads import Problem, Spec

Arrays = dict[str, np.ndarray]


def forward_backward(spec: Spec, params: Arrays, inputs: np.ndarray,
                     targets: np.ndarray) -> tuple[float, Arrays]:
    """The loss of ``spec`` at ``params`` and its gradient with respect to every parameter.

    >>> from benchmarks.workloads import W1, make_problem
    >>> p = make_problem(W1)
    >>> loss, grads = forward_backward(W1, p.params, p.inputs, p.targets)
    >>> round(loss, 3), sorted(grads) == sorted(p.params)
    (104.359, True)
    """
    seq_len, batch, features = inputs.shape
    rows = params["weight_hh"].shape[0]
    flat_inputs = inputs.reshape(-1, features)
    x_proj = (flat_inputs @ params["weight_ih"].T
              + (params["bias_ih"] + params["bias_hh"])).reshape(seq_len, batch, rows)
    forward, backward = (_rnn_forward, _rnn_backward) if spec.cell == "rnn" else (
        _lstm_forward, _lstm_backward)
    hs, cache = forward(x_proj, params["weight_hh"])
    if spec.readout:
        loss, d_hs, grads = _readout(hs[1:], params, targets, spec.reduction)
    else:
        loss, d_hs, grads = float(hs[1:].sum()), np.ones_like(hs[1:]), {}
    d_proj = backward(d_hs, hs, cache, params["weight_hh"])
    flat_d_proj = d_proj.reshape(-1, rows)
    grads["weight_ih"] = flat_d_proj.T @ flat_inputs
    grads["weight_hh"] = flat_d_proj.T @ hs[:-1].reshape(-1, hs.shape[-1])
    grads["bias_ih"] = flat_d_proj.sum(axis=0)
    grads["bias_hh"] = grads["bias_ih"].copy()
    return loss, grads


# ------------------------------------------------------------------- tanh RNN
def _rnn_forward(x_proj: np.ndarray, weight_hh: np.ndarray) -> tuple[np.ndarray, None]:
    """All hidden states, ``hs[0]`` the zero initial state."""
    seq_len, batch, hidden = x_proj.shape
    hs = np.zeros((seq_len + 1, batch, hidden))
    weight_hh_t = weight_hh.T
    for t in range(seq_len):
        hs[t + 1] = np.tanh(x_proj[t] + hs[t] @ weight_hh_t)
    return hs, None


def _rnn_backward(d_hs: np.ndarray, hs: np.ndarray, cache: None,
                  weight_hh: np.ndarray) -> np.ndarray:
    """Gradient with respect to each step's pre-activation (= its input projection)."""
    d_pre = np.empty_like(d_hs)
    d_h = d_hs[-1]
    for t in reversed(range(len(d_hs))):
        d_pre[t] = d_h * (1 - hs[t + 1] * hs[t + 1])
        if t:
            d_h = d_hs[t - 1] + d_pre[t] @ weight_hh
    return d_pre


# ----------------------------------------------------------------------- LSTM
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _lstm_forward(x_proj: np.ndarray,
                  weight_hh: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Hidden states, plus the cell states, gate activations and tanh(c) for backward."""
    seq_len, batch, rows = x_proj.shape
    hidden = rows // 4
    hs = np.zeros((seq_len + 1, batch, hidden))
    cs = np.zeros((seq_len + 1, batch, hidden))
    acts = np.empty_like(x_proj)  # i, f, g, o after their nonlinearities
    tanh_cs = np.empty((seq_len, batch, hidden))
    weight_hh_t = weight_hh.T
    for t in range(seq_len):
        pre = x_proj[t] + hs[t] @ weight_hh_t
        act = acts[t]
        act[:, :2 * hidden] = _sigmoid(pre[:, :2 * hidden])
        act[:, 2 * hidden:3 * hidden] = np.tanh(pre[:, 2 * hidden:3 * hidden])
        act[:, 3 * hidden:] = _sigmoid(pre[:, 3 * hidden:])
        i, f, g = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:3 * hidden]
        cs[t + 1] = f * cs[t] + i * g
        tanh_cs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = act[:, 3 * hidden:] * tanh_cs[t]
    return hs, (cs, acts, tanh_cs)


def _lstm_backward(d_hs: np.ndarray, hs: np.ndarray, cache: tuple[np.ndarray, ...],
                   weight_hh: np.ndarray) -> np.ndarray:
    cs, acts, tanh_cs = cache
    hidden = hs.shape[-1]
    d_pre = np.empty_like(acts)
    d_h, d_c = d_hs[-1], np.zeros_like(d_hs[-1])
    for t in reversed(range(len(d_hs))):
        act = acts[t]
        i, f = act[:, :hidden], act[:, hidden:2 * hidden]
        g, o = act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
        d_c = d_c + d_h * o * (1 - tanh_cs[t] * tanh_cs[t])
        d = d_pre[t]
        d[:, :hidden] = d_c * g * i * (1 - i)
        d[:, hidden:2 * hidden] = d_c * cs[t] * f * (1 - f)
        d[:, 2 * hidden:3 * hidden] = d_c * i * (1 - g * g)
        d[:, 3 * hidden:] = d_h * tanh_cs[t] * o * (1 - o)
        d_c = d_c * f
        if t:
            d_h = d_hs[t - 1] + d @ weight_hh
    return d_pre


# --------------------------------------------------------- readout and loss
def _readout(hs: np.ndarray, params: Arrays, targets: np.ndarray,
             reduction: str) -> tuple[float, np.ndarray, Arrays]:
    """Linear readout and softmax cross-entropy over all (step, batch) rows at once."""
    flat_hs = hs.reshape(-1, hs.shape[-1])
    rows = np.arange(len(flat_hs))
    logits = flat_hs @ params["weight_out"].T + params["bias_out"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    scale = 1.0 if reduction == "sum" else 1.0 / len(flat_hs)
    loss = -log_probs[rows, targets.ravel()].sum() * scale
    d_logits = np.exp(log_probs)
    d_logits[rows, targets.ravel()] -= 1
    d_logits *= scale
    grads = {"weight_out": d_logits.T @ flat_hs, "bias_out": d_logits.sum(axis=0)}
    return float(loss), (d_logits @ params["weight_out"]).reshape(hs.shape), grads


# ------------------------------------------------------------------ the variant
class HandWrittenNumpy:
    """The reference as a benchmark variant: ``forward_backward`` then ``update``
    (Adagrad as ``torch.optim.Adagrad``: ``eps`` outside the square root; or plain SGD).

    >>> from benchmarks.workloads import W1, make_problem
    >>> model = HandWrittenNumpy(make_problem(W1))
    >>> loss = model.forward_backward(); model.update()
    >>> sorted(model.gradients()) == sorted(model.parameters())
    True
    """

    label = "numpy (hand-written)"
    eps = 1e-10

    def __init__(self, problem: Problem) -> None:
        self.spec = problem.spec
        self.params = {k: v.copy() for k, v in problem.params.items()}
        self.inputs, self.targets = problem.inputs, problem.targets
        self.sums = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.grads: Arrays = {}

    def forward_backward(self) -> float:
        loss, self.grads = forward_backward(self.spec, self.params, self.inputs, self.targets)
        return loss

    def update(self) -> None:
        lr = self.spec.lr
        for name, p in self.params.items():
            grad = self.grads[name]
            if self.spec.optimizer == "adagrad":
                self.sums[name] += grad * grad
                p -= lr * grad / (np.sqrt(self.sums[name]) + self.eps)
            else:
                p -= lr * grad

    def gradients(self) -> Arrays:
        return self.grads

    def parameters(self) -> Arrays:
        return self.params


def gradient_check(problem: Problem, coordinates: int = 3, step: float = 1e-5,
                   seed: int = 0) -> float:
    """The largest error of ``forward_backward``'s gradient against a central finite
    difference, over ``coordinates`` random entries of every parameter, relative to that
    parameter's largest gradient entry (a single tiny entry is all round-off).

    >>> from benchmarks.workloads import W3, make_problem, replace
    >>> gradient_check(make_problem(replace(W3, seq_len=4, batch=2))) < 1e-7
    True
    """
    spec, params = problem.spec, {k: v.copy() for k, v in problem.params.items()}
    _, grads = forward_backward(spec, params, problem.inputs, problem.targets)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for name, p in params.items():
        flat = p.reshape(-1)
        for index in rng.choice(flat.size, size=min(coordinates, flat.size), replace=False):
            saved = flat[index]
            losses = []
            for shift in (step, -step):
                flat[index] = saved + shift
                losses.append(forward_backward(spec, params, problem.inputs, problem.targets)[0])
            flat[index] = saved
            numeric = (losses[0] - losses[1]) / (2 * step)
            analytic = grads[name].reshape(-1)[index]
            scale = max(float(np.abs(grads[name]).max()), 1e-12)
            worst = max(worst, float(abs(numeric - analytic)) / scale)
    return worst
