"""Module: registration, names, walking the tree, modes, dtype, state_dict and repr."""

import numpy as np
import pytest

import microtensor as mt
from microtensor import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.lstm = nn.LSTM(3, 4, num_layers=2)
        self.scale = nn.Parameter(mt.ones(1))
        self.mask = mt.ones(4)  # a plain tensor: not a parameter

    def forward(self, tokens):
        output, _ = self.lstm(self.embed(tokens))
        return output * self.scale * self.mask


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(4, 5)
        self.drop = nn.Dropout(0.5)

    def forward(self, tokens):
        return self.head(self.drop(self.encoder(tokens)))


EXPECTED_NAMES = [
    "encoder.scale", "encoder.embed.weight",
    *[f"encoder.lstm.{kind}_l{k}" for k in range(2)
      for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
    "head.weight", "head.bias",
]


# ------------------------------------------------------------------ registration
def test_parameters_are_registered_with_dotted_names_in_order():
    model = Model()
    assert [name for name, _ in model.named_parameters()] == EXPECTED_NAMES
    assert len(list(model.parameters())) == len(EXPECTED_NAMES)
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())


def test_plain_tensors_and_other_attributes_are_not_parameters():
    enc = Encoder()
    assert "mask" not in dict(enc.named_parameters())
    assert enc.mask.shape == (4,)


def test_parameter_names_follow_the_top_level_model():
    model = Model()
    for name, param in model.named_parameters():
        assert param.name == name
    assert model.encoder.lstm.path == "encoder.lstm"


def test_a_standalone_layer_names_its_parameters_relative_to_itself():
    lstm = nn.LSTM(2, 3)
    assert lstm.weight_hh_l0.name == "weight_hh_l0"


def test_a_parameter_replaced_later_gets_its_full_name():
    model = Model()
    model.head.bias = nn.Parameter(mt.zeros(5))
    assert model.head.bias.name == "head.bias"


def test_shared_parameters_are_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(4, 3)
            self.out = nn.Linear(3, 4)
            self.out.weight = self.embed.weight

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["embed.weight", "out.bias"]
    assert list(tied.state_dict()) == ["embed.weight", "out.weight", "out.bias"]


def test_children_and_modules():
    model = Model()
    assert [n for n, _ in model.named_children()] == ["encoder", "head", "drop"]
    assert list(model.children()) == [model.encoder, model.head, model.drop]
    assert [n for n, _ in model.named_modules()] == [
        "", "encoder", "encoder.embed", "encoder.lstm", "head", "drop"]
    assert len(list(model.modules())) == 6


def test_assigning_a_tensor_over_a_parameter_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight' of Linear"):
        layer.weight = mt.ones(2, 2)
    assert isinstance(layer.weight, nn.Parameter)


def test_a_parameter_slot_can_be_emptied_and_deleted():
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert list(layer.parameters()) == []


def test_registering_before_init_names_the_fix():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_missing_attribute_error_names_the_module():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weights'"):
        nn.Linear(2, 2).weights  # noqa: B018


def test_parameter_is_a_leaf_that_requires_grad_and_ops_give_plain_tensors():
    p = nn.Parameter(mt.ones(2, 2))
    assert p.requires_grad and p.is_leaf
    y = (p * 3).sum()
    assert type(y) is mt.Tensor
    y.backward()
    assert p.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert not nn.Parameter(mt.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_parameter_rejects_integer_data_and_non_leaves():
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(mt.tensor([1, 2]))
    with pytest.raises(ValueError, match="leaf"):
        nn.Parameter(mt.ones(2, requires_grad=True) * 2)


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must implement forward"):
        nn.Module()(1)


# ------------------------------------------------------------------ modes, grads
def test_train_and_eval_reach_every_submodule():
    model = Model()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_sets_every_grad_to_none():
    model = Model()
    model(mt.tensor([[1, 2], [3, 4]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_converts_parameters_and_grads_in_place():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    layer(mt.ones(1, 3)).sum().backward()
    assert layer.double() is layer
    assert layer.weight is weight and weight.dtype == np.float64
    assert weight.grad.dtype == np.float64
    assert layer(mt.ones(1, 3, dtype=mt.float64)).dtype == np.float64
    layer.float()
    assert weight.dtype == np.float32 and weight.grad.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        layer.to(mt.int64)


def test_dtype_argument_and_default_dtype():
    assert nn.LSTM(2, 3, dtype=mt.float64).weight_ih_l0.dtype == np.float64
    mt.set_default_dtype(mt.float64)
    assert nn.Linear(2, 3).weight.dtype == np.float64
    assert nn.GRUCell(2, 3).bias_hh.dtype == np.float64


# ------------------------------------------------------------------ state_dict
def test_state_dict_is_detached_and_shares_memory():
    layer = nn.Linear(2, 2)
    state = layer.state_dict()
    assert list(state) == ["weight", "bias"]
    assert not state["weight"].requires_grad
    assert np.shares_memory(state["weight"].array, layer.weight.array)


def test_state_dict_round_trip_is_bit_exact():
    mt.manual_seed(1)
    source = Model()
    snapshot = {k: v.clone() for k, v in source.state_dict().items()}
    mt.manual_seed(2)
    target = Model()
    result = target.load_state_dict(snapshot)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in target.state_dict().items():
        assert np.array_equal(value.array, snapshot[name].array), name
        assert value.dtype == snapshot[name].dtype
    tokens = mt.tensor([[0, 1], [2, 3]])
    source.eval(), target.eval()
    assert np.array_equal(source(tokens).array, target(tokens).array)


def test_load_state_dict_accepts_numpy_arrays_and_casts_to_the_parameter_dtype():
    layer = nn.Linear(2, 1)  # float32
    layer.load_state_dict({"weight": np.array([[0.1, 0.2]]), "bias": np.array([3])})
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.weight.array.tolist() == np.array([[0.1, 0.2]], dtype=np.float32).tolist()
    assert layer.bias.tolist() == [3.0]


def test_load_state_dict_copies_rather_than_aliasing():
    layer = nn.Linear(2, 1)
    weight = np.zeros((1, 2))
    layer.load_state_dict({"weight": weight, "bias": np.zeros(1)})
    weight[0, 0] = 5
    assert layer.weight.tolist() == [[0.0, 0.0]]


def _snapshot(model):
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model, before):
    for name, value in model.state_dict().items():
        assert np.array_equal(value.array, before[name]), f"{name} was modified"


def test_strict_load_reports_missing_and_unexpected_keys_and_changes_nothing():
    model = Model()
    before = _snapshot(model)
    state = {k: np.zeros_like(v) for k, v in before.items()}
    del state["head.bias"]
    state["head.extra"] = np.zeros(3)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Model" in message
    assert "missing key: head.bias" in message and "unexpected key: head.extra" in message
    _assert_unchanged(model, before)


def test_non_strict_load_returns_the_mismatched_keys():
    model = Model()
    result = model.load_state_dict({"head.bias": np.ones(5), "nope": np.ones(1)}, strict=False)
    assert result.unexpected_keys == ["nope"]
    assert "head.weight" in result.missing_keys and "head.bias" not in result.missing_keys
    assert model.head.bias.tolist() == [1.0] * 5


def test_shape_mismatch_names_the_parameter_and_both_shapes_and_changes_nothing():
    model = Model()
    before = _snapshot(model)
    # Every other value is valid and would be copied first if the check came late.
    state = {k: np.ones_like(v) for k, v in before.items()}
    state["encoder.lstm.weight_hh_l1"] = np.ones((16, 5))
    with pytest.raises(RuntimeError, match=r"size mismatch for encoder\.lstm\.weight_hh_l1: "
                       r"the state_dict has shape \(16, 5\), the model has shape \(16, 4\)"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are checked when not strict too
        model.load_state_dict(state, strict=False)
    _assert_unchanged(model, before)


def test_non_numeric_values_are_refused():
    layer = nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="weight has dtype <U1; a numeric array is expected"):
        layer.load_state_dict({"weight": np.array([["a", "b"]]), "bias": np.zeros(1)})
    with pytest.raises(TypeError, match="mapping"):
        layer.load_state_dict([("weight", np.zeros((1, 2)))])


def test_load_bumps_the_version_so_a_stale_graph_fails_loudly():
    layer = nn.Linear(2, 1)
    x = mt.ones(1, 2, requires_grad=True)
    loss = (x @ layer.weight.T).sum()  # MatMul saved the old weight for x's gradient
    layer.load_state_dict({"weight": np.zeros((1, 2)), "bias": np.zeros(1)})
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# ------------------------------------------------------------------------- repr
def test_repr_is_nested_like_pytorch():
    assert repr(Model()) == (
        "Model(\n"
        "  (encoder): Encoder(\n"
        "    (embed): Embedding(5, 3)\n"
        "    (lstm): LSTM(3, 4, num_layers=2)\n"
        "  )\n"
        "  (head): Linear(in_features=4, out_features=5, bias=True)\n"
        "  (drop): Dropout(p=0.5)\n"
        ")")


def test_sequential_applies_in_order_and_indexes():
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    seq = nn.Sequential(first, second)
    x = mt.randn(5, 3)
    assert np.allclose(seq(x).array, second(first(x)).array)
    assert seq[0] is first and seq[-1] is second and len(seq) == 2
    assert list(seq) == [first, second]
    with pytest.raises(TypeError, match="argument 1 is a function"):
        nn.Sequential(first, lambda x: x)


def test_tied_children_and_buffers_are_listed_once_as_in_pytorch():
    model = mt.nn.Module()
    model.out = mt.nn.Linear(2, 2)
    model.shared = model.out
    model.register_buffer("a", mt.zeros(2))
    model.register_buffer("b", model.a)
    assert [n for n, _ in model.named_children()] == ["out"]
    assert len(list(model.children())) == 1
    assert [n for n, _ in model.named_buffers()] == ["a"]
    assert list(model.state_dict()) == ["a", "b", "out.weight", "out.bias", "shared.weight",
                                        "shared.bias"]
