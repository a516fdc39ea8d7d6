"""Tracing torch modules: the zoo's modules trace to the zoo's workloads; the
traced ResNet-18/AlexNet/VGG-16 match the Timeloop ``layer_shapes/`` files."""
from pathlib import Path

import pytest
import torch
from torch import nn

from approxdse.networks import zoo
from approxdse.networks.problem_files import load_problems
from approxdse.networks.tracing import workload_from_module
from approxdse.core.errors import ApproxDSEError

torch.set_num_threads(1)
# The shared reference data sits beside a developer's or CI's checkout (../shared), not in a user's clone.
SHAPES = Path(__file__).resolve().parents[3] / "shared" / "data" / "timeloop" / "layer_shapes"
DIMS = ("C", "M", "P", "Q", "R", "S", "N", "stride_h", "stride_w", "groups")


def _dims(layer):
    return tuple(getattr(layer, k) for k in DIMS)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "alexnet", "resnet20", "lenet5", "lenet5_digits",
                                  "lstm_digits", "gru_digits", "mobilenet_v3_large", "efficientnet_b0",
                                  "shufflenet_v2_x0_5", "squeezenet1_1", "densenet121", "regnet_y_400mf",
                                  "resnext50_32x4d", "convnext_tiny"])
def test_traced_zoo_module_equals_zoo_workload(name):
    traced = workload_from_module(zoo.module(name), zoo.entry(name).input_shape, name=name)
    assert traced == zoo.workload(name)


def test_traced_module_runs_and_restores_training_mode():
    net = zoo.module("resnet20").train()
    workload_from_module(net, (2, 3, 32, 32))
    assert net.training
    out = net.eval()(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 10)


# The ``instance`` lines of the Timeloop problem files in timeloop-accelergy-exercises'
# ``layer_shapes/{resnet18,alexnet,vgg16}/`` (copied from ../shared/data/timeloop/layer_shapes,
# in file order), so the check also runs where the shared data is absent.
LAYER_SHAPES = {
    "resnet18": [
        "{C: 3, M: 64, P: 112, Q: 112, R: 7, S: 7, HStride: 2, WStride: 2}",
        "{C: 64, M: 64, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 64, M: 64, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 64, M: 64, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 64, M: 64, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 64, M: 128, P: 28, Q: 28, R: 3, S: 3, HStride: 2, WStride: 2}",
        "{C: 128, M: 128, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 64, M: 128, P: 28, Q: 28, HStride: 2, WStride: 2}",
        "{C: 128, M: 128, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 128, M: 128, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 128, M: 256, P: 14, Q: 14, R: 3, S: 3, HStride: 2, WStride: 2}",
        "{C: 256, M: 256, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 128, M: 256, P: 14, Q: 14, HStride: 2, WStride: 2}",
        "{C: 256, M: 256, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 256, M: 256, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 256, M: 512, P: 7, Q: 7, R: 3, S: 3, HStride: 2, WStride: 2}",
        "{C: 512, M: 512, P: 7, Q: 7, R: 3, S: 3}",
        "{C: 256, M: 512, P: 7, Q: 7, HStride: 2, WStride: 2}",
        "{C: 512, M: 512, P: 7, Q: 7, R: 3, S: 3}",
        "{C: 512, M: 512, P: 7, Q: 7, R: 3, S: 3}",
        "{C: 512, M: 1000}",
    ],
    "alexnet": [
        "{C: 3, M: 64, P: 55, Q: 55, R: 11, S: 11, HStride: 4, WStride: 4}",
        "{C: 64, M: 192, P: 27, Q: 27, R: 5, S: 5}",
        "{C: 192, M: 384, P: 13, Q: 13, R: 3, S: 3}",
        "{C: 384, M: 256, P: 13, Q: 13, R: 3, S: 3}",
        "{C: 256, M: 256, P: 13, Q: 13, R: 3, S: 3}",
        "{C: 9216, M: 4096}",
        "{C: 4096, M: 4096}",
        "{C: 4096, M: 1000}",
    ],
    "vgg16": [
        "{C: 3, M: 64, P: 224, Q: 224, R: 3, S: 3}",
        "{C: 64, M: 64, P: 224, Q: 224, R: 3, S: 3}",
        "{C: 64, M: 128, P: 112, Q: 112, R: 3, S: 3}",
        "{C: 128, M: 128, P: 112, Q: 112, R: 3, S: 3}",
        "{C: 128, M: 256, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 256, M: 256, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 256, M: 256, P: 56, Q: 56, R: 3, S: 3}",
        "{C: 256, M: 512, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 512, M: 512, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 512, M: 512, P: 28, Q: 28, R: 3, S: 3}",
        "{C: 512, M: 512, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 512, M: 512, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 512, M: 512, P: 14, Q: 14, R: 3, S: 3}",
        "{C: 25088, M: 4096}",
        "{C: 4096, M: 4096}",
        "{C: 4096, M: 1000}",
    ],
}


def _reference(folder):
    import warnings

    import yaml

    from approxdse.networks.problem_files import layer_from_problem

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resnet18/alexnet spell the strides HStride/WStride
        if SHAPES.is_dir():
            return load_problems(SHAPES / folder).layers
        return tuple(layer_from_problem({"instance": yaml.safe_load(text)}, f"{i:02d}")
                     for i, text in enumerate(LAYER_SHAPES[folder]))


@pytest.mark.parametrize("network,folder", [("resnet18", "resnet18"), ("alexnet", "alexnet"),
                                            ("vgg16", "vgg16")])
def test_zoo_matches_timeloop_layer_shapes(network, folder):
    reference = _reference(folder)
    ours = zoo.workload(network)
    assert len(ours) == len(reference) == len(LAYER_SHAPES[folder])
    for mine, theirs in zip(ours, reference):
        assert _dims(mine) == _dims(theirs), (mine.name, theirs.name)


def test_tracing_matches_timeloop_resnet18_including_strides():
    """One traced forward pass of the zoo module gives the layer_shapes/resnet18 loop nests."""
    reference = _reference("resnet18")
    traced = workload_from_module(zoo.module("resnet18"), (1, 3, 224, 224))
    assert [_dims(layer) for layer in traced] == [_dims(layer) for layer in reference]


@pytest.mark.skipif(not SHAPES.is_dir(), reason="shared Timeloop data not present")
def test_embedded_layer_shapes_equal_the_shared_files():
    import warnings

    import yaml

    from approxdse.networks.problem_files import layer_from_problem

    for folder, lines in LAYER_SHAPES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embedded = [layer_from_problem({"instance": yaml.safe_load(t)}, "x") for t in lines]
            shared = load_problems(SHAPES / folder)
        assert [_dims(a) for a in embedded] == [_dims(b) for b in shared]


def test_strides_padding_dilation_groups_and_same_padding():
    net = nn.Sequential(
        nn.Conv2d(4, 8, 3, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
        nn.Conv2d(8, 8, 3, padding="same", groups=8),
        nn.Conv2d(8, 16, 4, padding="same"),
    )
    w = workload_from_module(net, (1, 4, 16, 16), name="mixed")
    a, b, c = w.layers
    assert (a.stride_h, a.stride_w, a.pad_h, a.pad_w, a.dilation_h, a.dilation_w) == (2, 1, 1, 2, 1, 2)
    assert (a.P, a.Q) == (8, 16)
    assert b.groups == 8 and b.is_depthwise and (b.pad_h, b.P) == (1, 8)
    assert (c.R, c.P, c.Q) == (4, 8, 16) and c.pad_h == 2  # 'same' with an even kernel, rounded up
    assert [layer.name for layer in w] == ["0", "1", "2"]


def test_linear_on_tokens_conv1d_and_reused_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 5, stride=2)
            self.proj = nn.Linear(6, 6)

        def forward(self, x):
            y = self.conv(x).transpose(1, 2)  # (N, L, 6)
            return self.proj(self.proj(y))

    w = workload_from_module(Net(), (2, 3, 21))
    conv, p1, p2 = w.layers
    assert (conv.C, conv.M, conv.P, conv.Q, conv.R, conv.S, conv.stride_w, conv.N) == (3, 6, 1, 9, 1, 5, 2, 2)
    assert p1.kind == "fc" and p1.N == 2 * 9
    assert (p1.name, p2.name) == ("proj", "proj#2")


def test_bit_widths_are_recorded():
    w = workload_from_module(nn.Linear(4, 2), (1, 4), input_bits=4, weight_bits=6)
    assert (w[0].input_bits, w[0].weight_bits, w[0].output_bits) == (4, 6, 8)


def test_errors():
    with pytest.raises(ApproxDSEError, match="forward pass .* failed"):
        workload_from_module(nn.Linear(4, 2), (1, 5))
    with pytest.raises(ApproxDSEError, match="ran no Conv1d"):
        workload_from_module(nn.ReLU(), (1, 5))
    with pytest.raises(ApproxDSEError, match="does not support.*ConvTranspose2d"):
        workload_from_module(nn.ConvTranspose2d(2, 2, 3), (1, 2, 4, 4))
    with pytest.raises(ApproxDSEError, match="torch.nn.Module"):
        workload_from_module("resnet18", (1, 3, 224, 224))
    with pytest.raises(ApproxDSEError, match="positive"):
        workload_from_module(nn.Linear(4, 2), (0, 4))


def test_emulator_layers_are_traced_with_their_multipliers():
    """An approximated network (approxdse.emulator.approximate) traces to the same layers and
    brings its per-layer multipliers, which estimate_energy uses."""
    from approxdse import emulator
    from approxdse.accelerators.estimate import estimate_energy
    from approxdse.networks.tracing import trace_module

    approx = emulator.approximate(zoo.module("lenet5"), {"features.3": "u8_drum_4", "classifier.1": "u8_trunc_2"})
    trace = trace_module(approx, (1, 1, 32, 32))
    assert trace.workload.layers == zoo.workload("lenet5").layers
    assert {k: m.name for k, m in trace.multipliers.items()}["features.3"] == "u8_drum_4"
    report = estimate_energy(approx, input_shape=(1, 1, 32, 32), layer_multipliers={"classifier.3": 0.0})
    used = {r.name: r.multiplier for r in report.layers}
    assert used["features.3"] == "u8_drum_4" and used["classifier.1"] == "u8_trunc_2" and used["classifier.3"] == "rel0"


def test_recurrent_zoo_networks_are_priced_per_time_step_with_their_multipliers():
    from approxdse import emulator  # the project's own package: an ImportError must fail, not skip
    from approxdse.accelerators.estimate import estimate_energy
    from approxdse.networks.tracing import trace_module

    w = zoo.workload("lstm_digits")
    assert len(w) == 2 * 2 * 8 + 1 and w["rnn.l0.ih.t0"].C == 8 and w["rnn.l1.ih.t7"].C == 64
    assert w.macs == 8 * (8 * 256 + 64 * 256 + 64 * 256 + 64 * 256) + 64 * 10
    approx = emulator.approximate(zoo.module("lstm_digits"), {"rnn.l1.hh": "u8_drum_4"})
    trace = trace_module(approx, (1, 1, 8, 8))
    assert trace.workload.layers == w.layers
    report = estimate_energy(approx, "eyeriss", input_shape=(1, 1, 8, 8))
    used = {r.name: r.multiplier for r in report.layers}
    assert used["rnn.l1.hh.t5"] == "u8_drum_4" and used["rnn.l0.hh.t5"] == "u8_exact"
    exact = estimate_energy("lstm_digits", "eyeriss", multiplier="u8_exact")
    assert 0 < report.energy_pJ < exact.energy_pJ
