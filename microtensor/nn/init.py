"""Parameter initialisation, in place, from the generator that ``mt.manual_seed`` seeds.

Each function fills a tensor under ``no_grad`` (as PyTorch's ``nn.init`` does) and
returns it, so a layer's ``reset_parameters`` reads as a list of distributions.
"""

from __future__ import annotations

from ..autograd import no_grad
from ..creation import generator
from ..tensor import Tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from U(a, b).

    >>> import microtensor as mt
    >>> w = mt.nn.init.uniform_(mt.zeros(1000), -0.1, 0.1)
    >>> bool((w.abs() <= 0.1).all())
    True
    """
    if a > b:
        raise ValueError(f"uniform_: the lower bound a={a} is above the upper bound b={b}")
    with no_grad():
        return tensor.copy_(generator().uniform(a, b, tensor.shape).astype(tensor.dtype))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``tensor`` with samples from N(mean, std²).

    >>> import microtensor as mt
    >>> w = mt.nn.init.normal_(mt.zeros(10000), mean=3.0, std=0.1)
    >>> round(w.mean().item(), 1)
    3.0
    """
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    with no_grad():
        return tensor.copy_(generator().normal(mean, std, tensor.shape).astype(tensor.dtype))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` (e.g. a forget-gate bias of 1).

    >>> import microtensor as mt
    >>> mt.nn.init.constant_(mt.zeros(3), 1.0).tolist()
    [1.0, 1.0, 1.0]
    """
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros.

    >>> import microtensor as mt
    >>> mt.nn.init.zeros_(mt.ones(2)).tolist()
    [0.0, 0.0]
    """
    return constant_(tensor, 0.0)
