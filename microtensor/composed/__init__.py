"""Tensor methods composed from the engine's ops and factories, one family per file.

Each method is a plain function of the tensor, so ``tensor.py`` stays the short read it is.
A new one is its function in the family file it belongs to (``conversion``, ``comparison``,
``arithmetic``, ``shape``, ``indexing``, ``linalg``, ``reductions``), named as the method:
every public function a family file defines becomes ``x.NAME(...)`` (helpers start with
``_``). If PyTorch also has it as ``torch.NAME(x, ...)``, add its name to
``functions.METHOD_FUNCTIONS`` too. The engine differentiates them through the ops they call.

>>> import microtensor as mt
>>> x = mt.arange(6.0).reshape(2, 3)
>>> x.narrow(1, 1, 2).tolist(), [t.tolist() for t in x.unbind(1)][0]
([[1.0, 2.0], [4.0, 5.0]], [0.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType, ModuleType

from ..legacy import tensor_type
from ..tensor import Tensor
from . import arithmetic, comparison, conversion, indexing, linalg, reductions, shape
from .arithmetic import OPERATORS


def _functions_of(*families: ModuleType) -> dict[str, Callable]:
    """The public functions each family file defines (not the ones it imports), by name."""
    return {name: obj for family in families for name, obj in vars(family).items()
            if isinstance(obj, FunctionType) and not name.startswith("_")
            and obj.__module__ == family.__name__}


#: The table: ``x.NAME(...)`` for each.
METHODS = _functions_of(arithmetic, comparison, conversion, indexing, linalg, reductions, shape)
METHODS["type"] = tensor_type  # x.type(): legacy.py's, beside PyTorch's typed classes

for _name, _fn in {**METHODS, **OPERATORS}.items():
    setattr(Tensor, _name, _fn)
for _name, _fn in shape.PROPERTIES.items():  # x.mT, as PyTorch's
    setattr(Tensor, _name, property(_fn))
