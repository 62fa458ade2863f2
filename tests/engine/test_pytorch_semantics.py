"""The reproducers that once showed the engine leaving PyTorch's semantics, one test each.

Every expected value here was read off PyTorch 2.13; tests/oracle/ compares against a live
PyTorch more broadly.
"""

import numpy as np
import pytest

import microtensor as mt
import microtensor.nn.functional as F


def leaf(values, dtype=mt.float32):
    return mt.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------ 1. writes through views
def test_setitem_through_a_view_of_a_recorded_tensor_reaches_the_base():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    y[0][1] = 50.0
    assert y.tolist() == [[1.0, 50.0], [3.0, 4.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_in_place_method_on_a_slice_of_a_recorded_tensor():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    y[1:].mul_(10)
    assert y.tolist() == [[1.0, 2.0], [30.0, 40.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [10.0, 10.0]]


def test_writing_a_graph_value_into_a_slice_of_a_constant_makes_it_recorded():
    w = leaf([1.0, 2.0])
    a = mt.zeros(3)
    a[1:].add_(w)
    assert a.tolist() == [0.0, 1.0, 2.0] and a.requires_grad
    (a * mt.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [2.0, 3.0]


@pytest.mark.parametrize("grad_enabled", [True, False])
def test_results_do_not_depend_on_grad_mode(grad_enabled):
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    with mt.enable_grad() if grad_enabled else mt.no_grad():
        y = x * 1
        y[0][1] = 50.0
        y[1:].mul_(10)
    assert y.tolist() == [[1.0, 50.0], [30.0, 40.0]]


def test_a_view_taken_before_a_write_sees_the_write_in_value_and_gradient():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    column = y[:, 1]
    y[0].mul_(2)
    assert column.tolist() == [4.0, 4.0]
    (column * mt.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0], [0.0, 10.0]]


def test_a_view_of_a_leaf_that_requires_grad_cannot_be_written_while_recorded():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="mul_: a view of a leaf tensor that requires grad"):
        w[0:1].mul_(2)
    assert w.tolist() == [1.0, 2.0]
    with mt.no_grad():
        w[0:1].mul_(2)
    assert w.tolist() == [2.0, 2.0]


def test_writing_an_expanded_view_is_refused():
    x = mt.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="add_: .*expand"):
        x.add_(1)


# ---------------------------------------------------------------- 2. view vs reshape
def test_view_of_a_non_contiguous_tensor_raises_and_points_to_reshape():
    t = mt.ones(2, 3).T
    with pytest.raises(RuntimeError, match=r"view size is not compatible.*use \.reshape"):
        t.view(6)
    flat = t.reshape(6)  # a copy: writing it leaves t alone, and t's version too
    flat.fill_(0)
    assert t.tolist() == [[1.0, 1.0]] * 3 and t._version == 0


def test_view_of_a_contiguous_tensor_shares_memory():
    x = mt.zeros(2, 3)
    x.view(6)[4] = 7.0
    assert x.tolist() == [[0.0, 0.0, 0.0], [0.0, 7.0, 0.0]]


# ------------------------------------------------------------ 3. fill_, zero_, copy_
def test_zero_fill_copy_replace_values_instead_of_computing_with_them():
    x = leaf([0.0, 1.0])
    assert x.log().zero_().tolist() == [0.0, 0.0]
    assert x.log().fill_(2.0).tolist() == [2.0, 2.0]
    y = x.log()
    y.copy_(mt.tensor([5.0, 6.0]))
    assert y.tolist() == [5.0, 6.0]


def test_copy_sends_the_gradient_to_the_source_only():
    x, src = leaf([1.0, 2.0]), leaf([3.0])
    y = x * 1
    y.copy_(src)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and src.grad.tolist() == [2.0]


# ------------------------------------------------------------------- 4. pow at zero
def test_pow_gradient_for_the_exponent_at_a_zero_base():
    base, p = leaf([0.0, 0.0, 2.0], mt.float64), leaf([0.0, 2.0, -1.0], mt.float64)
    (base ** p).sum().backward()
    np.testing.assert_allclose(base.grad.array, [0.0, 0.0, -0.25])
    np.testing.assert_allclose(p.grad.array, [0.0, 0.0, 0.5 * np.log(2)])
    q = leaf([0.0, 2.0, -1.0, 0.5], mt.float64)
    (0.0 ** q).sum().backward()
    assert q.grad.tolist() == [0.0, 0.0, -np.inf, 0.0]


# ------------------------------------------------------------------ 5. type promotion
@pytest.mark.parametrize("make, expected", [
    (lambda: mt.ones(2) + mt.tensor([1, 2]), mt.float32),
    (lambda: mt.ones(2) * mt.tensor(1.0, dtype=mt.float64), mt.float32),
    (lambda: mt.tensor([1, 2]) / 2, mt.float32),
    (lambda: mt.ones(2, dtype=mt.float16) + mt.tensor([1, 2]), mt.float16),
    (lambda: mt.tensor([1, 2], dtype=mt.int32) + mt.tensor(1, dtype=mt.int64), mt.int32),
    (lambda: mt.tensor([1, 2], dtype=mt.int32) + mt.tensor(1.5, dtype=mt.float64), mt.float64),
    (lambda: mt.tensor([1, 2]) * 2.5, mt.float32),
    (lambda: mt.tensor([True, False]) + 1, mt.int64),
    (lambda: mt.tensor([1, 2]).exp(), mt.float32),
    (lambda: mt.tensor([1, 2], dtype=mt.int32).sum(), mt.int64),
    (lambda: F.one_hot(mt.tensor([0, 1]), 2) * mt.ones(2, 2), mt.float32),
])
def test_result_dtypes_follow_pytorch(make, expected):
    assert make().dtype == expected


def test_gradients_come_back_in_each_input_s_own_dtype():
    a, b = leaf([1.0, 2.0], mt.float32), leaf(3.0, mt.float64)
    out = a * b
    assert out.dtype == mt.float32
    out.sum().backward()
    assert a.grad.dtype == mt.float32 and b.grad.dtype == mt.float64


@pytest.mark.parametrize("make, error", [
    (lambda: mt.tensor([True]) ** mt.tensor([True]), "pow is not supported between two bool tensors"),
    (lambda: mt.tensor([1, 2]).mean(), r"mean\(\): .*floating point"),
    (lambda: mt.tensor([1, 2]).softmax(0), "softmax needs a floating point"),
    (lambda: mt.tensor([True]) - mt.tensor([True]), "[sS]ubtract.*the `-` operator"),
    (lambda: -mt.tensor([True]), "Negation is not supported on bool"),
    (lambda: mt.ones(2, 2) @ mt.ones(2, 2, dtype=mt.float64), "same dtype"),
    (lambda: mt.tensor([1]).add_(1.5), "result type float32 can't be cast to .* int64"),
    (lambda: mt.tensor([1]).div_(2), "can't be cast"),
])
def test_what_pytorch_refuses_is_refused(make, error):
    with pytest.raises((TypeError, RuntimeError), match=error):
        make()


def test_promote_types_and_result_type():
    assert mt.promote_types(mt.int32, mt.float16) == mt.float16
    assert mt.promote_types(mt.uint8, mt.int8) == mt.int16
    assert mt.result_type(mt.tensor([1], dtype=mt.int8), 1000) == mt.int8
    assert mt.result_type(mt.tensor(True), 2.5) == mt.float32
    assert mt.result_type(mt.tensor([True]), mt.tensor(1, dtype=mt.int32)) == mt.int32


# ---------------------------------------------------------------------- 6. dimensions
def test_dims_on_a_0d_tensor():
    x = leaf(2.0)
    x.sum(-1).backward()
    assert x.grad.item() == 1.0
    assert x.mean(0).item() == 2.0
    values, indices = x.max(dim=0)
    assert values.item() == 2.0 and indices.item() == 0 and indices.dtype == mt.int64
    assert x.squeeze(0).shape == () and x.transpose(0, 0).shape == ()
    assert x.softmax(0).item() == 1.0 and x.unsqueeze(-1).shape == (1,)


@pytest.mark.parametrize("make, message", [
    (lambda: mt.ones(3).unsqueeze(5), r"\[-2, 1\], but got 5"),
    (lambda: mt.ones(2, 1).squeeze(5), r"\[-2, 1\], but got 5"),
    (lambda: mt.ones(()).softmax(1), r"\[-1, 0\], but got 1"),
    (lambda: mt.ones(2, 3).sum(2), r"\[-2, 1\], but got 2"),
    (lambda: mt.ones(2, 3).argmax(-3), r"\[-2, 1\], but got -3"),
    (lambda: mt.ones(2, 3).transpose(0, 2), r"\[-2, 1\], but got 2"),
    (lambda: mt.ones(2, 3).gather(1, mt.tensor([[-1]])), "index -1 is out of bounds"),
])
def test_out_of_range_dims_and_indices_raise_index_error(make, message):
    with pytest.raises(IndexError, match=message):
        make()


def test_repeated_dims_are_refused():
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times"):
        mt.ones(2, 3).sum((0, -2))


# ---------------------------------------------------------------------------- 7. empty
def test_empty_reductions():
    assert np.isnan(mt.zeros(0, 3).mean().item())
    assert np.isnan(mt.zeros(0, 3).mean(0).array).all()
    assert np.isnan(F.cross_entropy(mt.zeros(0, 3), mt.zeros(0, dtype=mt.int64)).item())
    assert mt.zeros(0, 3).logsumexp(0).tolist() == [-np.inf] * 3
    with pytest.raises(IndexError, match="Expected reduction dim to be specified"):
        mt.zeros(0, 3).max()
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        mt.zeros(0, 3).argmax(0)
    assert mt.zeros(0, 3).amax(dim=1).shape == (0,)


# ------------------------------------------------------------------------- 8. indexing
def test_integers_mixed_with_index_arrays_select_first_as_pytorch():
    x = mt.arange(30.0).reshape(3, 2, 5)
    idx = mt.tensor([0, 1, 2, 3])
    assert x[0, :, idx].shape == (2, 4)
    assert x[[0, 1], :, 0].shape == (2, 2)
    assert x[[0, 1], 0, [0, 1]].shape == (2,)
    np.testing.assert_array_equal(x[0, :, idx].array, x.array[0][:, idx.array])


def test_gradient_of_mixed_integer_and_array_indexing():
    x = leaf(np.arange(30.0).reshape(3, 2, 5), mt.float64)
    x[1, :, mt.tensor([0, 0, 4])].sum().backward()
    expected = np.zeros((3, 2, 5))
    expected[1, :, 0], expected[1, :, 4] = 2, 1
    np.testing.assert_array_equal(x.grad.array, expected)


# ----------------------------------------------------------------------- 9. API edges
def test_grad_with_the_same_input_twice_returns_it_twice():
    x = leaf([1.0, 2.0, 3.0])
    first, second = mt.grad((x * 2).sum(), [x, x])
    assert first.tolist() == second.tolist() == [2.0, 2.0, 2.0]


def test_no_grad_decorates_generator_functions():
    w = leaf([1.0])

    @mt.no_grad()
    def steps():
        for _ in range(2):
            yield w * 2

    assert [y.requires_grad for y in steps()] == [False, False]
    assert mt.is_grad_enabled()


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 1
    y.retain_grad()
    y.mul_(3)
    y.sum().backward()
    assert y.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_max_over_nans_sends_the_gradient_to_the_nans():
    x = leaf([np.nan, 1.0, np.nan])
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


# --------------------------------------------------------------------- 10. API found
def test_device_and_to_cpu():
    x = mt.ones(2)
    assert x.device == "cpu" and x.device == mt.device("cpu") and str(x.device) == "cpu"
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to("cpu", mt.float64).dtype == mt.float64
    assert x.to(device="cpu", dtype=mt.float16).dtype == mt.float16
    assert x.to(mt.ones(1, dtype=mt.float64)).dtype == mt.float64
    with pytest.raises(RuntimeError, match="CPU only.*'cuda'"):
        x.to("cuda")


def test_t_and_functional_softmax():
    assert mt.ones(2, 3).t().shape == (3, 2)
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions"):
        mt.ones(2, 3, 4).t()
    x = mt.tensor([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(F.softmax(x, dim=1).array, x.softmax(1).array)
    np.testing.assert_allclose(F.log_softmax(x, dim=0).array, x.log_softmax(0).array)
    np.testing.assert_allclose(mt.softmax(x, 1).array, x.softmax(1).array)
    with pytest.raises(TypeError):
        mt.softmax(x)  # dim is required, as in PyTorch


def test_a_write_through_a_view_of_a_view_of_a_view():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], mt.float64)
    y = x * 1
    y.T[1:][:, 0:1].mul_(3)  # three view ops from y; the write lands in y[0, 1:]
    assert y.tolist() == [[1.0, 6.0, 9.0], [4.0, 5.0, 6.0]]
    (y.reshape(6) * mt.arange(6, dtype=mt.float64)).sum().backward()
    assert x.grad.tolist() == [[0.0, 3.0, 6.0], [3.0, 4.0, 5.0]]  # as PyTorch 2.13


def test_views_are_tensors_that_know_their_base():
    x = mt.zeros(2, 3)
    v = x[1:].T
    assert isinstance(v, mt.Tensor) and v.base is x
    assert [op.__name__ for op, _ in v.steps()] == ["Index", "Permute"]
    assert x.reshape(6).base is x  # no copy needed: a view
    assert not hasattr(x.T.reshape(6), "base")  # a copy: a tensor of its own


@pytest.mark.parametrize("index, value, refused", [
    ((np.array([False, True]),), mt.tensor(True), False),  # masked_fill: casts
    ((np.array([False, True]),), mt.tensor([[True]]), False),  # any one-element value
    ((np.array([True, False]),), mt.ones(3, dtype=mt.float64), True),
    ((np.array([True, False]), np.array([True, False, True])), mt.tensor(1.0, dtype=mt.float64), True),
    ((np.array([True, False]), slice(None)), mt.tensor(1.0, dtype=mt.float64), False),
    ((0, np.array([True, False, True])), mt.tensor(1.0, dtype=mt.float64), False),
    ((np.array([True, False]), slice(None)), mt.ones(3, dtype=mt.float64), True),
    ((slice(None),), mt.ones(3, dtype=mt.float64), False),
    ((np.array([0]),), mt.tensor(1.0, dtype=mt.float64), True),
])
def test_setitem_casts_where_pytorch_does_and_refuses_where_index_put_would(index, value, refused):
    t = mt.zeros(2, 3, dtype=mt.float16)
    if refused:
        with pytest.raises(TypeError, match="Index put requires the source and destination dtypes"):
            t[index] = value
        assert t.tolist() == [[0.0] * 3] * 2  # nothing half-written
    else:
        t[index] = value
        assert t.dtype == mt.float16 and t._version == 1


def test_setitem_refuses_a_value_that_does_not_broadcast_even_when_empty():
    t = mt.zeros(1, 0, dtype=mt.float64)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[2, 0\] cannot "
                                           r"be broadcast to indexing result of shape \[0\]"):
        t[0, np.zeros(0, dtype=bool)] = mt.zeros(2, 0, dtype=mt.float64)


@pytest.mark.parametrize("a_shape, b_shape", [((1, 0), (0, 1)), ((1, 0, 1), (1, 0)), ((2, 3, 0), (0, 4))])
def test_matmul_of_empty_operands_backpropagates(a_shape, b_shape):
    a, b = mt.zeros(*a_shape, requires_grad=True), mt.zeros(*b_shape, requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
