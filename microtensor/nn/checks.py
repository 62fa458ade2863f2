"""What every recurrent module checks and shares, cells and sequence layers alike: sizes,
the nonlinearity, inputs and states (each error names the layer), the initialisation and
the ``layer`` tag of its ops. Public, so a new cell or layer uses the same rules.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DtypeError, ShapeError
from ..tensor import Tensor
from . import init
from .module import Module

NONLINEARITIES = ("tanh", "relu")


def check_sizes(layer: str, **sizes: int) -> None:
    """Reject sizes that are not positive integers, naming the layer and the argument.

    >>> check_sizes("LSTM", hidden_size=0)
    Traceback (most recent call last):
    ...
    ValueError: LSTM: hidden_size must be a positive integer, got 0
    """
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def check_nonlinearity(layer: str, nonlinearity: str) -> None:
    """Reject a nonlinearity other than ``"tanh"`` or ``"relu"``.

    >>> check_nonlinearity("RNN", "elu")
    Traceback (most recent call last):
    ...
    ValueError: RNN: nonlinearity must be one of ('tanh', 'relu'), got 'elu'
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{layer}: nonlinearity must be one of {NONLINEARITIES}, "
                         f"got {nonlinearity!r}")


def check_input(layer: str, input: Tensor, ndims: tuple[int, ...], shapes: str,  # noqa: A002
                input_size: int, dtype: Any) -> None:
    """Reject an input of the wrong type, rank, feature size or dtype, naming the layer.

    >>> import microtensor as mt
    >>> check_input("GRU", mt.zeros(5, 2, 4), (2, 3), "(seq, batch, 3)", 3, mt.float32)
    Traceback (most recent call last):
    ...
    microtensor.errors.ShapeError: GRU: expected input of shape (seq, batch, 3) with input_size 3,
    got (5, 2, 4)
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in ndims or input.shape[-1] != input_size:
        raise ShapeError(f"{layer}: expected input of shape {shapes} with input_size "
                         f"{input_size}, got {input.shape}")
    if input.dtype != dtype:
        raise DtypeError(f"{layer}: input has dtype {input.dtype} but the parameters have "
                         f"{dtype}; convert the input, or the model with .to(dtype)")


def check_state(layer: str, what: str, state: Any, shape: tuple, dtype: Any) -> None:
    """Reject an initial state of the wrong type, shape or dtype, naming the layer.

    >>> import microtensor as mt
    >>> check_state("LSTM", "c0", mt.zeros(1, 3), (1, 2, 3), mt.float32)
    Traceback (most recent call last):
    ...
    microtensor.errors.ShapeError: LSTM: expected c0 of shape (1, 2, 3), got (1, 3)
    """
    if not isinstance(state, Tensor):
        raise TypeError(f"{layer}: {what} must be a Tensor, got {type(state).__name__}")
    if state.shape != shape:
        raise ShapeError(f"{layer}: expected {what} of shape {shape}, got {state.shape}")
    if state.dtype != dtype:
        raise DtypeError(f"{layer}: {what} has dtype {state.dtype} but the parameters have "
                         f"{dtype}")


def reset_uniform(module: Module, hidden_size: int) -> None:
    """Draw every parameter of ``module`` from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)),
    PyTorch's initialisation of recurrent cells and layers.

    >>> import microtensor as mt
    >>> cell = mt.nn.RNNCell(2, 4)
    >>> reset_uniform(cell, 4)
    >>> bool((cell.weight_hh.abs() <= 0.5).all())
    True
    """
    bound = 1 / math.sqrt(hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


def scope_label(module: Module) -> str:
    """The ``layer`` tag of a module's ops: its path in the model, or its class name in
    lower case for a module no parent holds.

    >>> import microtensor as mt
    >>> scope_label(mt.nn.LSTM(2, 3)), scope_label(mt.nn.Sequential(mt.nn.GRU(2, 3))[0])
    ('lstm', '0')
    """
    return module.path or type(module).__name__.lower()
