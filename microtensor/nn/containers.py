"""``ModuleList`` and ``ModuleDict``: submodules held in a list or a dict, registered (so
their parameters are the holder's) but not called in any order: ``forward`` decides."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .module import Module


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
