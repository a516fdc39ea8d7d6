"""The built-in network zoo, defined in this project (no torchvision).

Each network is written once as a small *spec* tree (convs, pools, residual
blocks, linear layers). The same spec gives

* its :class:`~approxdse.networks.workload.Workload` by shape arithmetic alone
  (:func:`workload`: pure Python, no torch import, so ``approxdse energy
  resnet18`` starts fast), and
* a runnable ``torch.nn.Module`` (:func:`module`) whose traced forward pass
  (:func:`approxdse.networks.tracing.workload_from_module`) yields the same layers:
  the tests check that the two agree.

Networks (ImageNet ones at 3x224x224 by default; any input size that the
layers accept works):

============== ======================================================================
resnet18/34    He et al., CVPR 2016, basic blocks [2,2,2,2] / [3,4,6,3], 1x1 projection
               shortcuts where the shape changes (torchvision's layout)
resnet50       bottleneck blocks [3,4,6,3], stride on the 3x3 conv ("v1.5", as
               torchvision), so 4.1 GMACs rather than the paper's 3.8 G
vgg16          Simonyan & Zisserman 2015, configuration D, no batch norm
alexnet        the single-tower variant (Krizhevsky 2014, "One weird trick"; channels
               64-192-384-256-256 as torchvision and the Timeloop ``layer_shapes/alexnet``)
mobilenet_v2   Sandler et al., CVPR 2018, width 1.0
vgg11          Simonyan & Zisserman 2015, configuration A, no batch norm
mobilenet_v3_  Howard et al., ICCV 2019, Table 1 (hard-swish, SE blocks with hard-sigmoid
large          gates, squeeze width rounded to multiples of 8)
efficientnet_  Tan & Le, ICML 2019, Table 1 (MBConv with SE at 1/4 of the block input, swish)
b0
shufflenet_v2  Ma et al., ECCV 2018, Table 5, 1.0x (116/232/464) and 0.5x (48/96/192): channel
(_x0_5)        split, two branches, concatenation, channel shuffle
squeezenet1_0  Iandola et al. 2016, Table 1 (fire modules, ceil-mode pooling); 1_1: the authors'
/1_1           v1.1 (3x3 conv1, earlier pooling)
densenet121    Huang et al., CVPR 2017, Table 1 (DenseNet-BC, k = 32, blocks 6/12/24/16)
regnet_y_400mf Radosavovic et al., CVPR 2020 (widths 48/104/208/440, depths 1/3/6/6, group width
               8, SE)
resnext50_     Xie et al., CVPR 2017, Table 1 (32 groups x 4 channels)
32x4d
convnext_tiny  Liu et al., CVPR 2022, ConvNeXt-T's shapes (7x7 depthwise, 4x inverted bottleneck,
               4x4/4 stem, 2x2/2 downsampling); batch norm for layer norm, 1x1 convs for its linears
lenet5         LeCun et al. 1998 layer sizes on 1x32x32 (MNIST padded to 32x32), with ReLU
               and max pooling; C5 is the fully connected 400->120 layer it is equivalent to
lenet5_digits  the same network (:func:`lenet5_spec`) for the 1x8x8 scikit-learn digits:
               3x3 kernels with padding (an adaptation, not LeCun's network)
resnet8/20/    He et al. 2016, section 4.2 (CIFAR-10, 3x32x32): 3 stages of n basic
32/56          blocks, 16/32/64 channels, parameter-free shortcuts (option A)
lstm_digits    the 1x8x8 digits read as a sequence of 8 rows of 8 features: a 2-layer
               LSTM (64 hidden) whose last output feeds a linear classifier
gru_digits     the same with a 2-layer GRU
============== ======================================================================

Squeeze-and-excitation blocks (:class:`SqueezeExcite`) appear as two 1x1 convs on a 1x1
map (``....se.fc1``, ``....se.fc2``); :class:`Concat` joins branches on channels (fire modules,
dense layers, ShuffleNet units). No weights are shipped: modules are freshly initialised.

Recurrent layers appear in the workload as their matmuls per time step
(``rnn.l0.ih.t3``, ``rnn.l0.hh.t3`` ...; see
:func:`approxdse.networks.tracing.recurrent_layers`).

>>> from approxdse.networks import zoo
>>> round(zoo.workload("resnet18").macs / 1e9, 2)
1.81
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence, Union

from approxdse.networks.tracing import recurrent_layers
from approxdse.networks.workload import Layer, Workload
from approxdse.core.errors import ApproxDSEError, UnknownNameError

# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class Conv:
    """A 2-D convolution, optionally followed by batch norm and an activation."""

    name: str
    out: int
    k: int
    stride: int = 1
    pad: int | None = None  # None: "same"-style k // 2 * dilation
    groups: int = 1  # 0 means depthwise (groups = input channels)
    dilation: int = 1
    bn: bool = True
    act: str | None = "relu"

    @property
    def padding(self) -> int:
        return (self.k // 2) * self.dilation if self.pad is None else self.pad


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    k: int
    stride: int
    pad: int = 0
    ceil: bool = False  # PyTorch's ceil_mode (SqueezeNet)


@dataclass(frozen=True)
class GlobalPool:
    """Adaptive average pooling to ``size`` x ``size``."""

    size: int = 1


@dataclass(frozen=True)
class Flatten:
    pass


@dataclass(frozen=True)
class Linear:
    name: str
    out: int
    act: str | None = None


@dataclass(frozen=True)
class PadShortcut:
    """He et al.'s option A shortcut: subsample by ``stride`` and zero-pad channels to ``out``."""

    out: int
    stride: int


@dataclass(frozen=True)
class Residual:
    """``act(body(x) + shortcut(x))``; an empty shortcut is the identity."""

    name: str
    body: tuple
    shortcut: tuple = ()
    act: str | None = "relu"


@dataclass(frozen=True)
class Seq:
    name: str
    items: tuple


@dataclass(frozen=True)
class SqueezeExcite:
    """Squeeze-and-excitation (Hu et al. 2018): global average pool, 1x1 conv ``fc1`` to ``squeeze``
    channels, ``act``, 1x1 conv ``fc2`` back, ``gate``, times the input. Its two convs run on a
    1x1 map (the SE "fc" layers of MobileNetV3, EfficientNet, RegNetY)."""

    name: str
    squeeze: int
    act: str = "relu"
    gate: str = "sigmoid"


@dataclass(frozen=True)
class Concat:
    """Branches on the same input (``split=False``) or on equal channel slices of it
    (``split=True``, ShuffleNetV2), concatenated on channels; an empty branch is the identity.
    ``shuffle`` > 0 shuffles the channels in that many groups afterwards. The branches' op
    names must be distinct (they sit side by side in the module)."""

    name: str
    branches: tuple
    split: bool = False
    shuffle: int = 0


@dataclass(frozen=True)
class Recurrent:
    """A C,H,W input read as H time steps of C*W features by a stacked LSTM/GRU/RNN (batch first);
    its last time step's output (hidden x directions features) goes on."""

    name: str
    cell: str  # "LSTM", "GRU", "RNN_TANH", "RNN_RELU"
    hidden: int
    layers: int = 1
    bidirectional: bool = False


Op = Union[Conv, Pool, GlobalPool, Flatten, Linear, PadShortcut, Residual, Recurrent, Seq, SqueezeExcite, Concat]

# ------------------------------------------------------------------ definitions


def _resnet_imagenet(blocks: Sequence[int], bottleneck: bool, classes: int = 1000) -> Seq:
    items: list = [Conv("conv1", 64, 7, stride=2, pad=3), Pool("max", 3, 2, 1)]
    in_ch = 64
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
        out_ch = width * 4 if bottleneck else width
        stage_items = []
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            if bottleneck:
                body = (Conv("conv1", width, 1, pad=0), Conv("conv2", width, 3, stride=stride),
                        Conv("conv3", out_ch, 1, pad=0, act=None))
            else:
                body = (Conv("conv1", width, 3, stride=stride), Conv("conv2", width, 3, act=None))
            shortcut: tuple = ()
            if stride != 1 or in_ch != out_ch:
                shortcut = (Conv("downsample", out_ch, 1, stride=stride, pad=0, act=None),)
            stage_items.append(Residual(str(i), body, shortcut))
            in_ch = out_ch
        items.append(Seq(f"layer{stage}", tuple(stage_items)))
    items += [GlobalPool(1), Flatten(), Linear("fc", classes)]
    return Seq("", tuple(items))


def resnet_cifar_spec(depth: int, classes: int = 10) -> Seq:
    """The CIFAR ResNet-(6n+2) of He et al. 2016, sec. 4.2: a 3x3 stem, three stages of ``n``
    basic blocks (16, 32, 64 channels; stages 2 and 3 halve the resolution), parameter-free
    shortcuts (option A), global average pooling and a linear classifier.

    The zoo's ``resnet20/32/56`` and the emulator's ``resnet8`` / ``resnet20`` are this network.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ApproxDSEError(f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32...), got {depth}")
    n = (depth - 2) // 6
    items: list = [Conv("conv1", 16, 3)]
    in_ch = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        stage_items = []
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            body = (Conv("conv1", width, 3, stride=stride), Conv("conv2", width, 3, act=None))
            shortcut = (PadShortcut(width, stride),) if (stride != 1 or in_ch != width) else ()
            stage_items.append(Residual(str(i), body, shortcut))
            in_ch = width
        items.append(Seq(f"layer{stage}", tuple(stage_items)))
    items += [GlobalPool(1), Flatten(), Linear("fc", classes)]
    return Seq("", tuple(items))


def _vgg16(classes: int = 1000, config: tuple = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))) -> Seq:
    items: list = []
    for block, (n, width) in enumerate(config, start=1):
        items += [Conv(f"conv{block}_{i}", width, 3, bn=False) for i in range(1, n + 1)]
        items.append(Pool("max", 2, 2))
    items += [GlobalPool(7), Flatten(), Linear("fc6", 4096, "relu"), Linear("fc7", 4096, "relu"),
              Linear("fc8", classes)]
    return Seq("", tuple(items))


def _alexnet(classes: int = 1000) -> Seq:
    return Seq("", (
        Conv("conv1", 64, 11, stride=4, pad=2, bn=False), Pool("max", 3, 2),
        Conv("conv2", 192, 5, pad=2, bn=False), Pool("max", 3, 2),
        Conv("conv3", 384, 3, bn=False), Conv("conv4", 256, 3, bn=False),
        Conv("conv5", 256, 3, bn=False), Pool("max", 3, 2),
        GlobalPool(6), Flatten(),
        Linear("fc6", 4096, "relu"), Linear("fc7", 4096, "relu"), Linear("fc8", classes),
    ))


def _mobilenet_v2(classes: int = 1000) -> Seq:
    # (expansion t, output channels c, repeats n, first stride s): Sandler et al. 2018, Table 2
    settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    features: list = [Conv("0", 32, 3, stride=2, act="relu6")]
    in_ch = 32
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = in_ch * t
            body: list = []
            if t != 1:
                body.append(Conv("expand", hidden, 1, pad=0, act="relu6"))
            body.append(Conv("dw", hidden, 3, stride=stride, groups=0, act="relu6"))
            body.append(Conv("project", c, 1, pad=0, act=None))
            name = str(len(features))
            if stride == 1 and in_ch == c:
                features.append(Residual(name, tuple(body), (), act=None))
            else:
                features.append(Seq(name, tuple(body)))
            in_ch = c
    features.append(Conv(str(len(features)), 1280, 1, pad=0, act="relu6"))
    return Seq("", (Seq("features", tuple(features)), GlobalPool(1), Flatten(), Linear("classifier", classes)))


def _make_divisible(v: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: the nearest multiple of ``divisor``, never 10% below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _inverted_residual(name: str, cin: int, k: int, hidden: int, out: int, stride: int, act: str,
                       se: int, se_act: str, se_gate: str):
    """MobileNetV2/V3 and EfficientNet block: [1x1 expand], kxk depthwise, [SE], 1x1 linear projection;
    identity residual when the stride is 1 and the width stays."""
    body: list = []
    if hidden != cin:
        body.append(Conv("expand", hidden, 1, pad=0, act=act))
    body.append(Conv("dw", hidden, k, stride=stride, groups=0, act=act))
    if se:
        body.append(SqueezeExcite("se", se, se_act, se_gate))
    body.append(Conv("project", out, 1, pad=0, act=None))
    if stride == 1 and cin == out:
        return Residual(name, tuple(body), (), act=None)
    return Seq(name, tuple(body))


def _mobilenet_v3_large(classes: int = 1000) -> Seq:
    # Howard et al., ICCV 2019, Table 1: (kernel, expansion size, out, SE, activation, stride)
    settings = ((3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
                (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
                (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1),
                (3, 184, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
                (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
                (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1),
                (5, 960, 160, True, "hardswish", 1))
    features: list = [Conv("0", 16, 3, stride=2, act="hardswish")]
    cin = 16
    for k, exp, out, se, act, stride in settings:
        squeeze = _make_divisible(exp // 4) if se else 0
        features.append(_inverted_residual(str(len(features)), cin, k, exp, out, stride, act, squeeze,
                                           "relu", "hardsigmoid"))
        cin = out
    features.append(Conv(str(len(features)), 960, 1, pad=0, act="hardswish"))
    return Seq("", (Seq("features", tuple(features)), GlobalPool(1), Flatten(),
                    Seq("classifier", (Linear("0", 1280, "hardswish"), Linear("3", classes)))))


def _efficientnet_b0(classes: int = 1000) -> Seq:
    # Tan & Le, ICML 2019, Table 1: (expansion, kernel, first stride, out, repeats); SE ratio 0.25
    # of the block input, swish activations
    settings = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
    features: list = [Conv("0", 32, 3, stride=2, act="swish")]
    cin = 32
    for t, k, s, out, n in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            features.append(_inverted_residual(str(len(features)), cin, k, cin * t, out, stride, "swish",
                                               max(1, cin // 4), "swish", "sigmoid"))
            cin = out
    features.append(Conv(str(len(features)), 1280, 1, pad=0, act="swish"))
    return Seq("", (Seq("features", tuple(features)), GlobalPool(1), Flatten(), Linear("classifier", classes)))


def _shufflenet_v2(widths: Sequence[int] = (116, 232, 464), classes: int = 1000) -> Seq:
    # Ma et al., ECCV 2018, Table 5 (1.0x: 116, 232, 464 channels, 4/8/4 units, conv5 1024)
    items: list = [Conv("conv1", 24, 3, stride=2), Pool("max", 3, 2, 1)]
    cin = 24
    for stage, (out, repeats) in enumerate(zip(widths, (4, 8, 4)), start=2):
        half = out // 2
        units = []
        for i in range(repeats):
            if i == 0:
                left = (Conv("left_dw", cin, 3, stride=2, groups=0, act=None), Conv("left_pw", half, 1, pad=0))
                right = (Conv("pw1", half, 1, pad=0), Conv("dw", half, 3, stride=2, groups=0, act=None),
                         Conv("pw2", half, 1, pad=0))
                units.append(Concat(str(i), (left, right), split=False, shuffle=2))
            else:
                right = (Conv("pw1", half, 1, pad=0), Conv("dw", half, 3, groups=0, act=None),
                         Conv("pw2", half, 1, pad=0))
                units.append(Concat(str(i), ((), right), split=True, shuffle=2))
            cin = out
        items.append(Seq(f"stage{stage}", tuple(units)))
    items += [Conv("conv5", 1024, 1, pad=0), GlobalPool(1), Flatten(), Linear("fc", classes)]
    return Seq("", tuple(items))


def _fire(name: str, squeeze: int, e1: int, e3: int) -> Seq:
    return Seq(name, (Conv("squeeze", squeeze, 1, pad=0, bn=False),
                      Concat("expand", ((Conv("expand1x1", e1, 1, pad=0, bn=False),),
                                        (Conv("expand3x3", e3, 3, bn=False),)))))


def _squeezenet(version: str, classes: int = 1000) -> Seq:
    # Iandola et al. 2016, Table 1 (v1.0); v1.1 from the authors' repository (3x3 conv1, earlier pooling)
    pool = Pool("max", 3, 2, ceil=True)
    if version == "1_0":
        features = (Conv("0", 96, 7, stride=2, pad=0, bn=False), pool,
                    _fire("3", 16, 64, 64), _fire("4", 16, 64, 64), _fire("5", 32, 128, 128), pool,
                    _fire("7", 32, 128, 128), _fire("8", 48, 192, 192), _fire("9", 48, 192, 192),
                    _fire("10", 64, 256, 256), pool, _fire("12", 64, 256, 256))
    else:
        features = (Conv("0", 64, 3, stride=2, pad=0, bn=False), pool,
                    _fire("3", 16, 64, 64), _fire("4", 16, 64, 64), pool,
                    _fire("6", 32, 128, 128), _fire("7", 32, 128, 128), pool,
                    _fire("9", 48, 192, 192), _fire("10", 48, 192, 192), _fire("11", 64, 256, 256),
                    _fire("12", 64, 256, 256))
    return Seq("", (Seq("features", features), Seq("classifier", (Conv("1", classes, 1, pad=0, bn=False),)),
                    GlobalPool(1), Flatten()))


def _densenet(blocks: Sequence[int] = (6, 12, 24, 16), growth: int = 32, init: int = 64,
              classes: int = 1000) -> Seq:
    # Huang et al., CVPR 2017, Table 1 (DenseNet-BC: 1x1 to 4k channels before each 3x3, transitions
    # halve the channels). The paper's BN-ReLU-conv order becomes conv-BN-ReLU here: same layer shapes.
    features: list = [Conv("conv0", init, 7, stride=2, pad=3), Pool("max", 3, 2, 1)]
    c = init
    for b, n in enumerate(blocks, start=1):
        layers = []
        for i in range(1, n + 1):
            body = (Conv("conv1", 4 * growth, 1, pad=0), Conv("conv2", growth, 3))
            layers.append(Concat(f"denselayer{i}", ((), body)))
            c += growth
        features.append(Seq(f"denseblock{b}", tuple(layers)))
        if b < len(blocks):
            c //= 2
            features.append(Seq(f"transition{b}", (Conv("conv", c, 1, pad=0), Pool("avg", 2, 2))))
    return Seq("", (Seq("features", tuple(features)), GlobalPool(1), Flatten(), Linear("classifier", classes)))


def _regnet_y_400mf(classes: int = 1000) -> Seq:
    # Radosavovic et al., CVPR 2020: RegNetY-400MF (widths 48/104/208/440, depths 1/3/6/6, group
    # width 8, bottleneck ratio 1, SE ratio 0.25 of the block input), stem 3x3/2 to 32 channels
    stages: list = []
    cin = 32
    for stage, (width, depth) in enumerate(zip((48, 104, 208, 440), (1, 3, 6, 6)), start=1):
        blocks = []
        for i in range(depth):
            stride = 2 if i == 0 else 1
            body = (Conv("a", width, 1, pad=0), Conv("b", width, 3, stride=stride, groups=width // 8),
                    SqueezeExcite("se", int(round(0.25 * cin))), Conv("c", width, 1, pad=0, act=None))
            shortcut = (Conv("proj", width, 1, stride=stride, pad=0, act=None),) if (stride != 1 or cin != width) else ()
            blocks.append(Residual(f"block{i + 1}", body, shortcut))
            cin = width
        stages.append(Seq(f"s{stage}", tuple(blocks)))
    return Seq("", (Conv("stem", 32, 3, stride=2), Seq("trunk", tuple(stages)), GlobalPool(1), Flatten(),
                    Linear("fc", classes)))


def _resnext50(classes: int = 1000) -> Seq:
    # Xie et al., CVPR 2017, Table 1: ResNeXt-50 (32x4d), ResNet-50's layout with 32-group 3x3 convs
    # and twice the bottleneck width (128/256/512/1024); stride on the 3x3 conv as torchvision
    items: list = [Conv("conv1", 64, 7, stride=2, pad=3), Pool("max", 3, 2, 1)]
    in_ch = 64
    for stage, (n, mid) in enumerate(zip((3, 4, 6, 3), (128, 256, 512, 1024)), start=1):
        out_ch = mid * 2
        blocks = []
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            body = (Conv("conv1", mid, 1, pad=0), Conv("conv2", mid, 3, stride=stride, groups=32),
                    Conv("conv3", out_ch, 1, pad=0, act=None))
            shortcut = (Conv("downsample", out_ch, 1, stride=stride, pad=0, act=None),) if (
                stride != 1 or in_ch != out_ch) else ()
            blocks.append(Residual(str(i), body, shortcut))
            in_ch = out_ch
        items.append(Seq(f"layer{stage}", tuple(blocks)))
    items += [GlobalPool(1), Flatten(), Linear("fc", classes)]
    return Seq("", tuple(items))


def _convnext_tiny(classes: int = 1000) -> Seq:
    # Liu et al., CVPR 2022 (ConvNeXt-T: 96/192/384/768 channels, 3/3/9/3 blocks): 4x4/4 stem,
    # blocks of 7x7 depthwise, 1x1 to 4x (GELU), 1x1 back, identity residual; 2x2/2 downsampling.
    # "ConvNeXt-style": the paper's LayerNorm is a batch norm here and its channels-last linear layers
    # are 1x1 convs (the same multiplications); no layer scale or stochastic depth.
    stages: list = []
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    for stage, (dim, depth) in enumerate(zip(dims, depths)):
        stage_items: list = []
        if stage:
            stage_items.append(Conv("downsample", dim, 2, stride=2, pad=0, act=None))
        for i in range(depth):
            body = (Conv("dwconv", dim, 7, groups=0, act=None), Conv("pwconv1", 4 * dim, 1, pad=0, act="gelu"),
                    Conv("pwconv2", dim, 1, pad=0, bn=False, act=None))
            stage_items.append(Residual(str(i), body, (), act=None))
        stages.append(Seq(str(stage), tuple(stage_items)))
    return Seq("", (Conv("stem", 96, 4, stride=4, pad=0, act=None), Seq("stages", tuple(stages)), GlobalPool(1),
                    Flatten(), Linear("head", classes)))


def lenet5_spec(size: int = 32, classes: int = 10) -> Seq:
    """LeNet-5 (LeCun et al. 1998 layer sizes) with ReLU and max pooling, for ``size`` x ``size`` inputs.

    From 20 pixels up: the classic 5x5 kernels (padding 2 below 32 pixels, so that 28x28
    MNIST gives the 16x5x5 map the first fully connected layer expects). Below: 3x3
    kernels with padding 1, so that two conv+pool stages fit (8 -> 4 -> 2). Layer names are
    ``features.0``, ``features.3``, ``classifier.1/3/5`` (the names layer files use).
    The zoo's ``lenet5`` (32x32) and ``lenet5_digits`` (8x8) and the emulator's ``lenet5``
    are this network.
    """
    if not isinstance(size, int) or size < 4:
        raise ApproxDSEError(f"LeNet-5 needs inputs of at least 4x4 pixels, got {size}x{size}")
    if size >= 20:
        k, pad1, pad2 = 5, (2 if size < 32 else 0), 0
    else:
        k, pad1, pad2 = 3, 1, 1
    side = ((size + 2 * pad1 - k + 1) // 2 + 2 * pad2 - k + 1) // 2
    if side < 1:
        raise ApproxDSEError(f"LeNet-5 cannot shrink a {size}x{size} input through two stages")
    return Seq("", (
        Seq("features", (Conv("0", 6, k, pad=pad1, bn=False), Pool("max", 2, 2),
                         Conv("3", 16, k, pad=pad2, bn=False), Pool("max", 2, 2))),
        Seq("classifier", (Flatten(), Linear("1", 120, "relu"), Linear("3", 84, "relu"), Linear("5", classes))),
    ))


def _rows_recurrent(cell: str, classes: int = 10) -> Seq:
    return Seq("", (Recurrent("rnn", cell, 64, layers=2), Linear("fc", classes)))


@dataclass(frozen=True)
class ZooEntry:
    """A zoo network: how to build its spec, its default input and its published size."""

    name: str
    build: Callable[[], Seq]
    input_shape: tuple[int, int, int, int]
    description: str
    published_macs: float | None = None  # multiply-accumulates for the default input
    source: str = ""

    @property
    def family(self) -> str:
        """The architecture family (one paper's design): :data:`FAMILIES`."""
        return FAMILIES.get(self.name, self.name)


#: Zoo network -> architecture family (the unit of the predictors' leave-one-family-out test).
FAMILIES: dict[str, str] = {
    "resnet18": "resnet", "resnet34": "resnet", "resnet50": "resnet",
    "resnet8": "resnet_cifar", "resnet20": "resnet_cifar", "resnet32": "resnet_cifar", "resnet56": "resnet_cifar",
    "vgg16": "vgg", "vgg11": "vgg", "alexnet": "alexnet", "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v3_large": "mobilenet_v3", "efficientnet_b0": "efficientnet", "shufflenet_v2": "shufflenet",
    "shufflenet_v2_x0_5": "shufflenet", "squeezenet1_0": "squeezenet", "squeezenet1_1": "squeezenet",
    "densenet121": "densenet", "regnet_y_400mf": "regnet", "resnext50_32x4d": "resnext",
    "convnext_tiny": "convnext", "lenet5": "lenet", "lenet5_digits": "lenet", "lstm_digits": "recurrent",
    "gru_digits": "recurrent",
}


_IMAGENET = (1, 3, 224, 224)
_CIFAR = (1, 3, 32, 32)
_TORCHVISION = "torchvision model docs, 'GFLOPS' column (counts MACs)"

ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("resnet18", lambda: _resnet_imagenet((2, 2, 2, 2), False), _IMAGENET,
             "ResNet-18 (ImageNet)", 1.82e9, "He et al. 2016, Table 1 (1.8 G); " + _TORCHVISION + " 1.81"),
    ZooEntry("resnet34", lambda: _resnet_imagenet((3, 4, 6, 3), False), _IMAGENET,
             "ResNet-34 (ImageNet)", 3.6e9, "He et al. 2016, Table 1 (3.6 G); " + _TORCHVISION + " 3.66"),
    ZooEntry("resnet50", lambda: _resnet_imagenet((3, 4, 6, 3), True), _IMAGENET,
             "ResNet-50 v1.5 (ImageNet)", 4.1e9, _TORCHVISION + " 4.09 (v1.5; the paper's v1 is 3.8 G)"),
    ZooEntry("vgg16", _vgg16, _IMAGENET, "VGG-16 (ImageNet)", 15.5e9,
             "Sze et al., Proc. IEEE 2017, Table 'CNN models' (15.5 G MACs); " + _TORCHVISION + " 15.47"),
    ZooEntry("alexnet", _alexnet, _IMAGENET, "AlexNet, single-tower variant (ImageNet)", 0.72e9,
             "Sze et al. 2017 (724 M MACs, two-tower original); " + _TORCHVISION + " 0.71"),
    ZooEntry("mobilenet_v2", _mobilenet_v2, _IMAGENET, "MobileNetV2 1.0 (ImageNet)", 300e6,
             "Sandler et al. 2018, Table 4 (300 M multiply-adds)"),
    ZooEntry("vgg11", lambda: _vgg16(config=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))), _IMAGENET,
             "VGG-11 (ImageNet)", 7.6e9, "Simonyan & Zisserman 2015, configuration A; " + _TORCHVISION + " 7.61"),
    ZooEntry("mobilenet_v3_large", _mobilenet_v3_large, _IMAGENET, "MobileNetV3-Large 1.0 (ImageNet)", 219e6,
             "Howard et al. 2019, Table 3 (219 M multiply-adds); " + _TORCHVISION + " 0.22"),
    ZooEntry("efficientnet_b0", _efficientnet_b0, _IMAGENET, "EfficientNet-B0 (ImageNet)", 0.39e9,
             "Tan & Le 2019, Table 2 (0.39 B FLOPS = multiply-adds); " + _TORCHVISION + " 0.39"),
    ZooEntry("shufflenet_v2", _shufflenet_v2, _IMAGENET, "ShuffleNetV2 1.0x (ImageNet)", 146e6,
             "Ma et al. 2018, Table 5 (146 M FLOPs = multiply-adds); " + _TORCHVISION + " 0.14"),
    ZooEntry("shufflenet_v2_x0_5", lambda: _shufflenet_v2((48, 96, 192)), _IMAGENET,
             "ShuffleNetV2 0.5x (ImageNet)", 41e6, "Ma et al. 2018, Table 5 (41 M FLOPs); " + _TORCHVISION + " 0.04"),
    ZooEntry("squeezenet1_0", lambda: _squeezenet("1_0"), _IMAGENET, "SqueezeNet 1.0 (ImageNet)", 0.82e9,
             "Iandola et al. 2016, Table 1 layer sizes; " + _TORCHVISION + " 0.82"),
    ZooEntry("squeezenet1_1", lambda: _squeezenet("1_1"), _IMAGENET, "SqueezeNet 1.1 (ImageNet)", 0.35e9,
             "the SqueezeNet authors' v1.1; " + _TORCHVISION + " 0.35"),
    ZooEntry("densenet121", _densenet, _IMAGENET, "DenseNet-121 (ImageNet)", 2.87e9,
             "Huang et al. 2017, Table 1 (k = 32); " + _TORCHVISION + " 2.83 (its fc and pooling aside)"),
    ZooEntry("regnet_y_400mf", _regnet_y_400mf, _IMAGENET, "RegNetY-400MF (ImageNet)", 0.4e9,
             "Radosavovic et al. 2020 (400 MF); " + _TORCHVISION + " 0.40"),
    ZooEntry("resnext50_32x4d", _resnext50, _IMAGENET, "ResNeXt-50 32x4d (ImageNet)", 4.2e9,
             "Xie et al. 2017, Table 1 (4.2 x 10^9 FLOPs = multiply-adds); " + _TORCHVISION + " 4.23"),
    ZooEntry("convnext_tiny", _convnext_tiny, _IMAGENET, "ConvNeXt-T-style (ImageNet)", 4.5e9,
             "Liu et al. 2022, Table 1 (4.5 G FLOPs = multiply-adds); " + _TORCHVISION + " 4.46"),
    ZooEntry("lenet5", lambda: lenet5_spec(32), (1, 1, 32, 32), "LeNet-5 (1x32x32)", 416_520,
             "LeCun et al. 1998 layer sizes: 117,600 + 240,000 + 48,000 + 10,080 + 840 MACs"),
    ZooEntry("lenet5_digits", lambda: lenet5_spec(8), (1, 1, 8, 8), "LeNet-5-style net for 8x8 digits"),
    ZooEntry("resnet8", lambda: resnet_cifar_spec(8), _CIFAR, "ResNet-8 (CIFAR-10)"),
    ZooEntry("resnet20", lambda: resnet_cifar_spec(20), _CIFAR, "ResNet-20 (CIFAR-10)", 40.6e6,
             "He et al. 2016 sec. 4.2 (0.27 M params); ~41 M MACs"),
    ZooEntry("resnet32", lambda: resnet_cifar_spec(32), _CIFAR, "ResNet-32 (CIFAR-10)", 69.1e6,
             "He et al. 2016 sec. 4.2 (0.46 M params); ~69 M MACs"),
    ZooEntry("resnet56", lambda: resnet_cifar_spec(56), _CIFAR, "ResNet-56 (CIFAR-10)", 125.8e6,
             "He et al. 2016 sec. 4.2 (0.85 M params); ~126 M MACs"),
    ZooEntry("lstm_digits", lambda: _rows_recurrent("LSTM"), (1, 1, 8, 8),
             "2-layer LSTM (64 hidden) over the 8 rows of an 8x8 digit"),
    ZooEntry("gru_digits", lambda: _rows_recurrent("GRU"), (1, 1, 8, 8),
             "2-layer GRU (64 hidden) over the 8 rows of an 8x8 digit"),
)}


def names() -> list[str]:
    """The zoo's network names."""
    return list(ZOO)


def family(name: str) -> str:
    """The architecture family of a zoo network (``resnet``, ``shufflenet``, ...)."""
    return entry(name).family


def families() -> dict[str, list[str]]:
    """Family -> its zoo networks, in zoo order."""
    out: dict[str, list[str]] = {}
    for n in ZOO:
        out.setdefault(ZOO[n].family, []).append(n)
    return out


_ALIASES = {"lenet": "lenet5"}


def _squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _key(name) -> str:
    """Case, ``-`` and ``_`` do not matter: ``MobileNetV2``, ``resnet-18`` work."""
    if not isinstance(name, str):
        return str(name)
    squashed = {_squash(n): n for n in ZOO}
    key = _squash(name)
    return squashed.get(key) or _ALIASES.get(key, name)


def has(name) -> bool:
    """Whether ``name`` (case-insensitive, ``-`` or ``_``) is a zoo network."""
    return isinstance(name, str) and _key(name) in ZOO


def entry(name: str) -> ZooEntry:
    """The zoo entry for ``name``; :class:`UnknownNameError` listing the zoo otherwise."""
    key = _key(name)
    if key not in ZOO:
        raise UnknownNameError(f"unknown network {name!r}; the zoo has: {', '.join(ZOO)}")
    return ZOO[key]


def spec(name: str) -> Seq:
    """The network's spec tree (see the module docstring)."""
    return entry(name).build()


def _input_shape(name: str, input_shape: Sequence[int] | None) -> tuple[int, int, int, int]:
    if input_shape is None:
        return entry(name).input_shape
    return normalize_input_shape(input_shape)


def normalize_input_shape(shape: Sequence[int] | str) -> tuple[int, ...]:
    """``"1,3,224,224"``, ``"3x224x224"``, ``(3, 224, 224)`` -> ``(N, C, H, W)`` (N = 1 if missing).

    Two values are ``(N, features)`` for fully connected inputs; they pass through as given.
    """
    if isinstance(shape, str):
        parts = [p for p in shape.replace("x", ",").replace(" ", ",").split(",") if p]
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            raise ApproxDSEError(f"input shape {shape!r} is not a list of integers such as 1,3,224,224") from None
    else:
        values = tuple(int(v) for v in shape)
    if len(values) == 3:
        values = (1, *values)
    if len(values) not in (2, 4) or any(v <= 0 for v in values):
        raise ApproxDSEError(
            f"input shape {shape!r} must be positive N,C,H,W (or C,H,W, or N,features)")
    return values


# ------------------------------------------------------------ shape arithmetic


def _conv_out(size: int, k: int, stride: int, pad: int, dilation: int = 1) -> int:
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def _pool_out(size: int, op: Pool) -> int:
    if not op.ceil:
        return _conv_out(size, op.k, op.stride, op.pad)
    out = -(-(size + 2 * op.pad - op.k) // op.stride) + 1
    if (out - 1) * op.stride >= size + op.pad:  # PyTorch: the last window must start inside the input
        out -= 1
    return out


def _walk(op: Op, prefix: str, shape: tuple, layers: list[Layer], batch: int) -> tuple:
    """Append ``op``'s conv/linear layers to ``layers``; return its output shape."""
    def join(name: str) -> str:
        return f"{prefix}.{name}" if prefix and name else (name or prefix)

    if isinstance(op, Seq):
        here = join(op.name)
        for item in op.items:
            shape = _walk(item, here, shape, layers, batch)
        return shape
    if isinstance(op, Residual):
        here = join(op.name)
        out = shape
        for item in op.body:
            out = _walk(item, here, out, layers, batch)
        short = shape
        for item in op.shortcut:
            short = _walk(item, here, short, layers, batch)
        if out != short:
            raise ApproxDSEError(f"residual block {here!r}: body gives {out}, shortcut gives {short}")
        return out
    if isinstance(op, Conv):
        if len(shape) != 3:
            raise ApproxDSEError(f"conv {join(op.name)!r} needs a C,H,W input, got {shape}")
        c, h, w = shape
        groups = c if op.groups == 0 else op.groups
        p = _conv_out(h, op.k, op.stride, op.padding, op.dilation)
        q = _conv_out(w, op.k, op.stride, op.padding, op.dilation)
        if p <= 0 or q <= 0:
            raise ApproxDSEError(f"layer {join(op.name)!r}: input {h}x{w} is too small for a {op.k}x{op.k} kernel")
        layers.append(Layer(join(op.name), C=c, M=op.out, P=p, Q=q, R=op.k, S=op.k, N=batch,
                            stride_h=op.stride, stride_w=op.stride, pad_h=op.padding, pad_w=op.padding,
                            dilation_h=op.dilation, dilation_w=op.dilation, groups=groups))
        return (op.out, p, q)
    if isinstance(op, SqueezeExcite):
        here = join(op.name)
        c = shape[0]
        layers.append(Layer(f"{here}.fc1", C=c, M=op.squeeze, P=1, Q=1, R=1, S=1, N=batch))
        layers.append(Layer(f"{here}.fc2", C=op.squeeze, M=c, P=1, Q=1, R=1, S=1, N=batch))
        return shape
    if isinstance(op, Concat):
        here = join(op.name)
        c, h, w = shape
        n = len(op.branches)
        if op.split and c % n:
            raise ApproxDSEError(f"block {here!r}: {c} channels do not split into {n} equal parts")
        part = (c // n, h, w) if op.split else shape
        outs = []
        for branch in op.branches:
            out = part
            for item in branch:
                out = _walk(item, here, out, layers, batch)
            outs.append(out)
        if len({o[1:] for o in outs}) != 1:
            raise ApproxDSEError(f"block {here!r}: branches give different sizes {outs}")
        return (sum(o[0] for o in outs), *outs[0][1:])
    if isinstance(op, Pool):
        c, h, w = shape
        p, q = _pool_out(h, op), _pool_out(w, op)
        if p <= 0 or q <= 0:
            raise ApproxDSEError(f"input {h}x{w} is too small for a {op.k}x{op.k} pooling in {prefix or 'the stem'!r}")
        return (c, p, q)
    if isinstance(op, GlobalPool):
        return (shape[0], op.size, op.size)
    if isinstance(op, Flatten):
        size = 1
        for v in shape:
            size *= v
        return (size,)
    if isinstance(op, Linear):
        if len(shape) != 1:
            raise ApproxDSEError(f"linear layer {join(op.name)!r} needs a flat input, got {shape}")
        layers.append(Layer(join(op.name), C=shape[0], M=op.out, N=batch, kind="fc"))
        return (op.out,)
    if isinstance(op, PadShortcut):
        c, h, w = shape
        return (op.out, -(-h // op.stride), -(-w // op.stride))
    if isinstance(op, Recurrent):
        if len(shape) != 3:
            raise ApproxDSEError(f"recurrent layer {join(op.name)!r} needs a C,H,W input, got {shape}")
        c, h, w = shape
        layers.extend(recurrent_layers(join(op.name), op.cell, c * w, op.hidden, op.layers, op.bidirectional,
                                       steps=h, batch=batch))
        return (op.hidden * (2 if op.bidirectional else 1),)
    raise TypeError(f"unknown spec op {op!r}")


@lru_cache(maxsize=64)
def _workload_cached(key: str, input_shape: tuple[int, ...]) -> Workload:
    layers: list[Layer] = []
    n, *chw = input_shape
    _walk(spec(key), "", tuple(chw), layers, n)
    return Workload(key, tuple(layers))


def workload(name: str, input_shape: Sequence[int] | str | None = None) -> Workload:
    """The zoo network ``name`` as a :class:`Workload` (layers in forward-pass order).

    ``input_shape`` is ``(N, C, H, W)`` (or ``C, H, W``); the default is the network's own
    (:attr:`ZooEntry.input_shape`). The batch ``N`` becomes every layer's ``N``.
    """
    key = entry(name).name
    shape = _input_shape(key, input_shape)
    if len(shape) != 4:
        raise ApproxDSEError(f"network {key!r} takes an N,C,H,W input shape, got {shape}")
    return _workload_cached(key, shape)


# ------------------------------------------------------------------ torch modules


def _torch_classes():
    """torch.nn and the module classes for specs (:mod:`approxdse.networks.torch_modules`).

    Imported on first use, not at module top, so that importing the zoo (and pricing
    a zoo network) stays torch-free.
    """
    from torch import nn

    from approxdse.networks import torch_modules as tm  # lazy: imports torch (see above)

    return nn, tm.activation, tm.SpecSequential, tm.SpecResidual, tm.PadShortcutModule


def _build_branch(ops: tuple, shape: tuple) -> tuple[list, tuple]:
    children: list = []
    for item in ops:
        shape = _build(item, shape, children)
    return children, shape


def _build(op: Op, shape: tuple, into: list[tuple[str, "object"]]) -> tuple:
    """Append (child name, module) pairs for ``op`` to ``into``; return the output shape."""
    nn, activation, SpecSequential, SpecResidual, PadShortcutModule = _torch_classes()
    if isinstance(op, Seq):
        children: list = []
        for item in op.items:
            shape = _build(item, shape, children)
        if op.name:
            seq = SpecSequential()
            for n, m in children:
                seq.add_module(n, m)
            into.append((op.name, seq))
        else:
            into.extend(children)
        return shape
    if isinstance(op, Residual):
        body: list = []
        out = shape
        for item in op.body:
            out = _build(item, out, body)
        short: list = []
        s = shape
        for item in op.shortcut:
            s = _build(item, s, short)
        into.append((op.name, SpecResidual(body, short, op.act)))
        return out
    if isinstance(op, SqueezeExcite):
        from approxdse.networks import torch_modules as tm  # lazy: imports torch (see _torch_classes)

        into.append((op.name, tm.SqueezeExciteModule(shape[0], op.squeeze, op.act, op.gate)))
        return shape
    if isinstance(op, Concat):
        from approxdse.networks import torch_modules as tm  # lazy: imports torch (see _torch_classes)

        n = len(op.branches)
        part = (shape[0] // n, *shape[1:]) if op.split else shape
        branches = [_build_branch(b, part)[0] for b in op.branches]
        into.append((op.name, tm.SpecConcat(branches, op.split, op.shuffle)))
        return _walk(op, "", shape, [], 1)
    if isinstance(op, Conv):
        c = shape[0]
        groups = c if op.groups == 0 else op.groups
        into.append((op.name, nn.Conv2d(c, op.out, op.k, stride=op.stride, padding=op.padding,
                                        dilation=op.dilation, groups=groups, bias=not op.bn)))
        if op.bn:
            into.append((op.name + "_bn", nn.BatchNorm2d(op.out)))
        act = activation(op.act)
        if act is not None:
            into.append((op.name + "_act", act))
        return _walk(op, "", shape, [], 1)
    if isinstance(op, Pool):
        cls = nn.MaxPool2d if op.kind == "max" else nn.AvgPool2d
        into.append((f"pool{len(into)}", cls(op.k, op.stride, op.pad, ceil_mode=op.ceil)))
    elif isinstance(op, GlobalPool):
        into.append((f"pool{len(into)}", nn.AdaptiveAvgPool2d(op.size)))
    elif isinstance(op, Flatten):
        into.append((f"flatten{len(into)}", nn.Flatten()))
    elif isinstance(op, Linear):
        into.append((op.name, nn.Linear(shape[0], op.out)))
        act = activation(op.act)
        if act is not None:
            into.append((op.name + "_act", act))
    elif isinstance(op, PadShortcut):
        into.append(("shortcut", PadShortcutModule(op.out, op.stride)))
    elif isinstance(op, Recurrent):
        from approxdse.networks import torch_modules as tm  # lazy: imports torch (see _torch_classes)

        c, _, w = shape
        extra = {"nonlinearity": "tanh" if op.cell == "RNN_TANH" else "relu"} if op.cell.startswith("RNN") else {}
        rnn = getattr(nn, _RNN_CLASSES[op.cell])(c * w, op.hidden, op.layers, batch_first=True,
                                                 bidirectional=op.bidirectional, **extra)
        into.extend([(f"rows{len(into)}", tm.RowsToSequence()), (op.name, rnn), (f"last{len(into) + 1}", tm.LastStep())])
    return _walk(op, "", shape, [], 1)


_RNN_CLASSES = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def module(name: str, input_shape: Sequence[int] | str | None = None):
    """The zoo network ``name`` as a freshly initialised ``torch.nn.Module``.

    Its conv/linear module paths are the layer names of :func:`workload`
    (``layer1.0.conv1``, ``features.3.dw``), so tracing it gives the same workload.
    Weights are initialised under ``torch.manual_seed(0)`` (deterministic; untrained).
    """
    import torch

    key = entry(name).name
    shape = _input_shape(key, input_shape)
    if len(shape) != 4:
        raise ApproxDSEError(f"network {key!r} takes an N,C,H,W input shape, got {shape}")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = module_from_spec(spec(key), shape[1:])
    return net.eval()


def module_from_spec(op: Op, input_shape: Sequence[int]):
    """A ``torch.nn.Module`` for a spec tree and a C,H,W input, initialised from torch's current
    random state (wrap it in a seed for reproducible weights)."""
    _, _, SpecSequential, _, _ = _torch_classes()
    children: list = []
    _build(op, tuple(input_shape), children)
    net = SpecSequential()
    for n, m in children:
        net.add_module(n, m)
    return net
