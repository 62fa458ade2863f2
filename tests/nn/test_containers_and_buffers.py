"""Module.register_buffer, Module.apply, ModuleList, ModuleDict, LayerNorm and the activation
modules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn
from microtensor.testing import gradcheck, shapes, tensors

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.register_buffer("steps", mt.tensor(0))
        self.register_buffer("mean", mt.zeros(2))
        self.register_buffer("scratch", mt.zeros(3), persistent=False)


# ------------------------------------------------------------------- buffers
def test_buffers_are_state_but_not_parameters():
    model = nn.Sequential(Counter())
    # PyTorch's order: a module's own parameters and buffers, then its submodules'
    assert list(model.state_dict()) == ["0.steps", "0.mean", "0.linear.weight", "0.linear.bias"]
    assert [n for n, _ in model.named_buffers()] == ["0.steps", "0.mean", "0.scratch"]
    assert len(list(model.parameters())) == 2 and not model[0].mean.requires_grad
    model[0].mean = mt.ones(2)  # reassigning keeps it a buffer
    assert "0.mean" in model.state_dict() and model.state_dict()["0.mean"].tolist() == [1.0, 1.0]


def test_buffers_load_convert_and_refuse_wrong_shapes():
    model = Counter()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state["steps"], state["mean"] = np.array(7), np.array([1.5, 2.5])
    model.load_state_dict(state)
    assert model.steps.item() == 7 and model.mean.tolist() == [1.5, 2.5]
    model.double()
    assert model.mean.dtype == np.float64 and model.steps.dtype == np.int64  # indices stay
    state["mean"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"size mismatch for mean"):
        model.load_state_dict(state)
    assert model.mean.tolist() == [1.5, 2.5]


def test_register_buffer_errors():
    model = Counter()
    with pytest.raises(KeyError, match="attribute 'linear' already exists"):
        model.register_buffer("linear", mt.zeros(1))
    with pytest.raises(TypeError, match="buffer 'x' must be a Tensor or None, got list"):
        model.register_buffer("x", [1.0])
    with pytest.raises(KeyError, match="without '.'"):
        model.register_buffer("a.b", mt.zeros(1))
    with pytest.raises(TypeError, match="cannot assign list as buffer 'mean'"):
        model.mean = [0.0]


# --------------------------------------------------------------------- apply
def test_apply_visits_children_first_then_self():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Tanh(), nn.ReLU()))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Tanh", "ReLU", "Sequential", "Sequential"]


# ---------------------------------------------------------------- containers
@given(count=st.integers(0, 5), index=st.integers(-6, 6))
def test_module_list_registers_and_indexes_like_a_list(count, index):
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(count)])
    assert len(layers) == count and len(list(layers.parameters())) == 2 * count
    assert [n for n, _ in layers.named_children()] == [str(i) for i in range(count)]
    if -count <= index < count:
        assert layers[index] is list(layers)[index]
        replacement = nn.Tanh()
        layers[index] = replacement
        assert layers[index] is replacement and len(layers) == count
    else:
        with pytest.raises(IndexError, match=f"index {index} is out of range for {count} modules"):
            layers[index]
    assert len(layers[1:]) == max(count - 1, 0)


def test_module_list_inside_a_model_names_its_parameters():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 1)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    assert model.layers[1].weight.name == "layers.1.weight"
    assert model(mt.ones(2, 3)).shape == (2, 1)
    with pytest.raises(TypeError, match="ModuleList: item 2 is a int, not a Module"):
        model.layers.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        model.layers(mt.ones(1))


def test_module_dict():
    heads = nn.ModuleDict([("a", nn.Linear(2, 1)), ("b", nn.Tanh())])
    heads["c"] = nn.ReLU()
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert [k for k, _ in heads.items()] == list(heads.keys())
    del heads["b"]
    assert list(heads.keys()) == ["a", "c"] and list(heads.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(KeyError, match="would hide the attribute of that name"):
        heads["training"] = nn.Tanh()
    with pytest.raises(KeyError, match="would hide the attribute of that name"):
        heads["update"] = nn.Tanh()
    with pytest.raises(TypeError, match="the value for 'x' is a str, not a Module"):
        heads["x"] = "tanh"


# ----------------------------------------------------------------- LayerNorm
@st.composite
def layer_norm_cases(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    trailing = draw(st.integers(1, len(shape)), label="normalised dims")
    x = draw(tensors(shape, min_value=-3, max_value=3), label="x")
    return x, shape[len(shape) - trailing:]


@given(case=layer_norm_cases(), affine=st.booleans())
def test_layer_norm_matches_numpy_and_its_gradient_checks(case, affine):
    x, normalized = case
    norm = nn.LayerNorm(normalized, elementwise_affine=affine, dtype=mt.float64)
    if affine:
        with mt.no_grad():
            norm.weight.copy_(mt.randn(*normalized, dtype=mt.float64))
            norm.bias.copy_(mt.randn(*normalized, dtype=mt.float64))
    axes = tuple(range(x.ndim - len(normalized), x.ndim))
    mean, var = x.array.mean(axes, keepdims=True), x.array.var(axes, keepdims=True)
    expected = (x.array - mean) / np.sqrt(var + 1e-5)
    if affine:
        expected = expected * norm.weight.array + norm.bias.array
    np.testing.assert_allclose(norm(x).array, expected, rtol=1e-10, atol=1e-12)
    params = list(norm.parameters())

    def run(x, *weights):
        saved = dict(norm._parameters)
        norm._parameters.update(zip(saved, weights))
        try:
            return norm(x)
        finally:
            norm._parameters.update(saved)

    assert gradcheck(run, [x, *params])


@needs_torch
@given(case=layer_norm_cases(), bias=st.booleans())
def test_layer_norm_matches_pytorch(case, bias):
    x, normalized = case
    ours = nn.LayerNorm(normalized, bias=bias, dtype=mt.float64)
    theirs = torch.nn.LayerNorm(normalized, bias=bias, dtype=torch.float64)
    np.testing.assert_allclose(ours(x).array, theirs(torch.tensor(x.array)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_layer_norm_errors_and_repr():
    with pytest.raises(ValueError, match=r"expected input with trailing shape \(4,\), got \(2, 3\)"):
        nn.LayerNorm(4)(mt.zeros(2, 3))
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        nn.LayerNorm(0)
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"


# --------------------------------------------------------------- activations
@given(x=tensors(min_value=-5, max_value=5))
def test_activation_modules_are_the_tensor_methods(x):
    for module, method in ((nn.ReLU(), x.relu), (nn.Tanh(), x.tanh), (nn.Sigmoid(), x.sigmoid)):
        np.testing.assert_array_equal(module(x).array, method().array)


def test_a_name_holds_one_kind_of_member():
    model = Counter()
    model.mean = nn.Parameter(mt.zeros(2))  # the buffer becomes a parameter
    assert "mean" not in dict(model.named_buffers()) and model.mean is model._parameters["mean"]
    assert list(model.state_dict()).count("mean") == 1
