"""Modules with shared submodules and parameters, built identically in both libraries.

Hypothesis draws a small tree of modules (``Linear``, ``LayerNorm``, ``Tanh``, ``RNN``, ``GRU``,
``LSTM``, ``Sequential``, ``ModuleList``, ``ModuleDict`` and blocks of one's own) and then ties
inside it: a submodule registered under a second name (weight tying, ``self.shared =
self.out``), a ``Linear``'s weight or bias given to another, a block's own parameter or buffer
(persistent or not) registered in a second block. Then:

- the names of ``state_dict`` (in order), ``named_parameters``, ``named_buffers``,
  ``named_modules`` and each module's ``named_children`` must agree with PyTorch's;
- PyTorch's ``state_dict`` (its parameters set from a drawn seed) must load into microtensor's
  model with ``strict=True``, after which both ``state_dict``s hold the same values;
- a forward pass and the parameters' gradients (a tied parameter gets the sum of its uses')
  must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from oracle_compare import assert_values_close, compare

import microtensor as mt

FEATURES = 3  # every module maps (batch, time, FEATURES) to the same shape, so any order runs
RECURRENT = ("RNN", "GRU", "LSTM")
SIMPLE = ("Linear", "LayerNorm", "Tanh")


@dataclass
class Spec:
    """A module to build: its kind, options and children (name, Spec)."""

    kind: str
    options: dict = field(default_factory=dict)
    children: list = field(default_factory=list)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={c!r}" for n, c in self.children)
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{self.kind}({', '.join(p for p in (opts, inner) if p)})"

    def walk(self, path: str = ""):
        yield path, self
        for name, child in self.children:
            yield from child.walk(f"{path}.{name}" if path else name)

    def has_block(self) -> bool:
        return any(spec.kind == "Block" for _, spec in self.walk())


def draw_spec(draw, depth: int, inside_sequential: bool = False) -> Spec:
    """``Sequential`` chains its children's outputs, so only modules returning one tensor go
    inside (the recurrent ones return an (output, state) pair)."""
    kinds = list(SIMPLE) * 2
    if not inside_sequential:
        kinds += list(RECURRENT)
    if depth < 2:
        kinds += ["Sequential"] + ([] if inside_sequential else ["ModuleList", "ModuleDict", "Block"])
    kind = draw(st.sampled_from(kinds))
    if kind == "Linear":
        return Spec(kind, {"bias": draw(st.booleans())})
    if kind in RECURRENT:
        return Spec(kind, {"num_layers": draw(st.integers(1, 2)), "bias": draw(st.booleans())})
    if kind in SIMPLE:
        return Spec(kind)
    count = draw(st.integers(1 if kind == "Sequential" else 0, 3))
    sequential = inside_sequential or kind == "Sequential"
    names = {"Block": "c{}", "ModuleDict": "k{}"}.get(kind, "{}")
    return Spec(kind, children=[(names.format(i), draw_spec(draw, depth + 1, sequential))
                                for i in range(count)])


@dataclass(frozen=True)
class Tie:
    """After building: ``getattr(target, name)`` becomes what ``source`` names (a module path,
    ``path.weight``/``path.bias`` of a Linear, or an earlier tie's own parameter or buffer);
    ``kind`` is "module", "parameter", "new parameter", "new buffer" or "alias"."""

    kind: str
    target: str
    name: str
    source: str = ""
    persistent: bool = True

    def __repr__(self) -> str:
        where = f"{self.target or '<root>'}.{self.name}"
        if self.kind == "new parameter":
            return f"{where} = Parameter(...)"
        if self.kind == "new buffer":
            owner = self.target or "<root>"
            return f"{owner}.register_buffer({self.name!r}, ..., persistent={self.persistent})"
        return f"{where} = {self.source or '<root>'}"


def draw_ties(draw, root: Spec) -> list[Tie]:
    """Ties that keep the tree a tree of calls: a module is registered again only inside a
    block (whose forward runs it once more) and only if it holds no block, so no module
    contains itself."""
    paths = list(root.walk())
    blocks = [p for p, s in paths if s.kind == "Block"]
    movable = [p for p, s in paths if s.kind != "Block" and not s.has_block()]
    linears = [p for p, s in paths if s.kind == "Linear"]
    own: list[str] = []  # paths of the parameters and buffers made here
    ties = []
    for i in range(draw(st.integers(0, 4))):
        kinds = ["new parameter", "new buffer"] + (["module", "module"] if movable else [])
        kinds += ["parameter"] if len(linears) > 1 else []
        kinds += ["alias"] if own else []
        kind = draw(st.sampled_from(kinds))
        name = f"tie{i}"
        if kind == "module":
            ties.append(Tie(kind, draw(st.sampled_from(blocks)), name, draw(st.sampled_from(movable))))
        elif kind == "parameter":
            target, source = draw(st.sampled_from(linears)), draw(st.sampled_from(linears))
            ties.append(Tie(kind, target, draw(st.sampled_from(["weight", "bias"])), source))
        elif kind == "alias":
            ties.append(Tie(kind, draw(st.sampled_from(blocks)), name, draw(st.sampled_from(own))))
        else:
            target = draw(st.sampled_from(blocks))
            ties.append(Tie(kind, target, name, persistent=draw(st.booleans())))
            own.append(f"{target}.{name}" if target else name)
    return ties


@st.composite
def models(draw) -> tuple[Spec, list[Tie]]:
    root = Spec("Block", children=[(f"c{i}", draw_spec(draw, 1)) for i in range(draw(st.integers(1, 3)))])
    return root, draw_ties(draw, root)


def block_class(lib):
    class Block(lib.nn.Module):
        """Runs its members in registration order: modules on the running value, parameters
        and buffers added to it."""

        def __init__(self) -> None:
            super().__init__()
            self.order: list[str] = []

        def add(self, name: str, member) -> None:
            setattr(self, name, member)
            self.order.append(name)

        def forward(self, x):
            for name in self.order:
                member = getattr(self, name)
                x = run(member, x) if isinstance(member, lib.nn.Module) else x + member
            return x

    return Block


def run(module, x):
    """One module on (batch, time, features): recurrent layers give their output, lists and
    dicts run their members in order."""
    kind = type(module).__name__
    if kind in RECURRENT:
        return module(x)[0]
    if kind == "ModuleList":
        for member in module:
            x = run(member, x)
        return x
    if kind == "ModuleDict":
        for member in module.values():
            x = run(member, x)
        return x
    return module(x)


def build(lib, spec: Spec, block):
    nn = lib.nn
    children = [(name, build(lib, child, block)) for name, child in spec.children]
    if spec.kind == "Linear":
        return nn.Linear(FEATURES, FEATURES, **spec.options)
    if spec.kind == "LayerNorm":
        return nn.LayerNorm(FEATURES)
    if spec.kind == "Tanh":
        return nn.Tanh()
    if spec.kind in RECURRENT:
        return getattr(nn, spec.kind)(FEATURES, FEATURES, batch_first=True, **spec.options)
    if spec.kind == "Sequential":
        return nn.Sequential(*[m for _, m in children])
    if spec.kind == "ModuleList":
        return nn.ModuleList([m for _, m in children])
    if spec.kind == "ModuleDict":
        return nn.ModuleDict(dict(children))
    module = block()
    for name, child in children:
        module.add(name, child)
    return module


def member(root, path: str):
    for part in path.split(".") if path else []:
        root = getattr(root, part)
    return root


def build_model(lib, root: Spec, ties: list[Tie], seed: int):
    """The tree, then the ties (new parameters and buffers from ``seed``, the same in both)."""
    model = build(lib, root, block_class(lib))
    rng = np.random.default_rng(seed)
    for tie in ties:
        target = member(model, tie.target)
        if tie.kind in ("new parameter", "new buffer"):
            value = rng.uniform(-0.5, 0.5, FEATURES).astype(np.float32)
            tensor = lib.tensor(value)
            if tie.kind == "new parameter":
                target.add(tie.name, lib.nn.Parameter(tensor))
            else:
                target.register_buffer(tie.name, tensor, persistent=tie.persistent)
                target.order.append(tie.name)
        elif tie.kind == "parameter":
            setattr(target, tie.name, getattr(member(model, tie.source), tie.name))
        elif tie.kind == "alias":
            source = member(model, tie.source)
            if isinstance(source, lib.nn.Parameter):
                target.add(tie.name, source)
            else:
                target.register_buffer(tie.name, source)
                target.order.append(tie.name)
        else:
            target.add(tie.name, member(model, tie.source))
    return model


def names(model) -> dict[str, list]:
    return {
        "state_dict": list(model.state_dict()),
        "named_parameters": [n for n, _ in model.named_parameters()],
        "named_buffers": [n for n, _ in model.named_buffers()],
        "named_modules": [n for n, _ in model.named_modules()],
        "named_children": [(path, [n for n, _ in m.named_children()]) for path, m in model.named_modules()],
    }


@given(model=models(), seed=st.integers(0, 2**32 - 1))
def test_shared_submodules_through_state_dict(model: tuple[Spec, list[Tie]], seed: int) -> None:
    root, ties = model
    what = f"model {root!r}\nties {ties}"
    mine, theirs = build_model(mt, root, ties, seed), build_model(torch, root, ties, seed)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, param in theirs.named_parameters():
            param.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(param.shape)).astype(np.float32)))

    mine_names, theirs_names = names(mine), names(theirs)
    for key, expected in theirs_names.items():
        assert mine_names[key] == expected, \
            f"{what}\n{key}:\n  microtensor {mine_names[key]}\n  PyTorch     {expected}"

    state = {k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    try:
        mine.load_state_dict(state, strict=True)
    except Exception as err:  # noqa: BLE001 - PyTorch's own state_dict: loading must succeed
        raise AssertionError(f"{what}\nloading PyTorch's state_dict {list(state)} strictly: "
                             f"{type(err).__name__}: {err}") from None
    for key, value in theirs.state_dict().items():
        compare(mine.state_dict()[key], value, f"{what}\nstate_dict[{key!r}] after loading")

    x = rng.uniform(-1, 1, (2, 3, FEATURES)).astype(np.float32)
    weights = rng.uniform(-1, 1, (2, 3, FEATURES)).astype(np.float32)
    mine_out, theirs_out = run(mine, mt.tensor(x)), run(theirs, torch.from_numpy(x))
    compare(mine_out, theirs_out, f"{what}\nforward")
    assert bool(mine_out.requires_grad) == theirs_out.requires_grad, \
        f"{what}\nforward: requires_grad {mine_out.requires_grad}, PyTorch {theirs_out.requires_grad}"
    if not theirs_out.requires_grad:  # no parameter on the way (Tanh only)
        return
    (mine_out * mt.tensor(weights)).sum().backward()
    (theirs_out * torch.from_numpy(weights)).sum().backward()
    mine_params = dict(mine.named_parameters())
    for name, param in theirs.named_parameters():
        expected = np.zeros(tuple(param.shape)) if param.grad is None else param.grad.numpy()
        grad = mine_params[name].grad
        actual = np.zeros(tuple(param.shape)) if grad is None else np.asarray(grad.array)
        assert_values_close(actual, expected, "float32",
                            f"{what}\ngradient of {name}\n  microtensor {actual.tolist()}\n"
                            f"  PyTorch     {expected.tolist()}")
