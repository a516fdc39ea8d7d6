"""ONNX models -> workloads: an exported torch module gives exactly the layers that
tracing the module gives (zoo networks and hand-made corner cases), and the CLI's
``workload``/``energy`` read ``.onnx`` files."""
import json
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

onnx = pytest.importorskip("onnx")

from approxdse.accelerators.estimate import resolve_network  # noqa: E402
from approxdse.core.errors import ApproxDSEError  # noqa: E402
from approxdse.networks import zoo  # noqa: E402
from approxdse.networks.onnx_import import layer_name, workload_from_onnx  # noqa: E402
from approxdse.networks.tracing import workload_from_module  # noqa: E402

torch.set_num_threads(1)


def _export(module, shape, path, **kwargs):
    """The legacy TorchScript exporter: the dynamo one needs onnxscript, not installed here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.zeros(shape), str(path), dynamo=False, **kwargs)
    return path


# alexnet's 61 M weights are left out of the file (export_params=False): the graph keeps their
# shapes as inputs, which the importer reads as weights.
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "alexnet", "resnet20", "lenet5", "lenet5_digits"])
def test_exported_zoo_network_equals_its_trace(tmp_path, name):
    module = zoo.module(name)
    shape = zoo.entry(name).input_shape
    path = _export(module, shape, tmp_path / f"{name}.onnx", export_params=name != "alexnet")
    assert workload_from_onnx(path, name=name) == workload_from_module(module, shape, name=name)


def test_input_shape_overrides_the_declared_one(tmp_path):
    module = zoo.module("resnet20")
    path = _export(module, (1, 3, 32, 32), tmp_path / "r20.onnx")
    got = workload_from_onnx(path, (2, 3, 48, 40), name="r")
    assert got == workload_from_module(module, (2, 3, 48, 40), name="r")
    assert got[0].N == 2 and (got[0].P, got[0].Q) == (48, 40)


class Corners(nn.Module):
    """Groups, depthwise, dilation, asymmetric strides/pads, a shared layer, Conv1d, Linear on tokens."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, (3, 5), stride=(2, 1), padding=(1, 2), bias=False)
        self.grouped = nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=4)
        self.dw = nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32)
        self.pw = nn.Conv2d(32, 24, 1)
        self.seq = nn.Conv1d(24, 8, 3, stride=2, padding=1)
        self.proj = nn.Linear(8, 12, bias=False)
        self.head = nn.Linear(12, 12)

    def forward(self, x):
        x = self.pw(self.dw(self.grouped(self.stem(x))))
        x = self.seq(x.flatten(2))              # (N, 8, L)
        x = self.proj(x.transpose(1, 2))         # (N, L, 12): a MatMul, N = batch x tokens
        x = self.head(self.head(x.mean(1)))      # shared weights: head, head#2
        return x


def test_corner_cases_equal_tracing(tmp_path):
    module = Corners()
    shape = (2, 3, 20, 24)
    got = workload_from_onnx(_export(module, shape, tmp_path / "c.onnx"), name="c")
    ref = workload_from_module(module, shape, name="c")
    assert got == ref
    assert [l.name for l in got] == ["stem", "grouped", "dw", "pw", "seq", "proj", "head", "head#2"]
    assert got["dw"].is_depthwise and got["grouped"].groups == 4 and got["grouped"].dilation_h == 2
    assert got["proj"].N == 2 * got["seq"].Q


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(16, 16)
        self.k = nn.Linear(16, 16)

    def forward(self, x):
        return torch.softmax(self.q(x) @ self.k(x).transpose(1, 2), -1)


def test_matmul_of_two_activations_is_skipped_with_a_warning(tmp_path):
    path = _export(Attention(), (1, 5, 16), tmp_path / "att.onnx")
    with pytest.warns(UserWarning, match="multiply two activations"):
        got = workload_from_onnx(path)
    assert [l.name for l in got] == ["q", "k"] and got["q"].N == 5


@pytest.mark.parametrize("module, shape, op", [
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 4, 2)), (1, 3, 8, 8), "ConvTranspose"),
    (nn.Sequential(nn.Conv3d(1, 2, 3)), (1, 1, 5, 5, 5), "3-D Conv"),
])
def test_unsupported_ops_are_named(tmp_path, module, shape, op):
    path = _export(module, shape, tmp_path / "bad.onnx")
    with pytest.raises(ApproxDSEError, match=f"does not support: {op}"):
        workload_from_onnx(path)


def test_symbolic_sizes(tmp_path):
    module = zoo.module("lenet5")
    path = _export(module, (1, 1, 32, 32), tmp_path / "dyn.onnx", input_names=["x"],
                   dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}})
    with pytest.raises(ApproxDSEError, match=r"symbolic sizes \(height, width\).*--input-shape"):
        workload_from_onnx(path)
    assert workload_from_onnx(path, (3, 1, 32, 32), name="l") == workload_from_module(module, (3, 1, 32, 32), name="l")


def test_bad_files(tmp_path):
    with pytest.raises(ApproxDSEError, match="does not exist"):
        workload_from_onnx(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a protobuf at all\xff" * 10)
    with pytest.raises(ApproxDSEError, match="cannot read ONNX model"):
        workload_from_onnx(junk)


def test_layer_names_from_export_scopes():
    assert layer_name("/layer1/layer1.0/conv1/Conv", "x") == "layer1.0.conv1"
    assert layer_name("/features/features.0/features.0.0/Conv", "x") == "features.0.0"
    assert layer_name("/fc/Gemm_1", "x") == "fc"
    assert layer_name("node_conv2d", "x") == "node_conv2d"
    assert layer_name("", "conv3") == "conv3"


def test_resolve_network_and_cli_read_onnx(tmp_path):
    path = _export(zoo.module("lenet5"), (1, 1, 32, 32), tmp_path / "lenet.onnx")
    assert resolve_network(str(path)) == workload_from_module(zoo.module("lenet5"), (1, 1, 32, 32), name="lenet")
    out = subprocess.run([sys.executable, "-m", "approxdse", "workload", str(path), "--format", "json"],
                         capture_output=True, text=True, check=True)
    assert [l["name"] for l in json.loads(out.stdout)["layers"]] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    out = subprocess.run([sys.executable, "-m", "approxdse", "energy", str(path), "--format", "json",
                          "--no-progress"], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    ref = subprocess.run([sys.executable, "-m", "approxdse", "energy", "lenet5", "--format", "json",
                          "--no-progress"], capture_output=True, text=True, check=True)
    assert report["totals"] == json.loads(ref.stdout)["totals"]
    bad = subprocess.run([sys.executable, "-m", "approxdse", "workload", str(tmp_path / "missing.onnx")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr
