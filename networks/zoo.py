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
class Recurrent:
    """A C,H,W input read as H time steps of C*W features by a stacked LSTM/GRU/RNN (batch first);
    its last time step's output (hidden x directions features) goes on."""

    name: str
    cell: str  # "LSTM", "GRU", "RNN_TANH", "RNN_RELU"
    hidden: int
    layers: int = 1
    bidirectional: bool = False


Op = Union[Conv, Pool, GlobalPool, Flatten, Linear, PadShortcut, Residual, Recurrent, Seq]

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


def _vgg16(classes: int = 1000) -> Seq:
    items: list = []
    for block, (n, width) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), start=1):
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
    if isinstance(op, Pool):
        c, h, w = shape
        p, q = _conv_out(h, op.k, op.stride, op.pad), _conv_out(w, op.k, op.stride, op.pad)
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
        into.append((f"pool{len(into)}", cls(op.k, op.stride, op.pad)))
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
