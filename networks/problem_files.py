"""Timeloop problem files (``problem: {instance: ..., shape: ...}``) to and from layers.

Reads Timeloop v0.4 problem files (``problem.instance``), the older layout with the
dimensions directly under ``problem``, and the templated files of the exercises'
``layer_shapes/`` folders (a ``{{include_text(...)}}`` line and a ``<<<: *problem_base``
merge, which are dropped: the default CNN-layer shape is assumed).

Keys of ``instance``: ``C M N P Q R S`` (missing ones are 1, as in Timeloop),
``Hstride Wstride Hdilation Wdilation`` (default 1), ``Hpad Wpad H W`` (optional;
``H``/``W`` are checked against the output size), ``G`` (grouped-CNN shape: ``C``
and ``M`` are per group).

Timeloop's CNN-layer projection pairs ``P``/``R`` with ``Wstride``/``Wdilation`` and
``Q``/``S`` with ``Hstride``/``Hdilation``; a :class:`~approxdse.networks.workload.Layer`
pairs ``P``/``R`` with ``stride_h``/``dilation_h``. The loader keeps Timeloop's pairs
(``stride_h = Wstride``...), so the loop nest is the one Timeloop evaluates.

Unknown keys are never silently ignored (Timeloop ignores them, which is how the
``layer_shapes/resnet18`` files, spelling the strides ``HStride``/``WStride``, end up
evaluated at stride 1). A key that differs from a known one only in letter case is
read as that key with a :class:`ProblemFileWarning` (``strict=True`` makes it an
error); any other unknown key is an error naming the file and the key.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterable

from approxdse.networks.workload import Layer, Workload
from approxdse.core.errors import ApproxDSEError
from approxdse.core.atomic_files import atomic_write_text
from approxdse.core.yaml_files import parse_yaml, read_text_file

DIMENSIONS = ("C", "M", "N", "P", "Q", "R", "S")
COEFFICIENTS = ("Hstride", "Wstride", "Hdilation", "Wdilation")
OPTIONAL = ("Hpad", "Wpad", "H", "W", "G")
KNOWN = DIMENSIONS + COEFFICIENTS + OPTIONAL
_CONV_SHAPE_DIMS = set(DIMENSIONS) | {"G"}


class ProblemFileWarning(UserWarning):
    """A problem file key that Timeloop would ignore but whose intent is clear."""


def _strip_templating(text: str) -> str:
    """Drop the exercises' Jinja include lines and YAML merge-of-an-include lines."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            continue
        if re.match(r"^<<<?:\s*\*", stripped):
            continue
        lines.append(line)
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict:
    text = read_text_file(path, "problem file")
    data = parse_yaml(_strip_templating(text), "problem file", path)
    if not isinstance(data, dict) or not isinstance(data.get("problem"), dict):
        raise ApproxDSEError(f"problem file {str(path)!r} has no 'problem' mapping")
    return data["problem"]


def _instance(problem: dict, source: str) -> dict:
    if "instance" in problem:
        instance = problem["instance"]
        if not isinstance(instance, dict):
            raise ApproxDSEError(f"{source}: problem.instance must be a mapping")
        return dict(instance)
    # the older layout: dimensions beside 'shape'
    return {k: v for k, v in problem.items() if k not in ("shape", "version")}


def _check_shape(problem: dict, source: str) -> None:
    shape = problem.get("shape")
    if shape is None or isinstance(shape, str):
        return  # default / named CNN-layer shape
    if not isinstance(shape, dict):
        raise ApproxDSEError(f"{source}: problem.shape must be a mapping or a name")
    dims = shape.get("dimensions")
    if dims is not None and not set(dims) <= _CONV_SHAPE_DIMS:
        extra = sorted(set(dims) - _CONV_SHAPE_DIMS)
        raise ApproxDSEError(
            f"{source}: problem.shape has dimensions {', '.join(map(str, extra))}, "
            f"but only CNN-layer shapes ({', '.join(sorted(_CONV_SHAPE_DIMS))}) are supported")


def layer_from_problem(problem: dict, name: str, *, strict: bool = False, source: str | None = None,
                       **bits: int) -> Layer:
    """A :class:`Layer` from the ``problem`` mapping of a Timeloop problem file."""
    source = source or name
    _check_shape(problem, source)
    raw = _instance(problem, source)
    values: dict[str, int] = {}
    by_lower = {k.lower(): k for k in KNOWN}
    for key, value in raw.items():
        known = key if key in KNOWN else None
        if known is None:
            near = by_lower.get(str(key).lower())
            if near is None:
                raise ApproxDSEError(
                    f"{source}: unknown key problem.instance.{key}; known: {', '.join(KNOWN)}")
            if strict:
                raise ApproxDSEError(
                    f"{source}: unknown key problem.instance.{key} (Timeloop ignores it; did you mean {near}?)")
            warnings.warn(
                f"{source}: problem.instance.{key} read as {near} (Timeloop itself would ignore "
                f"{key!r} and run this layer with {near}=1)", ProblemFileWarning, stacklevel=3)
            known = near
        if known in values:
            raise ApproxDSEError(f"{source}: problem.instance gives {known} twice")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApproxDSEError(f"{source}: problem.instance.{key} must be an integer, got {value!r}")
        values[known] = value
    for key, value in values.items():
        if value <= 0 and key not in ("Hpad", "Wpad"):
            raise ApproxDSEError(f"{source}: problem.instance.{key} must be positive, got {value}")
        if value < 0:
            raise ApproxDSEError(f"{source}: problem.instance.{key} must not be negative, got {value}")
    g = values.get("G", 1)
    d = {k: values.get(k, 1) for k in DIMENSIONS}
    pointwise = d["P"] == d["Q"] == d["R"] == d["S"] == 1
    layer = Layer(
        name, C=d["C"] * g, M=d["M"] * g, P=d["P"], Q=d["Q"], R=d["R"], S=d["S"], N=d["N"],
        stride_h=values.get("Wstride", 1), stride_w=values.get("Hstride", 1),
        pad_h=values.get("Wpad", 0), pad_w=values.get("Hpad", 0),
        dilation_h=values.get("Wdilation", 1), dilation_w=values.get("Hdilation", 1),
        groups=g, kind="fc" if pointwise else "conv",
        **bits,
    )
    # Timeloop's W runs along P/R (stride_h here), its H along Q/S (stride_w here)
    for key, size, k, stride, dilation in (("W", layer.P, layer.R, layer.stride_h, layer.dilation_h),
                                           ("H", layer.Q, layer.S, layer.stride_w, layer.dilation_w)):
        if key not in values:
            continue
        extent = (size - 1) * stride + dilation * (k - 1) + 1
        padded = values[key] + 2 * values.get(key + "pad", 0)
        if not 0 <= padded - extent < stride:
            raise ApproxDSEError(
                f"{source}: problem.instance.{key}={values[key]} (padded {padded}) does not give the "
                f"output size {size} with kernel {k} and stride {stride}")
    return layer


def load_problem(path: str | Path, name: str | None = None, *, strict: bool = False, **bits: int) -> Layer:
    """Read one Timeloop problem file as a :class:`Layer` (named after the file unless ``name``)."""
    path = Path(path)
    problem = _read_yaml(path)
    return layer_from_problem(problem, name or path.stem, strict=strict, source=str(path), **bits)


def _problem_paths(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise ApproxDSEError(f"folder {str(path)!r} has no .yaml problem files")
        return files
    if not path.exists():
        raise ApproxDSEError(f"problem file {str(path)!r} does not exist")
    return [path]


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


def load_problems(paths: str | Path | Iterable[str | Path], name: str | None = None, *,
                  strict: bool = False, **bits: int) -> Workload:
    """A :class:`Workload` from problem files: one file, a folder of them (in natural
    order: ``layer2`` before ``layer10``), or a list of files."""
    if isinstance(paths, (str, Path)):
        root = Path(paths)
        files = sorted(_problem_paths(root), key=_natural_key)
        default_name = root.name if root.is_dir() else root.stem
    else:
        files = [Path(p) for p in paths]
        default_name = "problems"
    layers = [load_problem(f, strict=strict, **bits) for f in files]
    return Workload(name or default_name, tuple(layers))


def is_problem_file(path: str | Path) -> bool:
    """Whether ``path`` looks like a Timeloop problem file (or a folder of them)."""
    p = Path(path)
    if p.is_dir():
        return any(c.suffix in (".yaml", ".yml") for c in p.iterdir())
    return p.suffix in (".yaml", ".yml") and p.is_file()


def problem_dict(layer: Layer) -> dict:
    """``layer`` as a Timeloop v0.4 problem (``{"problem": {...}}``), CNN-layer shape.

    Grouped layers use the grouped-CNN shape with a ``G`` dimension; non-zero padding is
    written as ``Wpad``/``Hpad`` (as the exercises' default problem does).
    """
    instance = {"C": layer.C_per_group, "M": layer.M_per_group, "N": layer.N, "P": layer.P, "Q": layer.Q,
                "R": layer.R, "S": layer.S, "Wstride": layer.stride_h, "Hstride": layer.stride_w,
                "Wdilation": layer.dilation_h, "Hdilation": layer.dilation_w}
    if layer.pad_h or layer.pad_w:  # as the exercises' default problem spells padding
        instance["Wpad"], instance["Hpad"] = layer.pad_h, layer.pad_w
    dims = ["C", "M", "R", "S", "N", "P", "Q"]
    weights = [[["C"]], [["M"]], [["R"]], [["S"]]]
    inputs = [[["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]], [["S", "Hdilation"], ["Q", "Hstride"]]]
    outputs = [[["N"]], [["M"]], [["Q"]], [["P"]]]
    if layer.groups > 1:
        instance["G"] = layer.groups
        dims.append("G")
        for proj in (weights, inputs, outputs):
            proj.insert(0, [["G"]])
    return {"problem": {
        "version": 0.4,
        "instance": instance,
        "shape": {
            "name": "CNN_Layer" if layer.groups == 1 else "Grouped_CNN_Layer",
            "dimensions": dims,
            "coefficients": [{"name": c, "default": 1} for c in ("Wstride", "Hstride", "Wdilation", "Hdilation")],
            "data_spaces": [
                {"name": "Weights", "projection": weights},
                {"name": "Inputs", "projection": inputs},
                {"name": "Outputs", "projection": outputs, "read_write": True},
            ],
        },
    }}


def write_problem(layer: Layer, path: str | Path) -> Path:
    """Write ``layer`` as a Timeloop problem file (atomically)."""
    import yaml

    return atomic_write_text(path, yaml.safe_dump(problem_dict(layer), sort_keys=False))
