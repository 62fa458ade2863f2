"""Every primitive op: one ``Function`` subclass each, forward and backward side by side.

Grouped by family. Everything else (``mean``, ``split``, ``cross_entropy``...)
is composed from these in ``Tensor`` or ``nn.functional``, so the list below is
the complete set of gradients the engine knows.
"""

from .elementwise import (
    Abs,
    Add,
    Cast,
    Clamp,
    Clone,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .linalg import MatMul
from .reduce import Extremum, LogSoftmax, LogSumExp, Softmax, Sum
from .shape import Cat, Expand, Gather, Index, Permute, Reshape, SetItem, Stack

__all__ = [
    "Abs", "Add", "Cast", "Cat", "Clamp", "Clone", "Div", "Exp", "Expand", "Extremum",
    "Gather", "Index", "Log", "LogSoftmax", "LogSumExp", "MatMul", "Maximum", "Minimum",
    "Mul", "Neg", "Permute", "Pow", "Relu", "Reshape", "SetItem", "Sigmoid", "Softmax",
    "Sqrt", "Stack", "Sub", "Sum", "Tanh", "Where",
]
