"""Layer / Workload: validation, derived sizes, serialisation."""
import json

import pytest

from approxdse.networks.workload import Layer, Workload
from approxdse.core.errors import ApproxDSEError


def test_conv_macs_and_sizes():
    layer = Layer("c", C=64, M=128, P=28, Q=28, R=3, S=3, stride_h=2, stride_w=2, pad_h=1, pad_w=1)
    assert layer.macs == 64 * 128 * 28 * 28 * 9
    assert layer.weights == 64 * 128 * 9
    assert layer.outputs == 128 * 28 * 28
    assert layer.input_hw == (55, 55)
    assert layer.dims == {"N": 1, "M": 128, "C": 64, "P": 28, "Q": 28, "R": 3, "S": 3}
    assert layer.describe() == "conv 64->128 3x3/2 28x28"


def test_depthwise_counts_one_input_channel_per_output():
    dw = Layer("dw", C=32, M=32, P=56, Q=56, R=3, S=3, groups=32)
    assert dw.is_depthwise
    assert dw.macs == 32 * 56 * 56 * 9
    assert dw.dims["C"] == 1 and dw.dims["M"] == 1
    assert "dw" in dw.describe()


@pytest.mark.parametrize("bad", [dict(C=0), dict(M=-1), dict(P=0), dict(groups=3), dict(kind="pool"),
                                 dict(stride_h=0), dict(pad_h=-1)])
def test_bad_layers_raise_one_clear_error(bad):
    kwargs = dict(name="x", C=4, M=8, P=2, Q=2)
    kwargs.update(bad)
    with pytest.raises(ApproxDSEError, match="layer 'x'"):
        Layer(**kwargs)


def test_workload_round_trips_through_json(tmp_path):
    w = Workload("net", [Layer("a", C=3, M=8, P=4, Q=4, R=3, S=3, pad_h=1, pad_w=1),
                         Layer("fc", C=128, M=10, kind="fc")])
    path = tmp_path / "w.json"
    w.to_json(path)
    assert Workload.from_json(path) == w
    assert json.loads(path.read_text())["layers"][1]["kind"] == "fc"
    assert w["fc"].C == 128 and w[0].name == "a"
    with pytest.raises(ApproxDSEError, match="no layer named"):
        w["missing"]
    assert "net: 2 layers" in w.summary()
    df = w.to_dataframe()
    assert list(df["macs"]) == [layer.macs for layer in w]


def test_from_dict_rejects_unknown_keys_and_empty_workloads():
    with pytest.raises(ApproxDSEError, match="unknown key"):
        Layer.from_dict({"name": "a", "C": 1, "M": 1, "K": 3})
    with pytest.raises(ApproxDSEError, match="no conv or fully connected"):
        Workload("empty", [])


def test_unique_shapes_groups_identical_layers():
    a = Layer("a", C=8, M=8, P=4, Q=4)
    w = Workload("w", [a, a.renamed("b"), Layer("c", C=8, M=16, P=4, Q=4)])
    groups = list(w.unique_shapes().values())
    assert [[layer.name for layer in g] for g in groups] == [["a", "b"], ["c"]]
