"""The torch module classes behind the zoo's specs and the search's genomes.

Module-level classes, so that a zoo network (:func:`approxdse.networks.zoo.module`)
or a generated one (:meth:`approxdse.networks.genome.Genome.to_module`) pickles,
deep-copies and crosses process boundaries (multiprocessing spawn). This module
imports torch; the zoo and the genome import it only when a module is built, so
that workloads and ``approxdse --help`` stay torch-free. It needs nothing else
from approxdse: the zoo and the genome hand it what they describe.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def activation(name: str | None) -> nn.Module | None:
    """The activation module a spec names (None: no activation)."""
    return {None: None, "relu": nn.ReLU(inplace=False), "relu6": nn.ReLU6(), "tanh": nn.Tanh(),
            "hardswish": nn.Hardswish(), "swish": nn.SiLU(), "gelu": nn.GELU(), "sigmoid": nn.Sigmoid(),
            "hardsigmoid": nn.Hardsigmoid()}[name]


# --------------------------------------------------------------------------- zoo specs
class SpecSequential(nn.Module):
    """Children run in registration order."""

    def forward(self, x):
        for child in self.children():
            x = child(x)
        return x


class SpecResidual(nn.Module):
    """``act(body(x) + shortcut(x))``; the body runs first, as torchvision's blocks do."""

    def __init__(self, body: list[tuple[str, nn.Module]], shortcut: list[tuple[str, nn.Module]],
                 act: str | None):
        super().__init__()
        self._body, self._shortcut = [n for n, _ in body], [n for n, _ in shortcut]
        for n, m in body + shortcut:
            self.add_module(n, m)
        self.act = activation(act)

    def forward(self, x):
        out = x
        for n in self._body:
            out = getattr(self, n)(out)
        short = x
        for n in self._shortcut:
            short = getattr(self, n)(short)
        out = out + short
        return self.act(out) if self.act is not None else out


class SqueezeExciteModule(nn.Module):
    """``x * gate(fc2(act(fc1(avgpool(x)))))`` with 1x1 convs (the zoo's ``SqueezeExcite``)."""

    def __init__(self, channels: int, squeeze: int, act: str, gate: str):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act, self.gate = activation(act), activation(gate)

    def forward(self, x):
        s = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class SpecConcat(nn.Module):
    """Branches on the input (or on equal channel slices of it), concatenated on channels, then
    optionally a channel shuffle (the zoo's ``Concat``); an empty branch passes its input on."""

    def __init__(self, branches: list[list[tuple[str, nn.Module]]], split: bool, shuffle: int):
        super().__init__()
        self._branches = [[n for n, _ in b] for b in branches]
        self.split, self.shuffle = split, shuffle
        for b in branches:
            for n, m in b:
                self.add_module(n, m)

    def forward(self, x):
        parts = torch.chunk(x, len(self._branches), dim=1) if self.split else [x] * len(self._branches)
        outs = []
        for names, part in zip(self._branches, parts):
            for n in names:
                part = getattr(self, n)(part)
            outs.append(part)
        out = torch.cat(outs, dim=1)
        if self.shuffle:
            n, c, h, w = out.shape
            out = out.view(n, self.shuffle, c // self.shuffle, h, w).transpose(1, 2).reshape(n, c, h, w)
        return out


class PadShortcutModule(nn.Module):
    """Option-A shortcut: subsample and zero-pad the channels."""

    def __init__(self, out: int, stride: int):
        super().__init__()
        self.out, self.stride = out, stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        missing = self.out - x.shape[1]
        if missing > 0:
            before = missing // 2
            x = torch.nn.functional.pad(x, (0, 0, 0, 0, before, missing - before))
        return x


# --------------------------------------------------------------------------- genomes
def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)


class Block(nn.Module):
    """One :class:`~approxdse.networks.genome.BlockGene` as a module; attribute names match
    the workload's layer names."""

    def __init__(self, gene: Any, in_channels: int) -> None:
        super().__init__()
        self.kind = gene.kind
        self.identity = gene.has_identity(in_channels)
        k, s, out = gene.kernel, gene.stride, gene.out_channels
        self.act = nn.ReLU(inplace=False)
        self.expand = None
        if gene.kind == "plain":
            self.conv, self.bn = _conv(in_channels, out, k, s), _bn(out)
        elif gene.kind == "residual":
            self.conv1, self.bn1 = _conv(in_channels, out, k, s), _bn(out)
            self.conv2, self.bn2 = _conv(out, out, k), _bn(out)
        elif gene.kind == "bottleneck":
            mid = gene.mid_channels
            self.conv1, self.bn1 = _conv(in_channels, mid, 1), _bn(mid)
            self.conv2, self.bn2 = _conv(mid, mid, k, s), _bn(mid)
            self.conv3, self.bn3 = _conv(mid, out, 1), _bn(out)
        else:
            hidden = in_channels * gene.expansion
            if gene.expansion > 1:
                self.expand, self.expand_bn = _conv(in_channels, hidden, 1), _bn(hidden)
            self.depthwise, self.depthwise_bn = _conv(hidden, hidden, k, s, groups=hidden), _bn(hidden)
            self.pointwise, self.pointwise_bn = _conv(hidden, out, 1), _bn(out)
            # MobileNetV2's linear bottleneck: no ReLU after the projection.
            self.linear_out = gene.expansion > 1
        self.shortcut = None
        if gene.has_projection(in_channels):
            self.shortcut, self.shortcut_bn = _conv(in_channels, out, 1, s), _bn(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = self.act
        if self.kind == "plain":
            return act(self.bn(self.conv(x)))
        if self.kind == "residual":
            y = self.bn2(self.conv2(act(self.bn1(self.conv1(x)))))
        elif self.kind == "bottleneck":
            y = act(self.bn1(self.conv1(x)))
            y = act(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
        else:
            y = x
            if self.expand is not None:
                y = act(self.expand_bn(self.expand(y)))
            y = act(self.depthwise_bn(self.depthwise(y)))
            y = self.pointwise_bn(self.pointwise(y))
            if self.identity:
                return y + x
            return y if self.linear_out else act(y)
        if self.shortcut is not None:
            return act(y + self.shortcut_bn(self.shortcut(x)))
        return act(y + x)


class GenomeNet(nn.Module):
    """The network a :class:`~approxdse.networks.genome.Genome` describes: ``stem``, ``stages``,
    GAP, ``classifier``."""

    def __init__(self, genome: Any) -> None:
        super().__init__()
        self.genome = genome
        c = genome.input_shape[0]
        self.stem = _conv(c, genome.stem_channels, genome.stem_kernel, genome.stem_stride)
        self.stem_bn = _bn(genome.stem_channels)
        self.act = nn.ReLU(inplace=False)
        c = genome.stem_channels
        stages = []
        for stage in genome.stages:
            blocks = []
            for gene in stage.blocks:
                blocks.append(Block(gene, c))
                c = gene.out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, genome.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.stem_bn(self.stem(x)))
        x = self.stages(x)
        return self.classifier(torch.flatten(self.pool(x), 1))


class RowsToSequence(nn.Module):
    """[N, C, H, W] -> [N, H, C*W]: each image row is one time step (the zoo's ``Recurrent`` op)."""

    def forward(self, x):
        n, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(n, h, c * w)


class LastStep(nn.Module):
    """A recurrent module's ``(output, state)`` -> the output's last time step."""

    def forward(self, result):
        return result[0][:, -1]
