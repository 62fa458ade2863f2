"""``nn.ParameterList`` and ``nn.ParameterDict`` behave as PyTorch's: the same operations give
the same contents, names (``named_parameters``, ``state_dict``), wrapping of tensors as
Parameters, errors, and a state_dict that loads either way."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microtensor as mt
from microtensor import nn

fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _summary(container) -> list:
    """Each item as PyTorch and microtensor can both say it: a Parameter's values, or the
    type of anything else."""
    out = []
    for value in container:
        if hasattr(value, "shape"):
            out.append(("Parameter" if type(value).__name__ == "Parameter" else "Tensor",
                        np.asarray(value.tolist()).tolist(), bool(value.requires_grad)))
        else:
            out.append(type(value).__name__)
    return out


# Each step: an operation and its argument, applied to both libraries' lists.
LIST_STEPS = st.lists(st.tuples(
    st.sampled_from(["append", "append_parameter", "append_object", "extend", "set", "iadd"]),
    st.integers(-4, 4)), max_size=8)


@fixture_ok
@given(steps=LIST_STEPS)
def test_parameter_list_operations_match_pytorch(torch, steps):
    lists = {mt: nn.ParameterList([mt.zeros(1)]), torch: torch.nn.ParameterList([torch.zeros(1)])}
    for lib, plist in lists.items():
        for op, n in steps:
            value = lib.ones(2) * n
            if op == "append":
                plist.append(value)
            elif op == "append_parameter":
                plist.append((nn if lib is mt else torch.nn).Parameter(value))
            elif op == "append_object":
                plist.append(f"object {n}")
            elif op == "extend":
                plist.extend([value, value + 1])
            elif op == "iadd":
                plist += [value]
            elif -len(plist) <= n < len(plist):
                plist[n] = value
            else:
                with pytest.raises(IndexError):
                    plist[n] = value
    mine, theirs = lists[mt], lists[torch]
    assert len(mine) == len(theirs)
    assert _summary(mine) == _summary(theirs)
    assert _summary(mine[1::2]) == _summary(theirs[1::2])
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())


@fixture_ok
@given(keys=st.lists(st.sampled_from(["a", "b", "w", "zeta", "x1"]), max_size=6),
       ordered=st.booleans(), pops=st.integers(0, 2))
def test_parameter_dict_operations_match_pytorch(torch, keys, ordered, pops):
    dicts = {}
    for lib in (mt, torch):
        items = [(key, lib.ones(1) * i) for i, key in enumerate(keys)]
        # a plain dict is taken in sorted key order, as PyTorch does; an OrderedDict in its own
        source = OrderedDict(items) if ordered else dict(items)
        pdict = (nn if lib is mt else torch.nn).ParameterDict(source)
        pdict["extra"] = lib.zeros(2)
        pdict.setdefault("object", "not a tensor")
        popped = [pdict.popitem()[0] for _ in range(min(pops, len(pdict)))]
        pdict.update([("pair", lib.ones(3))])
        dicts[lib] = pdict, popped
    (mine, my_popped), (theirs, their_popped) = dicts[mt], dicts[torch]
    assert my_popped == their_popped
    assert list(mine) == list(theirs) and list(reversed(mine)) == list(reversed(theirs))
    assert _summary(mine.values()) == _summary(theirs.values())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert ("a" in mine) == ("a" in theirs) and mine.get("nothing", 5) == 5
    merged, their_merged = mine | mine.fromkeys(["q"], mt.ones(1)), \
        theirs | theirs.fromkeys(["q"], torch.ones(1))
    assert list(merged) == list(their_merged)


def test_tensors_become_parameters_sharing_memory():
    t = mt.zeros(2)
    plist = nn.ParameterList([t])
    pdict = nn.ParameterDict({"t": t})
    for held in (plist[0], pdict["t"]):
        assert isinstance(held, nn.Parameter) and held.requires_grad
        held.data.add_(1.0)
    assert t.tolist() == [2.0, 2.0]  # the Parameter shares its tensor's memory, as PyTorch's
    p = nn.Parameter(mt.ones(1))
    assert nn.ParameterList([p])[0] is p  # a Parameter is kept as it is


def test_state_dicts_load_either_way_inside_a_model(torch):
    mine, theirs = nn.Module(), torch.nn.Module()
    mine.scales = nn.ParameterList([mt.ones(2), mt.ones(3)])
    mine.biases = nn.ParameterDict({"up": mt.zeros(2)})
    theirs.scales = torch.nn.ParameterList([torch.randn(2), torch.randn(3)])
    theirs.biases = torch.nn.ParameterDict({"up": torch.randn(2)})
    assert list(mine.state_dict()) == list(theirs.state_dict()) == \
        ["scales.0", "scales.1", "biases.up"]
    mine.load_state_dict(theirs.state_dict())
    assert mine.scales[1].tolist() == pytest.approx(theirs.scales[1].tolist())
    theirs.load_state_dict({n: torch.tensor(t.array) for n, t in mine.state_dict().items()})
    assert mine.biases["up"].name == "biases.up"  # named for the graph renderer
    (mine.scales[0] * mine.biases["up"]).sum().backward()
    assert mine.scales[0].grad is not None and mine.scales[1].grad is None


def test_repr_as_pytorch():
    plist = nn.ParameterList([mt.zeros(2, 3), "label"])
    assert repr(plist) == ("ParameterList(\n  (0): Parameter containing: [float32 of size 2x3]\n"
                           "  (1): Object of type: str\n)")
    assert repr(nn.ParameterDict()) == "ParameterDict()"


def test_errors_as_pytorch(torch):
    for lib, lib_nn in ((mt, nn), (torch, torch.nn)):
        plist, pdict = lib_nn.ParameterList([lib.zeros(1)]), lib_nn.ParameterDict()
        with pytest.raises(IndexError):
            plist[1]
        with pytest.raises(TypeError):
            plist["0"]
        with pytest.raises(TypeError, match="iterable"):
            plist.extend(lib.zeros(2))
        with pytest.raises(RuntimeError, match="should not be called"):
            plist(lib.zeros(1))
        with pytest.raises(RuntimeError, match="should not be called"):
            pdict(lib.zeros(1))
        with pytest.raises(TypeError):
            pdict[1] = lib.zeros(1)
        for bad_key in ("", "a.b"):
            with pytest.raises(KeyError):
                pdict[bad_key] = lib.zeros(1)
        with pytest.raises(AttributeError):  # PyTorch's; microtensor's is a KeyError too
            pdict["missing"]
        with pytest.raises(ValueError, match="length"):
            pdict.update([("a", lib.zeros(1), 3)])
        with pytest.raises((TypeError, RuntimeError)):  # only floating tensors require grad
            plist.append(lib.zeros(1, dtype=lib.int64))
        if lib is mt:
            mine = plist, pdict
    plist, pdict = mine
    assert len(plist) == 1 and len(pdict) == 0  # the refused items left nothing half-added
    assert repr(pdict) == "ParameterDict()"
    with pytest.raises(KeyError, match="no key"):
        pdict["missing"]
    with pytest.raises(KeyError, match="hide"):
        pdict["keys"] = mt.zeros(1)  # PyTorch lets the method shadow it
