"""``ModuleList`` and ``ModuleDict``: submodules held in a list or a dict, registered (so
their parameters are the holder's) but not called in any order: ``forward`` decides.
``ParameterList`` and ``ParameterDict``: the same for parameters."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..tensor import Tensor
from .module import Module, Parameter


def _checked(module: object, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{where} is a {type(module).__name__}, not a Module")
    return module


class ModuleList(Module):
    """A list of modules, registered as ``"0"``, ``"1"``, ...: index, iterate, append, extend.

    >>> import microtensor as mt
    >>> layers = mt.nn.ModuleList(mt.nn.Linear(3, 3) for _ in range(2))
    >>> layers.append(mt.nn.Linear(3, 1))
    ModuleList(
      (0): Linear(in_features=3, out_features=3, bias=True)
      (1): Linear(in_features=3, out_features=3, bias=True)
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    >>> len(layers), len(list(layers.parameters())), layers[-1].weight.name
    (3, 6, '2.weight')
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> str:
        if not -len(self) <= index < len(self):
            raise IndexError(f"ModuleList: index {index} is out of range for {len(self)} modules")
        return str(index % len(self))

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._index(index), _checked(module, "ModuleList: the new item"))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self)), _checked(module, f"ModuleList: item {len(self)}"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``; returns self."""
        for module in modules:
            self.append(module)
        return self

    def forward(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError("ModuleList has no forward: call its modules in your own "
                                  "forward, in the order you need")


class ModuleDict(Module):
    """A dict of modules by name, in insertion order; each registered under its key.

    >>> import microtensor as mt
    >>> heads = mt.nn.ModuleDict({"digit": mt.nn.Linear(4, 10), "parity": mt.nn.Linear(4, 2)})
    >>> heads["parity"](mt.ones(1, 4)).shape, list(heads.keys())
    ((1, 2), ['digit', 'parity'])
    >>> [name for name, _ in heads.named_parameters()][:2]
    ['digit.weight', 'digit.bias']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        if key not in self._modules and (hasattr(type(self), key) or key in self.__dict__):
            raise KeyError(f"ModuleDict: key {key!r} would hide the attribute of that name")
        setattr(self, key, _checked(module, f"ModuleDict: the value for {key!r}"))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        """``(name, module)`` pairs, in insertion order."""
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from ``(name, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError("ModuleDict has no forward: pick its modules by name in your "
                                  "own forward")


def _as_parameter(value: Any) -> Any:
    """A tensor becomes a Parameter sharing its memory, as PyTorch's containers do; anything
    else (a Parameter, None, any object) is kept as it is."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) \
        else value


def _items_repr(container: Module, items: Iterable[tuple[str, Any]]) -> str:
    """PyTorch's repr of a parameter container: one line per item."""
    lines = []
    for key, value in items:
        if isinstance(value, Tensor):
            kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
            size = "x".join(str(n) for n in value.shape)
            lines.append(f"({key}): {kind} containing: [{value.dtype} of size {size}]")
        else:
            lines.append(f"({key}): Object of type: {type(value).__name__}")
    name = type(container).__name__
    return f"{name}(\n  " + "\n  ".join(lines) + "\n)" if lines else f"{name}()"


class ParameterList(Module):
    """A list of parameters, registered as ``"0"``, ``"1"``, ...: index, iterate, append,
    extend. Tensors put in become Parameters (sharing their memory), as PyTorch's; other
    objects are held as they are.

    >>> import microtensor as mt
    >>> params = mt.nn.ParameterList([mt.zeros(2), mt.nn.Parameter(mt.ones(3))])
    >>> params.append(mt.ones(1))
    ParameterList(
      (0): Parameter containing: [float32 of size 2]
      (1): Parameter containing: [float32 of size 3]
      (2): Parameter containing: [float32 of size 1]
    )
    >>> [name for name, _ in params.named_parameters()], params[-1].requires_grad
    (['0', '1', '2'], True)
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _key(self, index: int) -> str:
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ParameterList: index {index} is out of range for {len(self)} items")
        return str(index % len(self))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self[i] for i in range(*index.indices(len(self))))
        return getattr(self, self._key(index))

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, self._key(index), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def __dir__(self) -> list[str]:
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` at the end (a tensor as a Parameter); returns self."""
        setattr(self, str(self._size), _as_parameter(value))
        self._size += 1  # after: a refused value (PyTorch counts it anyway) leaves no gap
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values``; returns self."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("ParameterList should not be called.")

    def __repr__(self) -> str:
        return _items_repr(self, ((str(i), value) for i, value in enumerate(self)))


class MissingKeyError(KeyError, AttributeError):
    """A key a ParameterDict does not hold: a KeyError, as a dict's, and the AttributeError
    PyTorch's raises (it looks keys up as attributes)."""


class ParameterDict(Module):
    """A dict of parameters by name, in insertion order; each registered under its key.
    Tensors put in become Parameters (sharing their memory), as PyTorch's; other objects are
    held as they are. As PyTorch's, ``update`` (and the constructor) takes the items of a plain
    ``dict`` in sorted key order, and those of an ``OrderedDict``, a ``ParameterDict`` or a
    sequence of pairs in their own order.

    >>> import microtensor as mt
    >>> scales = mt.nn.ParameterDict({"right": mt.ones(2), "left": mt.zeros(2)})
    >>> list(scales), scales["left"].requires_grad
    (['left', 'right'], True)
    >>> list(scales.state_dict()), "left" in scales, scales.get("up") is None
    (['left', 'right'], True, True)
    """

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ParameterDict: keys must be non-empty strings without '.', got "
                           f"{key!r}")
        # PyTorch lets such a key shadow (or be shadowed by) the method of that name.
        if key not in self._keys and (hasattr(type(self), key) or key in self.__dict__):
            raise KeyError(f"ParameterDict: key {key!r} would hide the attribute of that name")
        return key

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise MissingKeyError(f"ParameterDict has no key {key!r}")
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, self._check_key(key), _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._keys.keys()

    def values(self) -> Iterator[Any]:
        """The values, in insertion order."""
        return (self[key] for key in self._keys)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` pairs, in insertion order."""
        return ((key, self[key]) for key in self._keys)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` if present, else ``default``."""
        return self[key] if key in self._keys else default

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, first set to ``default`` if absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str) -> Any:
        """Remove ``key`` and return its value."""
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted ``(name, value)`` pair."""
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def clear(self) -> None:
        """Remove every item."""
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same values."""
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        """A new ParameterDict with ``keys``, each set to ``default``."""
        return ParameterDict((key, default) for key in keys)

    def update(self, parameters: Any) -> None:
        """Add or replace items from a mapping or from ``(name, value)`` pairs."""
        if not isinstance(parameters, Iterable):
            raise TypeError(f"ParameterDict.update should be called with an iterable of "
                            f"key/value pairs, but got {type(parameters).__name__}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs: Iterable[Any] = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = list(parameters)
            for i, pair in enumerate(pairs):
                if not isinstance(pair, Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{i} should be "
                                    f"Iterable; is {type(pair).__name__}")
                if len(pair) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{i} has length "
                                     f"{len(pair)}; 2 is required")
        for key, value in pairs:
            self[key] = value

    def __or__(self, other: ParameterDict) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: ParameterDict) -> ParameterDict:
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other: ParameterDict) -> ParameterDict:
        self.update(other)
        return self

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("ParameterDict should not be called.")

    def __repr__(self) -> str:
        return _items_repr(self, self.items())
