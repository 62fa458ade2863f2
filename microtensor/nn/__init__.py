"""Neural-network building blocks on the engine: modules, layers and recurrent networks."""

from . import functional, init, utils
from .cells import GRUCell, LSTMCell, RNNCell
from .layers import Dropout, Embedding, Linear
from .module import Module, Parameter, Sequential
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "GRU", "LSTM", "RNN", "Dropout", "Embedding", "GRUCell", "LSTMCell", "Linear", "Module",
    "Parameter", "RNNCell", "Sequential", "functional", "init", "utils",
]
