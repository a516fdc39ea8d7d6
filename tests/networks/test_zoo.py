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

The families added for the predictors' coverage (MACs from the papers where they give them,
else torchvision's model documentation, "GFLOPS" = MACs): VGG-11 7.6 G; MobileNetV3-Large
219 M (Howard et al. 2019, Table 3); EfficientNet-B0 0.39 G (Tan & Le 2019, Table 2);
ShuffleNetV2 1.0x 146 M and 0.5x 41 M (Ma et al. 2018, Table 5); SqueezeNet 1.0 0.82 G and
1.1 0.35 G (torchvision); DenseNet-121 2.83 G (torchvision); RegNetY-400MF 0.4 G (Radosavovic
et al. 2020); ResNeXt-50 32x4d 4.2 G (Xie et al. 2017, Table 1); ConvNeXt-T 4.5 G (Liu et al.
2022, Table 1). Parameters from torchvision's documentation.
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
    "vgg11": (7.61e9, 0.01),
    "mobilenet_v3_large": (219e6, 0.02),
    "efficientnet_b0": (0.39e9, 0.02),
    "shufflenet_v2": (146e6, 0.01),
    "shufflenet_v2_x0_5": (41e6, 0.02),
    "squeezenet1_0": (0.82e9, 0.01),
    "squeezenet1_1": (0.35e9, 0.01),
    "densenet121": (2.83e9, 0.01),
    "regnet_y_400mf": (0.40e9, 0.01),
    "resnext50_32x4d": (4.23e9, 0.01),
    "convnext_tiny": (4.46e9, 0.01),
}
PUBLISHED_PARAMS = {"resnet20": 0.27e6, "resnet32": 0.46e6, "resnet56": 0.85e6, "mobilenet_v2": 3.4e6,
                    "resnet18": 11.7e6, "resnet50": 25.5e6, "vgg16": 138e6,
                    "vgg11": 132.9e6, "mobilenet_v3_large": 5.48e6, "efficientnet_b0": 5.29e6,
                    "shufflenet_v2": 2.28e6, "squeezenet1_0": 1.25e6, "squeezenet1_1": 1.24e6,
                    "densenet121": 7.98e6, "regnet_y_400mf": 4.34e6, "resnext50_32x4d": 25.03e6,
                    "convnext_tiny": 28.59e6}


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
    assert counts["vgg11"] == 11  # 8 convs + 3 fc
    assert counts["mobilenet_v3_large"] == 64  # stem, 15 blocks (the first without expansion), 8 SE x 2, last conv, 2 fc
    assert counts["efficientnet_b0"] == 82  # stem, 16 MBConv (4 + 15 x 5 convs with SE), head conv, fc
    assert counts["shufflenet_v2"] == 57  # conv1, 3 x 5 + 13 x 3 unit convs, conv5, fc
    assert counts["squeezenet1_0"] == counts["squeezenet1_1"] == 26  # conv1, 8 fires x 3, conv10
    assert counts["densenet121"] == 121  # the 121 of its name: conv0, 58 x 2, 3 transitions, fc
    assert counts["regnet_y_400mf"] == 86  # stem, 16 blocks x 5 (a, b, SE x 2, c), 4 projections, fc
    assert counts["resnext50_32x4d"] == 54
    assert counts["convnext_tiny"] == 59  # stem, 18 blocks x 3, 3 downsampling convs, head


def test_new_families_have_the_shapes_that_trouble_predictors():
    shuffle = zoo.workload("shufflenet_v2")
    assert {layer.M for layer in shuffle} >= {58, 116, 232}  # odd channel counts
    assert shuffle["stage2.0.left_dw"].is_depthwise and shuffle["stage2.0.left_dw"].stride == 2
    eff = zoo.workload("efficientnet_b0")
    assert {layer.R for layer in eff if layer.is_depthwise} == {3, 5}
    se = eff["features.2.se.fc1"]
    assert (se.C, se.M, se.P, se.Q) == (96, 4, 1, 1)  # SE squeeze: 1/4 of the block input (16)
    v3 = zoo.workload("mobilenet_v3_large")
    assert v3["features.4.se.fc1"].M == 24  # 72 / 4 = 18, rounded up to a multiple of 8
    regnet = zoo.workload("regnet_y_400mf")
    assert regnet["trunk.s1.block1.b"].groups == 6 and regnet["trunk.s4.block1.b"].groups == 55
    assert zoo.workload("resnext50_32x4d")["layer1.0.conv2"].groups == 32
    conv = zoo.workload("convnext_tiny")
    assert (conv["stem"].R, conv["stem"].stride) == (4, 4) and conv["stages.0.0.dwconv"].R == 7
    dense = zoo.workload("densenet121")
    assert dense["features.denseblock1.denselayer6.conv1"].C == 64 + 5 * 32
    assert dense["features.transition3.conv"].C == 1024 and dense["classifier"].C == 1024
    sq = zoo.workload("squeezenet1_0")
    assert sq["features.5.squeeze"].P == 54 and sq["features.7.squeeze"].P == 27  # ceil-mode pooling


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
