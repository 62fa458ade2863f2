"""Matrix multiplication in all of numpy's cases: vector, matrix and batched."""

import math

import numpy as np

from ..autograd import Function
from ..errors import DtypeError, ShapeError
from ..lazy import OuterGrad


class MatMul(Function):
    promote = "same"  # as PyTorch: float32 @ float64 is an error, not a silent upcast

    def forward(self, a, b):
        if a.dtype.kind == "b":
            raise DtypeError("matmul is not supported on bool tensors")
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"both arguments to matmul need to be at least 1D, but they are "
                             f"{a.ndim}D and {b.ndim}D")
        need_a, need_b = self.needs_input_grad
        # Each gradient needs only the other operand.
        self.save_for_backward(a if need_b else None, b if need_a else None)
        self.ndims = a.ndim, b.ndim
        return a @ b

    def backward(self, grad):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        if self.ndims == (1, 1):  # dot product
            return (grad * b if need_a else None), (grad * a if need_b else None)
        if self.ndims[0] >= 2 and self.ndims[1] == 2:
            # b is typically a weight: used at every step, or by every row of a batch of
            # sequences (a is (..., K)). Its gradient is a.T @ grad over all rows, left
            # unmultiplied so that the engine stacks every use's factors into one matmul.
            grad_b = None
            if need_b:
                rows = math.prod(a.shape[:-1])  # not -1: a reshape cannot infer it when empty
                grad_b = OuterGrad(a.reshape(rows, a.shape[-1]), grad.reshape(rows, grad.shape[-1]))
            return (grad @ b.T if need_a else None), grad_b
        # As matmul does, read a vector a (k,) as a row (1, k) and b (k,) as a column (k, 1);
        # grad then lacks that axis, so put it back. The engine sums any broadcast batch axes.
        a_is_vector, b_is_vector = self.ndims[0] == 1, self.ndims[1] == 1
        if a_is_vector:
            a, grad = (None if a is None else a[None, :]), grad[..., None, :]
        if b_is_vector:
            b, grad = (None if b is None else b[:, None]), grad[..., None]
        grad_a = grad_b = None
        if need_a:
            grad_a = grad @ np.swapaxes(b, -1, -2)
            grad_a = grad_a[..., 0, :] if a_is_vector else grad_a
        if need_b:
            grad_b = np.swapaxes(a, -1, -2) @ grad
            grad_b = grad_b[..., 0] if b_is_vector else grad_b
        return grad_a, grad_b
