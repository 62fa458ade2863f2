"""The errors microtensor raises where PyTorch raises ``RuntimeError``.

PyTorch reports almost every problem with a tensor's shape or dtype as a ``RuntimeError``;
Python's own classes say more (``ValueError`` for a shape, ``TypeError`` for a dtype). These
classes are both, so ``except RuntimeError`` written for PyTorch catches them, and so does
``except ValueError`` / ``except TypeError``.

>>> import microtensor as mt
>>> try:
...     mt.ones(2) @ mt.ones(3)
... except RuntimeError as err:
...     isinstance(err, ValueError)
True
"""


class ShapeError(ValueError, RuntimeError):
    """A tensor's shape (or size, or count) does not fit the op.

    >>> import microtensor as mt
    >>> issubclass(mt.ShapeError, RuntimeError)
    True
    """


class DtypeError(TypeError, RuntimeError):
    """A tensor's dtype does not fit the op.

    >>> import microtensor as mt
    >>> issubclass(mt.DtypeError, RuntimeError)
    True
    """
