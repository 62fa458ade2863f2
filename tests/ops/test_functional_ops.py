"""nn.functional: losses (cross_entropy, nll_loss, mse_loss), one_hot, embedding, dropout."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
import microtensor.nn.functional as F
from microtensor.testing import gradcheck, shapes, tensors

REDUCTIONS = {"mean": np.mean, "sum": np.sum, "none": lambda losses: losses}


@st.composite
def scores_and_targets(draw, batched=None):
    """Scores (N, C), or (C,) with a 0-d target, and integer class targets."""
    classes = draw(st.integers(1, 5), label="classes")
    batch = () if batched is False or (batched is None and draw(st.booleans())) else (
        draw(st.integers(1, 4)),)
    scores = draw(tensors(batch + (classes,)), label="scores")
    target = draw(hnp.arrays(np.int64, batch, elements=st.integers(0, classes - 1)),
                  label="target")
    return scores, mt.tensor(target)


def numpy_log_softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def picked(log_probs, target):
    return np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=scores_and_targets())
def test_cross_entropy(reduction, case):
    scores, target = case
    expected = REDUCTIONS[reduction](-picked(numpy_log_softmax(scores.array), target.array))
    out = F.cross_entropy(scores, target, reduction=reduction)
    assert out.dtype == mt.float64
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda s: F.cross_entropy(s, target, reduction=reduction), [scores])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=scores_and_targets())
def test_nll_loss(reduction, case):
    log_probs, target = case  # nll_loss is linear: any scores will do
    expected = REDUCTIONS[reduction](-picked(log_probs.array, target.array))
    out = F.nll_loss(log_probs, target, reduction=reduction)
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda lp: F.nll_loss(lp, target, reduction=reduction), [log_probs])


@given(case=scores_and_targets(batched=True))
def test_cross_entropy_is_nll_of_log_softmax(case):
    scores, target = case
    np.testing.assert_allclose(F.cross_entropy(scores, target).array,
                               F.nll_loss(scores.log_softmax(-1), target).array, rtol=1e-12)


def test_losses_name_a_bad_target():
    scores = mt.zeros(2, 3)
    with pytest.raises(IndexError, match=r"cross_entropy: target holds a class outside \[0, 3\)"):
        F.cross_entropy(scores, mt.tensor([0, 3]))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices"):
        F.nll_loss(scores, mt.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(scores, mt.tensor([0, 1]), reduction="average")


@st.composite
def same_shape_pairs(draw):
    shape = draw(shapes(max_dims=3, max_side=4))
    return draw(tensors(shape)), draw(tensors(shape))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pair=same_shape_pairs())
def test_mse_loss_in_input_and_target(reduction, pair):
    prediction, target = pair
    expected = REDUCTIONS[reduction]((prediction.array - target.array) ** 2)
    out = F.mse_loss(prediction, target, reduction=reduction)
    np.testing.assert_allclose(out.array, expected, rtol=1e-12)
    assert gradcheck(lambda p, t: F.mse_loss(p, t, reduction=reduction), [prediction, target])


def test_mse_loss_broadcasts_shapes_that_differ_with_a_warning_as_pytorch():
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(2, 1\) .* \(2,\)"):
        loss = F.mse_loss(mt.tensor([1.0, 2.0]), mt.zeros(2, 1), reduction="none")
    assert loss.shape == (2, 2)


@given(classes=hnp.arrays(np.int64, shapes(max_dims=2, max_side=4), elements=st.integers(0, 4)),
       extra=st.integers(0, 2))
def test_one_hot(classes, extra):
    num_classes = int(classes.max(initial=0)) + 1 + extra
    out = F.one_hot(mt.tensor(classes), num_classes)
    assert out.dtype == mt.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.array, np.eye(num_classes, dtype=np.int64)[classes])
    if classes.size:
        inferred = F.one_hot(mt.tensor(classes))
        assert inferred.shape == classes.shape + (int(classes.max()) + 1,)


@given(weight=tensors(shapes(min_dims=2, max_dims=2, max_side=4)), data=st.data())
def test_embedding_adds_the_gradients_of_repeated_indices(weight, data):
    indices = data.draw(hnp.arrays(np.int64, shapes(max_dims=2, max_side=5),
                                   elements=st.integers(0, weight.shape[0] - 1)), label="indices")
    out = F.embedding(mt.tensor(indices), weight)
    np.testing.assert_array_equal(out.array, weight.array[indices])
    assert gradcheck(lambda w: F.embedding(indices, w), [weight])
    (dw,) = mt.grad(out.sum(), weight)
    counts = np.bincount(indices.reshape(-1), minlength=weight.shape[0])
    np.testing.assert_array_equal(dw.array, np.repeat(counts[:, None], weight.shape[1], axis=1))


def test_embedding_refuses_out_of_range_indices():
    with pytest.raises(IndexError, match="embedding: index out of range for 3 rows"):
        F.embedding(mt.tensor([3]), mt.zeros(3, 2))


# ---------------------------------------------------------------------- dropout
@given(x=tensors(), p=st.floats(0, 1))
def test_dropout_in_eval_mode_is_the_identity(x, p):
    assert F.dropout(x, p, training=False) is x


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_rescales_the_rest(p):
    n = 20_000
    out = F.dropout(mt.ones(n, dtype=mt.float64), p)
    kept = out.array != 0
    np.testing.assert_allclose(out.array[kept], 1 / (1 - p))
    # The number dropped is Binomial(n, p): 5 standard deviations is a bound a correct
    # implementation essentially never crosses, and a wrong p (or none) does.
    dropped = n - kept.sum()
    assert abs(dropped - n * p) < 5 * np.sqrt(n * p * (1 - p))


@given(x=tensors(shapes(min_dims=1, max_side=5), min_value=0.5, max_value=2),
       p=st.sampled_from([0.2, 0.5]), seed=st.integers(0, 2**32 - 1))
def test_dropout_gradient_is_its_mask(x, p, seed):
    mt.manual_seed(seed)
    out = F.dropout(x, p)
    mask = (out.array != 0) / (1 - p)  # inputs are nonzero, so zeros in out are dropped ones
    np.testing.assert_allclose(out.array, x.array * mask)
    upstream = np.linspace(-1, 1, x.numel()).reshape(x.shape)
    (dx,) = mt.grad(out, x, grad_outputs=mt.tensor(upstream))
    np.testing.assert_allclose(dx.array, upstream * mask)


def test_dropout_edge_probabilities():
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 1.0).tolist() == [0.0, 0.0]
    assert mt.grad(F.dropout(x, 1.0).sum(), x)[0].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
def test_dropout_keeps_the_dtype(dtype):
    assert F.dropout(mt.ones(10, dtype=dtype), 0.5).dtype == dtype


def test_cross_entropy_is_two_nodes_as_in_pytorch_and_refuses_integer_scores():
    scores = mt.zeros(3, 4, requires_grad=True)
    loss = F.cross_entropy(scores, mt.tensor([0, 1, 3]))
    assert type(loss.grad_fn).__name__ == "NLLLoss"
    assert type(loss.grad_fn.parents[0]).__name__ == "LogSoftmax"
    with pytest.raises(TypeError, match="cross_entropy: input must hold floating point scores"):
        F.cross_entropy(mt.zeros(3, 4, dtype=mt.int64), mt.tensor([0, 1, 3]))


def test_nll_loss_mean_of_no_rows_is_nan_as_pytorch():
    assert np.isnan(F.nll_loss(mt.zeros(0, 3, requires_grad=True), mt.tensor(np.zeros(0, np.int64))).item())
