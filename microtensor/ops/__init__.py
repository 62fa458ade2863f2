"""Every primitive op: one ``Function`` subclass each, forward and backward side by side.

Grouped by family (elementwise, reduce, shape, linalg). Everything else (``mean``,
``split``, ``cross_entropy``...) is composed from these in ``Tensor`` or
``nn.functional``, so the classes below are the complete set of gradients the engine
knows. Every ``Function`` subclass a family file defines is exported from here, as
``microtensor.ops.NAME``: a new op is written once, in its family file.
"""

from ..autograd import Function
from . import elementwise, linalg, reduce, shape


def _ops_of(*families: object) -> dict[str, type]:
    return {name: obj for family in families for name, obj in vars(family).items()
            if isinstance(obj, type) and issubclass(obj, Function)
            and obj.__module__ == family.__name__}


globals().update(_ops_of(elementwise, linalg, reduce, shape))
__all__ = sorted(_ops_of(elementwise, linalg, reduce, shape))

#: The ops called without options, as a method and as a function: ``x.NAME()`` and
#: ``mt.NAME(x)`` are made from this table, and ``mt.__all__`` lists them. A new op of this
#: kind is its class in a family file plus one line here.
METHODS: dict[str, type] = {
    "exp": elementwise.Exp,
    "log": elementwise.Log,
    "sqrt": elementwise.Sqrt,
    "abs": elementwise.Abs,
    "neg": elementwise.Neg,
    "tanh": elementwise.Tanh,
    "sigmoid": elementwise.Sigmoid,
    "relu": elementwise.Relu,
    "erf": elementwise.Erf,
    "log1p": elementwise.Log1p,
    "expm1": elementwise.Expm1,
    "sin": elementwise.Sin,
    "cos": elementwise.Cos,
    "rsqrt": elementwise.Rsqrt,
    "reciprocal": elementwise.Reciprocal,
    "sign": elementwise.Sign,
    "floor": elementwise.Floor,
    "ceil": elementwise.Ceil,
}
