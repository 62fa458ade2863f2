"""Optimizers: update rules that move parameters against their gradients.

Each has ``torch.optim``'s name, formulas and defaults, and works on any iterable of
leaf tensors (``model.parameters()``), or on parameter groups with their own options.

>>> import microtensor as mt
>>> from microtensor import optim
>>> w = mt.tensor([3.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.25)
>>> for _ in range(3):
...     opt.zero_grad()
...     (w * w).sum().backward()  # gradient 2w: each step halves w
...     opt.step()
>>> w.item()
0.375
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RAdam", "RMSprop",
           "lr_scheduler"]
