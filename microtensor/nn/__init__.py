"""Neural-network building blocks on the engine: modules, layers and recurrent networks."""

from . import functional, init, utils
from .activation import ReLU, Sigmoid, Tanh
from .attention import Attention
from .cells import GRUCell, LSTMCell, RNNCell, gate
from .containers import ModuleDict, ModuleList
from .layers import Dropout, Embedding, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, Sequential
from .normalization import LayerNorm
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "GRU", "LSTM", "RNN", "Attention", "CrossEntropyLoss", "Dropout", "Embedding", "GRUCell",
    "LSTMCell", "LayerNorm", "Linear", "MSELoss", "Module", "ModuleDict", "ModuleList", "NLLLoss",
    "Parameter", "RNNCell", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "gate", "init",
    "utils",
]
