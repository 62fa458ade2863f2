"""Devices: PyTorch's device code runs quietly when it names the CPU, and anything else is an
error that says so (issue 19, "devices, which a CPU-only library should accept quietly")."""

from __future__ import annotations

import pytest

import microtensor as mt

FACTORIES = {
    "tensor": lambda device: mt.tensor([1.0], device=device),
    "zeros": lambda device: mt.zeros(2, device=device),
    "ones": lambda device: mt.ones(2, device=device),
    "zeros_like": lambda device: mt.zeros_like(mt.ones(2), device=device),
    "ones_like": lambda device: mt.ones_like(mt.ones(2), device=device),
    "full": lambda device: mt.full((2,), 3.0, device=device),
    "arange": lambda device: mt.arange(3, device=device),
    "eye": lambda device: mt.eye(2, device=device),
    "randn": lambda device: mt.randn(2, device=device),
    "rand": lambda device: mt.rand(2, device=device),
    "randint": lambda device: mt.randint(0, 3, (2,), device=device),
}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("device", ["cpu", "cpu:0", mt.device("cpu"), None])
def test_every_factory_takes_the_cpu(name, device):
    assert FACTORIES[name](device).device == "cpu"


@pytest.mark.parametrize("name", FACTORIES)
def test_every_factory_refuses_another_device(name):
    with pytest.raises(RuntimeError, match="CPU only .*got device 'cuda:0'"):
        FACTORIES[name]("cuda:0")


def test_the_default_device_is_the_cpu():
    mt.set_default_device("cpu")
    mt.set_default_device(None)
    assert mt.get_default_device() == "cpu"
    with pytest.raises(RuntimeError, match="got device 'mps'"):
        mt.set_default_device("mps")


def test_cuda_and_accelerator_answer_as_cpu_only_pytorch():
    torch = pytest.importorskip(
        "torch", reason="the PyTorch oracle extra (pip install -e '.[oracle]') is not installed")
    assert mt.cuda.is_available() is torch.cuda.is_available() is False
    assert mt.cuda.device_count() == torch.cuda.device_count() == 0
    assert mt.accelerator.is_available() is torch.accelerator.is_available() is False
    assert mt.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert mt.accelerator.device_count() == torch.accelerator.device_count() == 0


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("cpu",), {}, mt.float32),
    ((mt.float64,), {}, mt.float64),
    (("cpu", mt.float16), {}, mt.float16),
    ((), {"device": "cpu", "dtype": mt.float64}, mt.float64),
    ((mt.zeros(1, dtype=mt.float64),), {}, mt.float64),
])
def test_module_to_takes_pytorchs_forms(args, kwargs, dtype):
    layer = mt.nn.Linear(2, 1)
    assert layer.to(*args, **kwargs) is layer
    assert layer.weight.dtype == dtype and layer.bias.dtype == dtype
    assert layer.cpu() is layer


def test_module_to_refuses_another_device_and_integer_dtypes():
    layer = mt.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="got device 'cuda'"):
        layer.to("cuda")
    with pytest.raises(TypeError, match="must stay floating point"):
        layer.to(mt.int64)
    assert layer.weight.dtype == mt.float32  # nothing half-converted
