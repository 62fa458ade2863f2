"""``Module``: the base class of layers and models, with ``Parameter`` and ``Sequential``.

A module owns its parameters and its submodules as attributes. Assigning a
``Parameter`` or a ``Module`` to an attribute registers it (as in PyTorch), so
``parameters()``, ``state_dict()`` and ``train()``/``eval()`` can walk the tree
without each layer listing what it holds.

Registration also *names* things, for the graph renderer: a parameter's
``.name`` becomes its dotted path (``lstm.weight_hh_l0``), and a module learns
its own path (``lstm``) for the scope tags of its steps. Models are assembled
bottom-up (a layer is built before it is assigned to its parent), so the
outermost assignment happens last and the top-level model's names win. A module
or parameter shared between two parents keeps the name of its last assignment.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..dtypes import as_dtype, get_default_dtype
from ..hooks import RemovableHandle
from ..tensor import Tensor, target_dtype, to_array
from .module_hooks import HookRecord, call_with_hooks


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as one of its parameters: a leaf that
    requires grad (unless told otherwise).

    A subclass rather than a flag, as in PyTorch: ``isinstance(value, Parameter)``
    is how ``Module.__setattr__`` tells a weight from any other tensor it holds
    (a cached mask, a constant). The engine treats it as any other tensor, and
    ops on it return plain tensors.

    >>> import microtensor as mt
    >>> w = mt.nn.Parameter(mt.zeros(2, 3))
    >>> w.requires_grad, w.is_leaf, type(w * 2).__name__
    (True, True, 'Tensor')
    """

    __slots__ = ()

    def __new__(cls, data: Any = None, requires_grad: bool = True) -> Parameter:
        if isinstance(data, Tensor) and data.grad_fn is not None:
            raise ValueError("Parameter: data must be a leaf tensor, not the result of an op "
                             "recorded in a graph; pass data.detach()")
        # Shares the memory of a tensor or array it is given, as PyTorch; None is empty.
        param = cls._wrap(to_array(np.empty(0, get_default_dtype()) if data is None else data, None))
        if requires_grad:
            if param.dtype.kind != "f":
                raise TypeError(f"Parameter: parameters that require grad must be floating "
                                f"point, got dtype {param.dtype}")
            param.requires_grad_(True)
        return param

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def empty_parameter(*shape: int, dtype: Any = None) -> Parameter:
    """An uninitialised parameter (``dtype`` defaults to ``mt.get_default_dtype()``), for a
    layer's ``reset_parameters`` to fill.

    >>> import microtensor as mt
    >>> mt.nn.module.empty_parameter(2, 3).shape
    (2, 3)
    """
    dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
    return Parameter(np.empty(shape, dtype=dtype))


#: What ``load_state_dict`` returns: the keys it could not match (empty under ``strict``).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model: subclass it, assign parameters and
    submodules in ``__init__``, and write ``forward``.

    >>> import microtensor as mt
    >>> class TwoLayer(mt.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = mt.nn.Linear(3, 4)
    ...         self.out = mt.nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> model(mt.ones(5, 3)).shape
    (5, 1)
    """

    _path: str | None  # dotted place in the enclosing model; None until registered

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_path", None)
        object.__setattr__(self, "training", True)
        for hooks in ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks",
                      "_backward_hooks"):
            object.__setattr__(self, hooks, [])  # HookRecords, in calling order

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------------- hooks
    def _add_hook(self, hooks: list, record: HookRecord, prepend: bool) -> RemovableHandle:
        if not callable(record.fn):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got "
                            f"{type(record.fn).__name__}")
        hooks.insert(0, record) if prepend else hooks.append(record)
        return RemovableHandle(hooks, record)

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward`` (``hook(module, args, kwargs)``
        with ``with_kwargs``); a returned value replaces the positional arguments (a non-tuple
        is wrapped in one), or with ``with_kwargs`` must be ``(args, kwargs)``. Hooks run in
        registration order (``prepend`` puts this one first). ``handle.remove()`` takes it out.

        >>> import microtensor as mt
        >>> layer = mt.nn.Identity()
        >>> handle = layer.register_forward_pre_hook(lambda module, args: args[0] * 2)
        >>> layer(mt.ones(2)).tolist()
        [2.0, 2.0]
        >>> handle.remove()
        >>> layer(mt.ones(2)).tolist()
        [1.0, 1.0]
        """
        return self._add_hook(self._forward_pre_hooks, HookRecord(hook, with_kwargs), prepend)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False
                              ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward`` (``hook(module, args,
        kwargs, output)`` with ``with_kwargs``); a returned value replaces the output. With
        ``always_call``, it also runs when the forward (or a hook) raises, before the error
        propagates. Returns a handle whose ``remove()`` takes it out.

        >>> import microtensor as mt
        >>> seen = []
        >>> layer = mt.nn.Linear(3, 2)
        >>> handle = layer.register_forward_hook(lambda module, args, out: seen.append(out.shape))
        >>> _ = layer(mt.ones(4, 3))
        >>> seen
        [(4, 2)]
        """
        return self._add_hook(self._forward_hooks, HookRecord(hook, with_kwargs, always_call),
                              prepend)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False
                                        ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's outputs
        are known, before they flow into the module; ``grad_output`` has an entry per output
        (None for one that is not a tensor or got no gradient), and a returned tuple of the
        same length replaces them.

        >>> import microtensor as mt
        >>> layer = mt.nn.Linear(2, 1)
        >>> _ = layer.register_full_backward_pre_hook(lambda module, g: (g[0] * 0,))
        >>> layer(mt.ones(1, 2, requires_grad=True)).sum().backward()
        >>> layer.weight.grad.tolist()
        [[0.0, 0.0]]
        """
        return self._add_hook(self._backward_pre_hooks, HookRecord(hook), prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False
                                    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` once the gradients w.r.t. the
        module's positional tensor inputs are computed. ``grad_input`` has an entry per
        positional argument: None for a non-tensor, zeros for a tensor that got no gradient
        (or needs none); ``grad_output`` as ``register_full_backward_pre_hook``'s. A returned
        sequence of the same length replaces ``grad_input`` (None: no gradient for that input)
        for later hooks and for the gradient that flows on. As in PyTorch, the hooks are
        those registered when the module ran, tensors inside nested tuples are not seen, and
        when no input requires grad the hooks run with ``grad_input`` all None (and a warning).

        >>> import microtensor as mt
        >>> x = mt.ones(2, requires_grad=True)
        >>> layer = mt.nn.Tanh()
        >>> _ = layer.register_full_backward_hook(lambda module, gi, go: (gi[0] * 10,))
        >>> layer(x).sum().backward()
        >>> [round(g, 4) for g in x.grad.tolist()]
        [4.1997, 4.1997]
        """
        return self._add_hook(self._backward_hooks, HookRecord(hook), prepend)

    # ------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        params, modules = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        if params is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                 "Module.__init__() is called (call super().__init__() first)")
        if isinstance(value, (Parameter, Module)):
            self.__dict__["_buffers"].pop(name, None)  # a name holds one kind of member
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            modules.pop(name, None)
            params[name] = value
            value.name = self._child_path(name)
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            modules[name] = value
            value._set_path(self._child_path(name))
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' of "
                                f"{type(self).__name__} (a Parameter or None is expected)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as submodule '{name}' of "
                                f"{type(self).__name__} (a Module or None is expected)")
            modules[name] = None
        elif name in self.__dict__.get("_buffers", {}):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' of "
                                f"{type(self).__name__} (a Tensor or None is expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: registered members live in the two dicts.
        for members in ("_parameters", "_modules", "_buffers"):
            found = self.__dict__.get(members, {})
            if name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent.discard(name)
        else:
            object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Keep ``tensor`` as state that is not a parameter: no gradient, not in
        ``parameters()`` (so no optimizer moves it), but in ``state_dict()`` (unless
        ``persistent=False``) and converted by ``to(dtype)`` if floating. Read it back as
        ``self.name``; assigning a Tensor (or None) to that name replaces it.

        >>> import microtensor as mt
        >>> layer = mt.nn.Linear(2, 2)
        >>> layer.register_buffer("steps", mt.tensor(0))
        >>> list(layer.state_dict()), len(list(layer.parameters()))
        (['weight', 'bias', 'steps'], 2)
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: the name must be a non-empty string without '.', "
                           f"got {name!r}")
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot register a buffer before Module.__init__() is called")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: buffer '{name}' must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        if name in self._parameters or name in self._modules or (
                name in self.__dict__ and name not in self._buffers):
            raise KeyError(f"register_buffer: attribute '{name}' already exists on "
                           f"{type(self).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    @property
    def path(self) -> str | None:
        """This module's dotted place in the model it was assigned into (``"encoder.lstm"``),
        or None for a module that no parent holds; the graph renderer's ``layer`` tags use it.

        >>> import microtensor as mt
        >>> model = mt.nn.Sequential(mt.nn.Linear(2, 2))
        >>> model[0].path, model.path
        ('0', None)
        """
        return self._path

    def _child_path(self, name: str) -> str:
        return name if self._path is None else f"{self._path}.{name}"

    def _set_path(self, path: str) -> None:
        """Name this module and everything under it after its place in the enclosing model."""
        object.__setattr__(self, "_path", path)
        for name, param in self._parameters.items():
            if param is not None:
                param.name = f"{path}.{name}"
        for name, module in self._modules.items():
            if module is not None:
                module._set_path(f"{path}.{name}")

    # ------------------------------------------------------------------ walking
    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs, each parameter once even if shared.

        >>> import microtensor as mt
        >>> [n for n, _ in mt.nn.LSTM(2, 3).named_parameters()]
        ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
        """
        yield from _once(self._all_named_parameters(prefix, recurse))

    def _all_named_parameters(self, prefix: str = "", recurse: bool = True
                              ) -> Iterator[tuple[str, Parameter]]:
        """Every registered (name, parameter), shared ones under each of their names."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            for name, param in module._parameters.items():
                if param is not None:
                    yield (f"{path}.{name}" if path else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module and (with ``recurse``) its submodules, once each.

        >>> import microtensor as mt
        >>> sum(p.numel() for p in mt.nn.Linear(3, 2).parameters())
        8
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs of this module and (with ``recurse``) those below,
        each buffer once even if registered twice.

        >>> import microtensor as mt
        >>> [n for n, _ in mt.nn.CrossEntropyLoss(mt.ones(3)).named_buffers()]
        ['weight']
        """
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        yield from _once(((f"{path}.{name}" if path else name), buffer)
                         for path, module in modules
                         for name, buffer in module._buffers.items() if buffer is not None)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of this module and (with ``recurse``) its submodules.

        >>> import microtensor as mt
        >>> len(list(mt.nn.NLLLoss(mt.ones(2)).buffers()))
        1
        """
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _state_tensors(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """What ``state_dict`` holds, in PyTorch's order: each module's parameters, then its
        persistent buffers, then each submodule's in turn, depth first.

        Nothing is deduplicated, as in PyTorch: a module or tensor reachable by two paths
        (weight tying, ``self.shared = self.out``) is listed under each, so a state_dict
        PyTorch wrote loads strictly and each name can be reported missing on its own.
        ``parameters()`` still gives it once, so an optimizer steps it once."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent:
                yield prefix + name, buffer
        for name, module in self._modules.items():
            if module is not None:  # no cycle can get here: assigning one recurses in _set_path
                yield from module._state_tensors(f"{prefix}{name}.")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, submodule)`` for the direct submodules, each once even if registered twice.

        >>> import microtensor as mt
        >>> [n for n, _ in mt.nn.Sequential(mt.nn.Linear(2, 2), mt.nn.Dropout()).named_children()]
        ['0', '1']
        """
        yield from _once((name, module) for name, module in self._modules.items()
                         if module is not None)

    def children(self) -> Iterator[Module]:
        """The direct submodules.

        >>> import microtensor as mt
        >>> len(list(mt.nn.Sequential(mt.nn.Linear(2, 2), mt.nn.Dropout()).children()))
        2
        """
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and all below it, once each.

        >>> import microtensor as mt
        >>> model = mt.nn.Sequential(mt.nn.Linear(2, 2), mt.nn.Sequential(mt.nn.Dropout()))
        >>> [n for n, _ in model.named_modules()]
        ['', '0', '1', '1.0']
        """
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            below = [(f"{path}.{name}" if path else name, child)
                     for name, child in module.named_children()]
            stack.extend(reversed(below))  # so children come out in registration order

    def modules(self) -> Iterator[Module]:
        """This module and every module below it.

        >>> import microtensor as mt
        >>> [type(m).__name__ for m in mt.nn.Sequential(mt.nn.Linear(2, 2)).modules()]
        ['Sequential', 'Linear']
        """
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first, as PyTorch) and then on this
        module; returns self. The usual use is custom initialisation.

        >>> import microtensor as mt
        >>> def init_linear(m):
        ...     if isinstance(m, mt.nn.Linear):
        ...         mt.nn.init.zeros_(m.bias)
        >>> model = mt.nn.Sequential(mt.nn.Linear(2, 3), mt.nn.Tanh()).apply(init_linear)
        >>> model[0].bias.tolist()
        [0.0, 0.0, 0.0]
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is this module); raises
        ``AttributeError`` with PyTorch's message at the first name that is missing or
        not a module.

        >>> import microtensor as mt
        >>> model = mt.nn.Sequential(mt.nn.Sequential(mt.nn.Linear(2, 2)))
        >>> model.get_submodule("0.0")
        Linear(in_features=2, out_features=2, bias=True)
        >>> model.get_submodule("0.1")
        Traceback (most recent call last):
        ...
        AttributeError: Sequential has no attribute `1`
        """
        if target == "":
            return self
        module: Any = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"encoder.weight"``), with PyTorch's
        ``AttributeError`` for a bad path.

        >>> import microtensor as mt
        >>> mt.nn.Sequential(mt.nn.Linear(2, 3)).get_parameter("0.bias").shape
        (3,)
        """
        _, name, param = self._member(target)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``, with PyTorch's ``AttributeError`` for a bad
        path.

        >>> import microtensor as mt
        >>> model = mt.nn.Sequential(mt.nn.NLLLoss(mt.ones(2)))
        >>> model.get_buffer("0.weight").tolist()
        [1.0, 1.0]
        >>> model.get_buffer("0.reduction")
        Traceback (most recent call last):
        ...
        AttributeError: `reduction` is not a buffer
        """
        module, name, buffer = self._member(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return buffer

    def _member(self, target: str) -> tuple[Module, str, Any]:
        """The module holding dotted path ``target``, the last name, and what it names."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        return module, name, getattr(module, name)

    # ------------------------------------------------------------ modes, grads
    def train(self, mode: bool = True) -> Module:
        """Put this module and all below it in training mode (dropout active); returns self.

        >>> import microtensor as mt
        >>> mt.nn.Dropout().eval().train().training
        True
        """
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all below it in evaluation mode (dropout off); returns self.

        >>> import microtensor as mt
        >>> mt.nn.Dropout().eval().training
        False
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (to freeze a part of a model for
        fine-tuning); returns self.

        >>> import microtensor as mt
        >>> layer = mt.nn.Linear(2, 1).requires_grad_(False)
        >>> [p.requires_grad for p in layer.parameters()]
        [False, False]
        """
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set ``.grad`` to None, as PyTorch does by default).

        >>> import microtensor as mt
        >>> layer = mt.nn.Linear(2, 1)
        >>> layer(mt.ones(1, 2)).sum().backward()
        >>> layer.zero_grad()
        >>> layer.weight.grad is None
        True
        """
        for param in self.parameters():
            param.grad = None

    # -------------------------------------------------------------- dtype
    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Convert every parameter (and gradient) to floating ``dtype`` in place; returns self.
        Takes PyTorch's forms: ``to(dtype)``, ``to("cpu")``, ``to("cpu", dtype)``,
        ``to(tensor)`` (its dtype), ``to(device=..., dtype=...)``; the CPU is the only device.

        The parameters stay the same objects, so an optimizer built earlier still holds them.

        >>> import microtensor as mt
        >>> mt.nn.Linear(2, 1).to(mt.float64).weight.dtype
        dtype('float64')
        >>> mt.nn.Linear(2, 1).to("cpu").weight.dtype
        dtype('float32')
        """
        dtype = target_dtype(args, dtype, device)
        if dtype is None:
            return self
        dtype = as_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, "
                            f"got dtype {dtype}")
        for param in self.parameters():
            param.array = param.array.astype(dtype, copy=False)
            if param.grad is not None:
                param.grad.array = param.grad.array.astype(dtype, copy=False)
        for buffer in self.buffers():  # floating buffers follow, as PyTorch; indices stay
            if buffer.dtype.kind == "f":
                buffer.array = buffer.array.astype(dtype, copy=False)
        return self

    def cpu(self) -> Module:
        """``self``: parameters always live on the CPU.

        >>> import microtensor as mt
        >>> layer = mt.nn.Linear(2, 1)
        >>> layer.cpu() is layer
        True
        """
        return self

    def double(self) -> Module:
        """``to(float64)``.

        >>> import microtensor as mt
        >>> mt.nn.Linear(2, 1).double().bias.dtype
        dtype('float64')
        """
        return self.to(np.float64)

    def float(self) -> Module:
        """``to(float32)``.

        >>> import microtensor as mt
        >>> mt.nn.Linear(2, 1, dtype=mt.float64).float().bias.dtype
        dtype('float32')
        """
        return self.to(np.float32)

    # ---------------------------------------------------------- checkpoints
    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, detached: the tensors share
        memory with the module's (as in PyTorch), so ``{k: v.clone() for ...}`` is a snapshot.

        As PyTorch's, a module or parameter reachable under two names (weight tying) is
        written under both, the two entries sharing memory; ``load_state_dict`` expects both.

        >>> import microtensor as mt
        >>> list(mt.nn.Linear(2, 1).state_dict())
        ['weight', 'bias']
        """
        return OrderedDict((name, tensor.detach()) for name, tensor in self._state_tensors())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values (tensors or numpy arrays) into the parameters and buffers, in place.

        Everything is checked before anything is copied, so a failed load leaves the
        model as it was: with ``strict``, missing and unexpected keys; always, shapes and
        dtypes. Values are cast to each parameter's (or buffer's) dtype. Returns the missing and
        unexpected keys (both empty under ``strict``). A tied module or parameter has a key per
        name, as in ``state_dict``; each is copied in that order, so the last one wins.

        >>> import numpy as np, microtensor as mt
        >>> layer = mt.nn.Linear(2, 1)
        >>> layer.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": np.zeros(1)})
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> layer.weight.tolist()
        [[1.0, 2.0]]
        >>> layer.load_state_dict({"weight": np.zeros((2, 2))}, strict=False)
        Traceback (most recent call last):
        ...
        RuntimeError: Error(s) in loading state_dict for Linear:
          size mismatch for weight: the state_dict has shape (2, 2), the model has shape (1, 2)
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping of names to tensors or arrays, "
                            f"got {type(state_dict).__name__}")
        params = OrderedDict(self._state_tensors())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        errors = []
        if strict:
            errors += [f"missing key: {name}" for name in missing]
            errors += [f"unexpected key: {name}" for name in unexpected]
        values = {}
        for name, param in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = np.asarray(value.array if isinstance(value, Tensor) else value)
            if value.dtype.kind not in "iuf" + ("b" if param.dtype.kind == "b" else ""):
                errors.append(f"{name} has dtype {value.dtype}; a numeric array is expected")
            elif value.shape != param.shape:
                errors.append(f"size mismatch for {name}: the state_dict has shape "
                              f"{value.shape}, the model has shape {param.shape}")
            else:
                values[name] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(errors))
        with no_grad():  # bumps each parameter's version, so a stale graph cannot backward
            for name, value in values.items():
                params[name].copy_(value.astype(params[name].dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(module).replace("\n", "\n  ")
                    for name, module in self.named_children()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another, registered as ``"0"``, ``"1"``, ...

    >>> import microtensor as mt
    >>> model = mt.nn.Sequential(mt.nn.Linear(3, 4), mt.nn.Dropout(0.1), mt.nn.Linear(4, 1))
    >>> model
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): Dropout(p=0.1)
      (2): Linear(in_features=4, out_features=1, bias=True)
    )
    >>> model(mt.ones(2, 3)).shape, model[2].weight.name
    ((2, 1), '2.weight')
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, "
                                "not a Module")
            setattr(self, str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


def _once(pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """The ``(name, thing)`` pairs whose thing was not given before under another name
    (PyTorch's ``remove_duplicate``): a tied module or tensor counts once."""
    seen: set[int] = set()
    for name, thing in pairs:
        if id(thing) not in seen:
            seen.add(id(thing))
            yield name, thing
