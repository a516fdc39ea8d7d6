"""Workloads from ONNX models: the Conv, Gemm and MatMul nodes as loop nests.

``workload_from_onnx("model.onnx")`` reads the model with the ``onnx`` package
(the optional extra ``approxdse[onnx]``), sets the input shape (the model's own,
or ``input_shape``), runs ONNX shape inference (with data propagation, so the
``Shape -> Gather -> Reshape`` chains exporters write resolve) and turns

* ``Conv`` on a 4-D input into a conv layer (kernel from the weight, ``strides``,
  ``pads``, ``dilations``, ``group``, ``auto_pad``; asymmetric pads become their
  rounded-up mean, as tracing does for ``padding="same"``); on a 3-D input into
  a conv with ``P = R = 1`` (as tracing does for ``Conv1d``);
* ``Gemm`` into an ``fc`` layer (``transA``/``transB`` honoured);
* ``MatMul`` with one operand computed from weights alone into an ``fc`` layer
  with ``N`` = the product of the other operand's leading sizes (as tracing
  does for ``Linear`` on ``(..., features)``).

Layer names follow the module names of ``torch.onnx.export``'s node scopes
(``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``), so an exported torch
module gives the same :class:`~approxdse.networks.workload.Workload` as
:func:`approxdse.networks.tracing.workload_from_module` on the module itself;
a node that uses the weights of an earlier one (a module called again) is
``name#2``, as in tracing. Other exporters' node names
are used as they are.

Refused with one clear sentence naming them: compute nodes the energy model has
no loop nest for (``ConvTranspose``, 3-D ``Conv``, ``ConvInteger``,
``QLinearConv``, ``MatMulInteger``, ``QLinearMatMul``, ``Einsum``, ``LSTM``,
``GRU``, ``RNN``, ``Attention``) and control flow (``If``, ``Loop``, ``Scan``).
A ``MatMul``/``Gemm`` of two activations (attention scores) has no weights to
hold in an accelerator's weight buffers; it is skipped with a warning, as
tracing skips ``torch.matmul``. Element-wise, pooling, normalisation and shape
nodes cost nothing in the model, as in tracing.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Sequence

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer, Workload

#: Compute nodes without a loop nest in the energy model.
UNSUPPORTED_OPS = frozenset({
    "ConvTranspose", "ConvInteger", "QLinearConv", "MatMulInteger", "QLinearMatMul", "Einsum",
    "LSTM", "GRU", "RNN", "Attention", "MultiHeadAttention", "DeformConv",
})
#: Control flow: subgraphs whose trip counts shape inference cannot know.
CONTROL_FLOW_OPS = frozenset({"If", "Loop", "Scan"})


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ApproxDSEError(
            "reading ONNX models needs the onnx package; install it with pip install 'approxdse[onnx]'"
        ) from None
    return onnx


def layer_name(node_name: str, fallback: str) -> str:
    """The module name of a ``torch.onnx.export`` node scope, else the node's own name.

    ``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``; ``/fc/Gemm_1`` -> ``fc``.
    """
    parts = [p for p in node_name.split("/") if p]
    if not node_name.startswith("/") or len(parts) < 2:
        return node_name or fallback
    name = ""
    for part in parts[:-1]:
        name = part if (not name or part.startswith(name + ".")) else f"{name}.{part}"
    return name


def _attrs(node) -> dict[str, Any]:
    onnx = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _dims(value_info) -> tuple | None:
    """The shape of a value as a tuple (ints, or None for unknown sizes); None if untyped."""
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim)


def _set_input_shape(model, input_shape: Sequence[int] | None, source: str) -> tuple[str, tuple[int, ...]]:
    """Fix the data input's shape in ``model`` (in place); return its name and shape."""
    graph = model.graph
    params = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in params]
    if not inputs:
        raise ApproxDSEError(f"ONNX model {source} has no input")
    data = inputs[0]
    declared = _dims(data) or ()
    if input_shape is not None:
        shape = tuple(int(v) for v in input_shape)
        if declared and len(declared) != len(shape):
            raise ApproxDSEError(
                f"--input-shape {','.join(map(str, shape))} has {len(shape)} sizes but the input "
                f"{data.name!r} of {source} has {len(declared)}")
    else:
        if not declared:
            raise ApproxDSEError(f"the input {data.name!r} of {source} has no declared shape; give --input-shape")
        named = [d.dim_param or "?" for d in data.type.tensor_type.shape.dim]
        unknown = [named[i] for i, v in enumerate(declared) if v is None and i > 0]
        if unknown:
            raise ApproxDSEError(
                f"the input {data.name!r} of {source} has symbolic sizes ({', '.join(unknown)}); "
                "give --input-shape N,C,H,W")
        shape = tuple(1 if (v is None or i == 0 and v == 0) else int(v) for i, v in enumerate(declared))
    if not shape or any(v <= 0 for v in shape):
        raise ApproxDSEError(f"input shape {shape} must be non-empty and positive")
    dims = data.type.tensor_type.shape.dim
    del dims[:]
    for v in shape:
        dims.add().dim_value = v
    # Shapes inferred for another input size would contradict the new one.
    del graph.value_info[:]
    for out in graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    return data.name, shape


def _conv_out(size: int, k: int, stride: int, pad_total: int, dilation: int) -> int:
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def _conv_layer(node, name: str, x: tuple, w: tuple, y: tuple | None, bits: dict) -> Layer:
    a = _attrs(node)
    spatial = len(x) - 2
    kernel = tuple(a.get("kernel_shape") or w[2:])
    strides = tuple(a.get("strides") or (1,) * spatial)
    dil = tuple(a.get("dilations") or (1,) * spatial)
    groups = int(a.get("group", 1))
    auto_pad = a.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    pads = tuple(a.get("pads") or (0,) * (2 * spatial))
    outs, pad = [], []
    for i in range(spatial):
        size, k, s, d = x[2 + i], kernel[i], strides[i], dil[i]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-size // s)
            total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
        elif auto_pad == "VALID":
            total = 0
            out = _conv_out(size, k, s, 0, d)
        else:
            total = pads[i] + pads[i + spatial]
            out = _conv_out(size, k, s, total, d)
        if y is not None and len(y) == len(x) and y[2 + i]:
            out = y[2 + i]
        outs.append(int(out))
        pad.append(-(-int(total) // 2))
    n, c = int(x[0]), int(x[1])
    m = int(w[0])
    if spatial == 2:
        return Layer(name, C=c, M=m, P=outs[0], Q=outs[1], R=int(kernel[0]), S=int(kernel[1]), N=n,
                     stride_h=int(strides[0]), stride_w=int(strides[1]), pad_h=pad[0], pad_w=pad[1],
                     dilation_h=int(dil[0]), dilation_w=int(dil[1]), groups=groups, **bits)
    return Layer(name, C=c, M=m, P=1, Q=outs[0], R=1, S=int(kernel[0]), N=n, stride_w=int(strides[0]),
                 pad_w=pad[0], dilation_w=int(dil[0]), groups=groups, **bits)


def _evaluated_shapes(model, source: str) -> dict[str, tuple[int, ...]]:
    """Every node output's shape from one run of ONNX's reference evaluator on zeros.

    The fallback where static inference leaves a size open, e.g. a ``Pad`` whose
    pads are computed from ``Shape`` (ResNet option-A shortcuts).
    """
    import numpy as np
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    params = {init.name for init in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in params:
            continue
        dims = _dims(vi)
        if not dims or None in dims:
            raise ApproxDSEError(f"the input {vi.name!r} of {source} has no complete shape; give --input-shape")
        feeds[vi.name] = np.zeros(dims, dtype=helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
    names = [o for node in model.graph.node for o in node.output if o]
    try:
        values = ReferenceEvaluator(model).run(names, feeds)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApproxDSEError(f"ONNX shape inference left sizes open in {source} and running it failed: {first}") from None
    return {n: tuple(int(d) for d in np.shape(v)) for n, v in zip(names, values) if v is not None}


def workload_from_onnx(path: str | os.PathLike, input_shape: Sequence[int] | None = None,
                       name: str | None = None, *, input_bits: int = 8, weight_bits: int = 8,
                       output_bits: int = 8) -> Workload:
    """The Conv, Gemm and MatMul nodes of the ONNX model at ``path`` as a :class:`Workload`.

    ``input_shape`` replaces the data input's declared shape (its first size is
    the layers' ``N``); without it a symbolic batch size is 1 and other symbolic
    sizes are an error. See the module docstring for what each node becomes.
    """
    onnx = _onnx()
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ApproxDSEError(f"ONNX model {source} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # a protobuf DecodeError, a missing external-data file...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApproxDSEError(f"cannot read ONNX model {source}: {first}") from None
    graph = model.graph
    refused = sorted({n.op_type for n in graph.node if n.op_type in UNSUPPORTED_OPS | CONTROL_FLOW_OPS})
    conv3d = [n for n in graph.node if n.op_type == "Conv" and len(_attrs(n).get("kernel_shape") or ()) > 2]
    if conv3d:
        refused.append("3-D Conv")
    if refused:
        raise ApproxDSEError(
            f"ONNX model {source} has nodes the energy model does not support: {', '.join(refused)}")
    data_name, _ = _set_input_shape(model, input_shape, source)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApproxDSEError(f"ONNX shape inference failed on {source}: {first}") from None
    g = inferred.graph
    shapes: dict[str, tuple | None] = {}
    for vi in (*g.input, *g.value_info, *g.output):
        shapes[vi.name] = _dims(vi)
    for init in g.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)

    needed = [v for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul") for v in n.input[:2]]
    if any(not shapes.get(v) or None in shapes[v] for v in needed):
        shapes.update(_evaluated_shapes(inferred, source))

    # Values computed from the data input are activations; the rest (initializers,
    # constants, extra parameter inputs) are weights.
    dynamic = {data_name}
    for node in g.node:
        if any(i in dynamic for i in node.input if i):
            dynamic.update(o for o in node.output if o)

    def shape_of(value: str, node, what: str) -> tuple[int, ...]:
        dims = shapes.get(value)
        if not dims or any(v is None for v in dims):
            raise ApproxDSEError(
                f"ONNX shape inference could not size the {what} {value!r} of node "
                f"{node.name or node.op_type!r} in {source}")
        return tuple(int(v) for v in dims)

    bits = dict(input_bits=input_bits, weight_bits=weight_bits, output_bits=output_bits)
    layers: list[Layer] = []
    calls: dict[str, int] = {}
    first_user: dict[str, str] = {}  # weight value -> the layer name of its first node
    skipped: list[str] = []

    def unique(base: str) -> str:
        count = calls.get(base, 0) + 1
        calls[base] = count
        return base if count == 1 else f"{base}#{count}"

    for index, node in enumerate(g.node):
        op = node.op_type
        if op not in ("Conv", "Gemm", "MatMul"):
            continue
        base = layer_name(node.name, f"{op.lower()}{index}")
        # A second call of a module uses the same weight tensor (the exporter names its scope head_1).
        weight = next((v for v in node.input[:2] if v and v not in dynamic), None)
        if weight is not None:
            base = first_user.setdefault(weight, base)
        if op == "Conv":
            x = shape_of(node.input[0], node, "input")
            w = shape_of(node.input[1], node, "weight")
            if len(x) not in (3, 4):
                raise ApproxDSEError(f"Conv node {node.name or index!r} in {source} has a {len(x)}-D input; "
                                     "only 1-D and 2-D convolutions are supported")
            y = shapes.get(node.output[0])
            layers.append(_conv_layer(node, unique(base), x, w, y, bits))
            continue
        a_dyn, b_dyn = node.input[0] in dynamic, node.input[1] in dynamic
        if a_dyn and b_dyn:
            skipped.append(node.name or f"{op} #{index}")
            continue
        if not a_dyn and not b_dyn:
            continue  # constant folding the exporter left behind: no run-time work
        a = shape_of(node.input[0], node, "first operand")
        b = shape_of(node.input[1], node, "second operand")
        if op == "Gemm":
            attrs = _attrs(node)
            a2 = a[::-1] if attrs.get("transA", 0) else a
            b2 = b[::-1] if attrs.get("transB", 0) else b
            rows, k, m = (a2[0], a2[1], b2[1]) if a_dyn else (b2[1], b2[0], a2[0])
            layers.append(Layer(unique(base), C=int(k), M=int(m), N=max(int(rows), 1), kind="fc", **bits))
            continue
        # MatMul: activations (..., K) x weights (K, M), or weights (M, K) x activations (..., K, cols)
        if a_dyn:
            if len(b) != 2:
                raise ApproxDSEError(f"MatMul node {node.name or index!r} in {source} has {len(b)}-D weights; "
                                     "only 2-D weight matrices are supported")
            k, m = b
            rows = 1
            for v in a[:-1]:
                rows *= v
        else:
            if len(a) != 2:
                raise ApproxDSEError(f"MatMul node {node.name or index!r} in {source} has {len(a)}-D weights; "
                                     "only 2-D weight matrices are supported")
            m, k = a
            rows = 1
            for i, v in enumerate(b):
                if i != len(b) - 2:
                    rows *= v
        layers.append(Layer(unique(base), C=int(k), M=int(m), N=max(int(rows), 1), kind="fc", **bits))
    if skipped:
        warnings.warn(
            f"{source}: {len(skipped)} MatMul/Gemm node(s) multiply two activations and are not costed "
            f"(no weights): {', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}", stacklevel=2)
    if not layers:
        raise ApproxDSEError(f"ONNX model {source} has no Conv, Gemm or MatMul node with weights")
    return Workload(name or path.stem, tuple(layers))
