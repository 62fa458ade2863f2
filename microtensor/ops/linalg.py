"""Matrix multiplication in all of numpy's cases (vector, matrix and batched), and einsum."""

import math
from typing import Any

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


# ------------------------------------------------------------------------------- einsum
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_terms(equation: str, ndims: list[int]) -> tuple[list[list[int]], list[int]]:
    """The equation's subscripts as numpy's sublists (letters as 0-51 in PyTorch's order, A-Z
    then a-z; ellipsis dims as the labels no letter uses), per operand and for the output."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum(): {'fewer' if len(terms) > len(ndims) else 'more'} operands "
                         "were provided than specified in the equation")
    for i, c in enumerate(eq):
        if not (c in _LETTERS or c in ".,->"):
            raise ValueError(f"einsum(): invalid subscript given at index {i} in the equation "
                             "string, subscripts must be in [a-zA-Z]")
    free = [k for k, c in enumerate(_LETTERS) if c not in eq]
    ellipsis = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t),
                   default=0)
    if ellipsis > len(free):
        raise ValueError("einsum(): too many dimensions under the ellipsis for 52 labels")
    dots = free[len(free) - ellipsis:] if ellipsis else []

    def parse(term: str, n: int | None, where: str) -> list[int]:
        head, has_dots, tail = term.partition("...")
        if "." in head or "." in tail:
            raise ValueError(f"einsum(): found '.' for {where} that is not part of any ellipsis")
        letters = len(head) + len(tail)
        if n is not None and (letters > n or not has_dots and letters != n):
            raise ValueError(f"einsum(): the number of subscripts in the equation ({letters}) does "
                             f"not match the number of dimensions ({n}) for {where}"
                             f"{'' if has_dots else ' and no ellipsis was given'}")
        middle = (dots[len(dots) - (n - letters):] if n - letters else []) if n is not None \
            else dots if has_dots else []
        return [_LETTERS.index(c) for c in head] + middle + [_LETTERS.index(c) for c in tail]

    subs = [parse(t, n, f"operand {i}") for i, (t, n) in enumerate(zip(terms, ndims))]
    if arrow:
        out = parse(rhs, None, "the output")
        for label in out:
            if label not in dots and all(label not in s for s in subs):
                raise ValueError(f"einsum(): output subscript {_LETTERS[label]} does not appear in "
                                 "the equation for any input operand")
            if out.count(label) > 1:
                raise ValueError(f"einsum(): output subscript {_LETTERS[label]} appears more than "
                                 "once in the output")
    else:  # implicit: the ellipsis, then each letter used once, in alphabetical order
        counts = [sum(s.count(k) for s in subs) for k in range(len(_LETTERS))]
        out = dots + [k for k, c in enumerate(counts) if c == 1 and k not in dots]
    return subs, out


def _einsum_sizes(arrays, subs) -> dict[int, int]:
    """Each label's size, as PyTorch checks them: equal within an operand, and broadcasting
    (equal, or 1) across operands."""
    sizes: dict[int, int] = {}
    for i, (a, sub) in enumerate(zip(arrays, subs)):
        own: dict[int, int] = {}
        for label, n in zip(sub, a.shape):
            if own.setdefault(label, n) != n:
                raise ValueError(f"einsum(): subscript {_LETTERS[label]} is repeated for operand "
                                 f"{i} but the sizes don't match, {own[label]} != {n}")
        for label, n in own.items():
            seen = sizes.setdefault(label, n)
            if seen != n and 1 not in (seen, n):
                raise ValueError(f"einsum(): subscript {_LETTERS[label]} has size {n} for operand "
                                 f"{i} which does not broadcast with previously seen size {seen}")
            sizes[label] = n if seen == 1 else seen
    return sizes


def _sums_alone(shapes, subs, out) -> bool:
    """Whether PyTorch's einsum, contracting left to right, sums an operand on its own on the
    way (a letter only it has, or one of size 1 in the other operand of a pair): its integer
    sums give int64, so the result is int64 too. Its products keep the dtype."""
    needed = [set(out).union(*subs[k + 1:]) for k in range(len(subs))]
    ops = [dict(zip(sub, shape)) for sub, shape in zip(subs, shapes)]
    for k, own in enumerate(ops):
        if any(label not in needed[k] and all(label not in s for j, s in enumerate(subs) if j != k)
               for label in own):
            return True
    left = ops[0]
    for k, right in enumerate(ops[1:], start=1):
        done = (set(left) | set(right)) - needed[k]
        if any((left.get(label, 1) != 1) != (right.get(label, 1) != 1) for label in done):
            return True
        left = {label: right.get(label, 1) if left.get(label, 1) == 1 else left[label]
                for label in (set(left) | set(right)) - done}
    return False


def _contract(arrays, subs, out) -> np.ndarray:
    """The einsum, contracted two operands at a time from the left, as PyTorch: the order
    decides where an empty sum (0) meets an inf, and it keeps every step a product of two.
    (On tensors, in a recorded backward pass, each step is an ``Einsum``: ``einsum_sublists``.)"""
    acc, acc_sub = arrays[0], subs[0]
    for k in range(1, len(arrays)):
        later = set(out).union(*subs[k + 1:])
        step = [label for label in dict.fromkeys(acc_sub + subs[k]) if label in later]
        acc, acc_sub = np.einsum(acc, acc_sub, arrays[k], subs[k], step), step
    return np.einsum(acc, acc_sub, out)


def einsum_sublists(*args: Any) -> Any:
    """numpy's sublist form of einsum (``a, [0, 1], b, [1, 2], [0, 2]``) on tensors: the
    ``Einsum`` op, its labels written as letters (what ``np.einsum`` of tensors runs in a
    recorded backward pass)."""
    if len(args) % 2 == 0:
        raise TypeError("einsum of tensors in a recorded backward pass: give the output's "
                        "sublist (numpy's implicit output is not supported)")
    from ..tensor import Tensor  # the module that imports this one

    subs, out = args[1:-1:2], args[-1]
    # Arrays (the identity matrices of _on_diagonals) as constant tensors, which the next
    # recorded pass can find among the op's inputs.
    operands = [Tensor._wrap(a) if isinstance(a, np.ndarray) else a for a in args[0:-1:2]]
    letters = ",".join("".join(_LETTERS[k] for k in sub) for sub in subs)
    return Einsum.apply(*operands, equation=f"{letters}->{''.join(_LETTERS[k] for k in out)}")


def _on_diagonals(g, unique: list[int], sub: list[int], sizes: dict[int, int]):
    """``g`` (labelled ``unique``) written onto the diagonals of an operand labelled ``sub``,
    where letters repeat, zeros elsewhere: an einsum with identity matrices, one for each
    repeat (a new label joined to the repeated one)."""
    spare = iter(k for k in range(len(_LETTERS)) if k not in unique)
    full_sub, operands, seen = [], [g, unique], set()
    for label in sub:
        if label in seen:
            new = next(spare)
            operands += [np.eye(sizes[label], dtype=g.dtype), [label, new]]
            label = new
        seen.add(label)
        full_sub.append(label)
    return np.einsum(*operands, full_sub)


class Einsum(Function):
    """``einsum(equation, *operands)``: PyTorch's subscripts (ellipsis, implicit output,
    repeated letters for diagonals, size-1 broadcasting). Each operand's gradient is itself an
    einsum: the upstream gradient contracted with the other operands, spread along the letters
    only that operand has and written onto the diagonals it read."""

    promote = "same"  # as PyTorch: float32 with float64 is an error, not a silent upcast

    def forward(self, *arrays, equation):
        if any(a.dtype.kind == "b" for a in arrays):
            raise DtypeError("einsum is not supported on bool tensors (PyTorch's answer depends "
                             "on the equation); convert them with .long() or .float()")
        subs, out = _einsum_terms(equation, [a.ndim for a in arrays])
        sizes = _einsum_sizes(arrays, subs)
        widen = arrays[0].dtype.kind in "iu" and _sums_alone([a.shape for a in arrays], subs, out)
        self.save_for_backward(*arrays)
        self.subs, self.out, self.sizes = subs, out, sizes
        result = np.asarray(_contract(_broadcast(arrays, subs, sizes), subs, out))
        return result.astype(np.int64) if widen else result

    def backward(self, grad):
        arrays = _broadcast(self.saved_tensors, self.subs, self.sizes)
        grads = []
        for i, sub in enumerate(self.subs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(self.subs) if j != i]
            unique = list(dict.fromkeys(sub))
            kept = [label for label in unique if label in self.out or any(label in s for s in others)]
            g = _contract([grad, *(b for j, b in enumerate(arrays) if j != i)],
                          [self.out, *others], kept)
            # Letters summed within this operand alone: each of their entries gets the gradient.
            g = np.broadcast_to(np.expand_dims(g, tuple(k for k, label in enumerate(unique)
                                                        if label not in kept)),
                                [self.sizes[label] for label in unique])
            if len(unique) < len(sub):  # repeated letters read a diagonal: write it back
                g = _on_diagonals(g, unique, sub, self.sizes)
            grads.append(g)
        return tuple(grads)


def _broadcast(arrays, subs, sizes: dict[int, int]) -> list:
    """The operands with their size-1 dims broadcast against the others': every label at its
    full size, for numpy's einsum (the engine sums the gradients back to size 1)."""
    return [np.broadcast_to(a, [sizes[label] for label in sub]) for a, sub in zip(arrays, subs)]
