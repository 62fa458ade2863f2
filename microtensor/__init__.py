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
    Function, detect_anomaly, enable_grad, grad, inference_mode, is_grad_enabled, no_grad, observe,
    scope, set_grad_enabled,
)
from .tensor import Tensor
from .devices import accelerator, cuda, device, get_default_device, set_default_device
from .creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, is_tensor, linspace,
    numel, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros,
    zeros_like,
)
from .generators import Generator, manual_seed
from .legacy import (
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor,
    ShortTensor,
)
from .dtypes import (
    bool, can_cast, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    promote_types, result_type, set_default_dtype, uint8,
)
from .functions import *  # noqa: F403 - mt.exp, mt.sum...: the table in functions.py
from . import functions
from .errors import DtypeError, ShapeError
from .serialization import CheckpointError, load, save
from .printing import set_printoptions
from . import nn, optim, utils, viz

# PyTorch's other names of dtypes (torch.float is float32, torch.long is int64...): bound last,
# as two of them shadow Python's builtins in this module.
double, half, long, short = float64, float16, int64, int16
float, int = float32, int32  # noqa: A001 - PyTorch's names

__all__ = [
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
    "IntTensor", "LongTensor", "ShortTensor",
    "accelerator", "arange", "as_tensor", "bool", "can_cast", "CheckpointError", "cuda",
    "detect_anomaly", "device", "double", "DtypeError", "empty", "empty_like", "enable_grad",
    "eye", "float", "float16", "float32", "float64", "from_numpy", "full", "full_like",
    "Function", "Generator", "get_default_device", "get_default_dtype", "grad", "half",
    "inference_mode", "int", "int16", "int32", "int64", "int8", "is_grad_enabled", "is_tensor",
    "linspace", "load", "long", "manual_seed", "nn", "no_grad", "numel", "observe", "ones",
    "ones_like", "optim", "promote_types", "rand", "rand_like", "randint", "randn", "randn_like",
    "randperm", "result_type", "save", "scope", "set_default_device", "set_default_dtype",
    "set_grad_enabled", "set_printoptions", "ShapeError", "short", "Tensor", "tensor", "uint8",
    "utils", "viz", "zeros",
    "zeros_like", *functions.__all__,
]
