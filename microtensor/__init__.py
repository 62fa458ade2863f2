"""microtensor: a small reverse-mode autodiff engine on numpy, for seeing how recurrent
networks learn.

>>> import microtensor as mt
>>> w = mt.tensor([[0.5, -1.0]], requires_grad=True)
>>> loss = (w @ mt.tensor([2.0, 1.0])).tanh().sum()
>>> loss.backward()
>>> w.grad.shape
(1, 2)
"""

# Order matters here: autograd first, because tensor.py and the ops import it and it
# imports Tensor back at its end; nn last, because it builds on everything else.
from .autograd import (
    Function, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, observe, scope,
)
from .tensor import Tensor, device
from .creation import (
    arange, eye, from_numpy, full, manual_seed, ones, ones_like, rand, randint, randn, tensor,
    zeros, zeros_like,
)
from .dtypes import (
    bool, can_cast, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    promote_types, result_type, set_default_dtype, uint8,
)
from .functions import (
    abs, cat, chunk, clamp, exp, flatten, log, log_softmax, logsumexp, matmul, max, maximum,
    mean, min, minimum, permute, relu, reshape, sigmoid, softmax, split, sqrt, squeeze, stack,
    sum, tanh, transpose, unsqueeze, where,
)
from .serialization import CheckpointError, load, save
from . import nn, optim, viz

__all__ = [
    "CheckpointError", "Function", "Tensor", "abs", "arange", "bool", "can_cast", "cat", "chunk",
    "clamp", "detect_anomaly", "device", "enable_grad", "exp", "eye", "flatten", "float16",
    "float32", "float64", "from_numpy", "full", "get_default_dtype", "grad", "int8", "int16",
    "int32", "int64", "is_grad_enabled", "promote_types", "result_type", "uint8",
    "load", "log", "log_softmax", "logsumexp", "manual_seed", "matmul", "max", "maximum",
    "mean", "min", "minimum", "nn", "no_grad", "observe", "ones", "ones_like", "optim",
    "permute", "rand", "randint", "randn", "relu", "reshape", "save", "scope",
    "set_default_dtype", "sigmoid", "softmax", "split", "sqrt", "squeeze", "stack", "sum",
    "tanh", "tensor", "transpose", "unsqueeze", "viz", "where", "zeros", "zeros_like",
]
