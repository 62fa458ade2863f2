"""Matrix multiplication in all of numpy's cases: vector, matrix and batched."""

import numpy as np

from ..autograd import Function, OuterGrad


class MatMul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved_tensors
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return grad * b, grad * a
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            # For b (typically a weight used at every step), leave a.T @ grad unmultiplied:
            # the engine stacks every step's factors into one matmul.
            return (grad @ b.T if need_a else None), (OuterGrad(a, grad) if need_b else None)
        # As matmul does, read a vector a (k,) as a row (1, k) and b (k,) as a column (k, 1);
        # grad then lacks that axis, so put it back. The engine sums any broadcast batch axes.
        a_is_vector, b_is_vector = a.ndim == 1, b.ndim == 1
        if a_is_vector:
            a, grad = a[None, :], grad[..., None, :]
        if b_is_vector:
            b, grad = b[:, None], grad[..., None]
        grad_a = grad_b = None
        if need_a:
            grad_a = grad @ np.swapaxes(b, -1, -2)
            grad_a = grad_a[..., 0, :] if a_is_vector else grad_a
        if need_b:
            grad_b = np.swapaxes(a, -1, -2) @ grad
            grad_b = grad_b[..., 0] if b_is_vector else grad_b
        return grad_a, grad_b
