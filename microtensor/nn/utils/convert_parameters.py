"""All parameters as one flat vector and back, as PyTorch's ``nn.utils.convert_parameters``
(for optimisers and tests that treat a model as a point in one long vector)."""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import ShapeError
from ...functions import cat
from ...tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and joined in order into one 1-d tensor (dtypes promoted, as
    ``cat``); gradients flow back to each parameter.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils import parameters_to_vector
    >>> parameters_to_vector([mt.ones(2, 2), mt.zeros(1)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0]
    """
    vectors = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: parameter {i} is a {type(p).__name__}, "
                            "not a tensor")
        vectors.append(p.reshape(-1))
    if not vectors:
        raise ValueError("parameters_to_vector: expected at least one parameter, got none")
    return cat(vectors)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter, in order, the next ``numel()`` entries of ``vec`` (sliced along its
    first dimension), shaped as the parameter.

    As PyTorch (which assigns ``param.array``): each parameter then shares memory with
    ``vec`` and takes its dtype, no gradient is recorded, and entries of ``vec`` past the
    last parameter are ignored.

    >>> import microtensor as mt
    >>> from microtensor.nn.utils import vector_to_parameters
    >>> w, b = mt.zeros(2, 2), mt.zeros(1)
    >>> vector_to_parameters(mt.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), [w, b])
    >>> w.tolist(), b.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [5.0])
    """
    op = "vector_to_parameters"
    if not isinstance(vec, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(vec).__name__}")
    if vec.ndim == 0:
        raise ShapeError(f"{op}: vec must have at least one dimension to slice, got a 0-d tensor")
    pointer = 0
    for i, param in enumerate(parameters):
        n = param.numel()
        block = vec.array[pointer:pointer + n]
        if block.size != n:
            raise ShapeError(f"{op}: parameter {i} of shape {param.shape} needs {n} entries, but "
                             f"vec[{pointer}:{pointer + n}] of vec of shape {vec.shape} has "
                             f"{block.size}")
        # A numpy view of vec, as PyTorch's param.array = vec[...].view_as(param).array
        param.array = block.reshape(param.shape)
        pointer += n
