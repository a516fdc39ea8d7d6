"""The zoo: layer shapes and MAC totals against published figures.

Published MAC counts (multiply-accumulates for one 224x224 image unless noted):
ResNet-18 1.8 G and ResNet-34 3.6 G (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016, Table 1, "FLOPs" = multiply-adds); ResNet-50 4.1 G for the
v1.5 layout (torchvision model documentation: 4.09 "GFLOPS", which count MACs);
VGG-16 15.5 G and AlexNet 0.72 G (Sze et al., "Efficient Processing of Deep Neural
Networks: A Tutorial and Survey", Proc. IEEE 2017, Table III; AlexNet's figure is the
two-tower original, our single-tower variant has 0.71 G as torchvision lists);
MobileNetV2 300 M (Sandler et al., CVPR 2018, Table 4); CIFAR ResNet-20/32/56
parameters 0.27/0.46/0.85 M (He et al. 2016, Table 6); LeNet-5's layer sizes from
LeCun et al. 1998.
"""
import pytest

from approxdse.networks import zoo
from approxdse.core.errors import ApproxDSEError, UnknownNameError

PUBLISHED_MACS = {  # network: (published MACs, relative tolerance)
    "resnet18": (1.82e9, 0.01),
    "resnet34": (3.6e9, 0.02),
    "resnet50": (4.1e9, 0.01),
    "vgg16": (15.5e9, 0.01),
    "alexnet": (0.72e9, 0.02),
    "mobilenet_v2": (300e6, 0.01),
    "lenet5": (416_520, 0.0),
}
PUBLISHED_PARAMS = {"resnet20": 0.27e6, "resnet32": 0.46e6, "resnet56": 0.85e6, "mobilenet_v2": 3.4e6,
                    "resnet18": 11.7e6, "resnet50": 25.5e6, "vgg16": 138e6}


@pytest.mark.parametrize("name", list(PUBLISHED_MACS))
def test_mac_totals_match_published_figures(name):
    published, tol = PUBLISHED_MACS[name]
    assert zoo.workload(name).macs == pytest.approx(published, rel=tol)


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMS))
def test_weight_counts_match_published_parameters(name):
    # conv + fc weights only (no biases, no batch norm): within 3% of the published totals
    assert zoo.workload(name).weights == pytest.approx(PUBLISHED_PARAMS[name], rel=0.03)


def test_layer_counts():
    counts = {n: len(zoo.workload(n)) for n in zoo.names()}
    assert counts["resnet18"] == 21  # 17 convs + 3 projection shortcuts + fc
    assert counts["resnet34"] == 37
    assert counts["resnet50"] == 54  # 49 convs + 4 projections + fc
    assert counts["vgg16"] == 16
    assert counts["alexnet"] == 8
    assert counts["mobilenet_v2"] == 53  # 52 convs + classifier
    assert counts["resnet20"] == 20 and counts["resnet32"] == 32 and counts["resnet56"] == 56


def test_resnet18_shapes():
    w = zoo.workload("resnet18")
    first = w["conv1"]
    assert (first.C, first.M, first.P, first.R, first.stride, first.pad_h) == (3, 64, 112, 7, 2, 3)
    down = w["layer2.0.downsample"]
    assert (down.C, down.M, down.P, down.R, down.stride) == (64, 128, 28, 1, 2)
    assert w["fc"].kind == "fc" and (w["fc"].C, w["fc"].M) == (512, 1000)


def test_mobilenet_v2_depthwise_layers():
    w = zoo.workload("mobilenet_v2")
    dws = [layer for layer in w if layer.is_depthwise]
    assert len(dws) == 17
    assert w["features.2.dw"].C == 96 and w["features.2.dw"].stride == 2 and w["features.2.dw"].P == 56
    assert w["features.18"].M == 1280


def test_input_shape_changes_sizes_and_batch():
    w = zoo.workload("resnet18", "2,3,112,112")
    assert w["conv1"].P == 56 and w["conv1"].N == 2
    assert w["layer4.0.conv1"].P == 4  # ceil(7 / 2): the last stage shrinks less than 4x
    assert w["fc"].C == 512 and w["fc"].N == 2
    full = zoo.workload("resnet18")
    assert w["layer1.0.conv1"].macs == 2 * full["layer1.0.conv1"].macs // 4
    assert zoo.workload("resnet20", (3, 32, 32)) == zoo.workload("resnet20")


def test_bad_names_and_shapes():
    with pytest.raises(UnknownNameError, match="resnet18"):
        zoo.workload("resnet19")
    with pytest.raises(ApproxDSEError, match="too small"):
        zoo.workload("lenet5", (1, 1, 4, 4))
    with pytest.raises(ApproxDSEError, match="not a list of integers"):
        zoo.workload("resnet18", "1,3,a,224")
    with pytest.raises(ApproxDSEError, match="positive"):
        zoo.workload("resnet18", (1, 3, 0, 224))


def test_aliases():
    assert zoo.has("MobileNetV2") and zoo.has("resnet-18") and not zoo.has("resnet19")
    assert zoo.workload("mobilenetv2").name == "mobilenet_v2"
