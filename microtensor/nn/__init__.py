"""Neural-network building blocks on the engine: modules, layers and recurrent networks."""

from . import functional, init, utils
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import Attention
from .cells import GRUCell, LSTMCell, RNNCell, gate
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from .layers import Dropout, Embedding, Flatten, Identity, Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, Parameter, Sequential
from .multihead import MultiheadAttention
from .normalization import LayerNorm
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "Attention", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding",
    "Flatten", "GELU", "GRU", "GRUCell", "HuberLoss", "Identity", "KLDivLoss", "L1Loss",
    "LSTM", "LSTMCell", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict",
    "ModuleList", "MultiheadAttention", "NLLLoss", "Parameter", "ParameterDict",
    "ParameterList", "RNN", "RNNCell", "ReLU", "Sequential", "Sigmoid", "SmoothL1Loss",
    "Softmax", "Tanh", "functional", "gate", "init", "utils",
]
