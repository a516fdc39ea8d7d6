"""Workloads from any ``torch.nn.Module`` by one traced forward pass.

Forward hooks on every ``Conv1d``/``Conv2d`` and ``Linear`` module (and their
subclasses), and on leaf modules that look like them (the emulator's
``ApproxConv2d``/``ApproxLinear``: a 4-D ``weight`` with ``kernel_size``,
``stride``, ``padding``, ``dilation``, ``groups``; or a 2-D ``weight`` with
``in_features``/``out_features``), record each call's input and output sizes
together with the module's stride, padding, dilation and groups. A layer that
carries a ``multiplier`` (an approximate layer) is reported in
:attr:`Trace.multipliers`, so :func:`accelerators.estimate.estimate_energy` costs
an approximated network with its own per-layer multipliers. One forward pass of zeros of the given input shape, under
``torch.no_grad()`` and in eval mode, gives every layer in execution order.

* A module called more than once (shared weights, a loop) gives one layer per
  call, named ``name#2``, ``name#3``...
* ``Linear`` on an input of shape ``(..., features)`` becomes an ``fc`` layer with
  ``N`` = the product of the leading sizes (batch x tokens).
* ``Conv1d`` becomes a conv with ``P = R = 1`` (the length runs along Q and S).
* ``padding="same"`` is resolved from the traced sizes.
* Recurrent modules (``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` and the emulator's
  ``ApproxLSTM``/``ApproxGRU``/``ApproxRNN``, recognised by ``recurrent_cell``)
  become their matmuls per time step: for layer ``k`` (direction suffix
  ``_reverse``) and step ``t``, ``NAME.l{k}.ih.t{t}`` (``W_ih x_t``: C = input
  size, M = gates x hidden) and ``NAME.l{k}.hh.t{t}`` (``W_hh h_{t-1}``: C =
  hidden), ``fc`` layers with N = the batch (see :func:`recurrent_layers`).
* Transposed and 3-D convolutions, RNN cells and LSTMs with ``proj_size`` are
  refused with a clear error.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(),
...                           torch.nn.Linear(8 * 16 * 16, 10))
>>> [l.describe() for l in workload_from_module(net, (1, 3, 16, 16), name="tiny")]
['conv 3->8 3x3 16x16', 'fc 2048->10']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from approxdse.networks.workload import Layer, Workload
from approxdse.core.errors import ApproxDSEError


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1])) if len(value) else (0, 0)
    return int(value), int(value)


def _resolved_pad(size_in: int, size_out: int, k: int, stride: int, dilation: int) -> int:
    """Symmetric padding that gives ``size_out`` (rounded up for 'same' with even kernels)."""
    total = (size_out - 1) * stride + dilation * (k - 1) + 1 - size_in
    return max(0, -(-total // 2))


@dataclass(frozen=True)
class Trace:
    """What one traced forward pass found: the workload and any per-layer multipliers."""

    workload: Workload
    multipliers: dict[str, Any] = field(default_factory=dict)  # layer name -> Multiplier


#: Gate blocks (rows of W_ih / W_hh per hidden unit) of each recurrent cell type.
RECURRENT_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _recurrent_cell(mod, nn) -> str | None:
    if isinstance(mod, nn.RNNBase):
        return mod.mode
    cell = getattr(mod, "recurrent_cell", None)
    return cell if cell in RECURRENT_GATES else None


def recurrent_layers(name: str, cell: str, input_size: int, hidden_size: int, num_layers: int,
                     bidirectional: bool, steps: int, batch: int, **bits) -> list[Layer]:
    """The matmuls per time step of a recurrent module as ``fc`` layers (the zoo and tracing share it).

    Per stacked layer ``k`` and direction, per step ``t``: ``NAME.l{k}.ih.t{t}``
    (C = the layer's input size, M = gates x hidden, N = batch) and
    ``NAME.l{k}.hh.t{t}`` (C = hidden). The element-wise gate arithmetic is not
    a multiplication of the MAC array and is not listed.
    """
    if cell not in RECURRENT_GATES:
        raise ApproxDSEError(f"{name}: unknown recurrent cell {cell!r}; known: {', '.join(RECURRENT_GATES)}")
    rows = RECURRENT_GATES[cell] * hidden_size
    dirs = ("", "_reverse") if bidirectional else ("",)
    out = []
    for k in range(num_layers):
        inputs = input_size if k == 0 else hidden_size * len(dirs)
        for sfx in dirs:
            for t in range(steps):
                out.append(Layer(f"{name}.l{k}{sfx}.ih.t{t}", C=inputs, M=rows, N=batch, kind="fc", **bits))
                out.append(Layer(f"{name}.l{k}{sfx}.hh.t{t}", C=hidden_size, M=rows, N=batch, kind="fc", **bits))
    return out


def _kind(mod, nn) -> str | None:
    """``"conv2d"``, ``"conv1d"``, ``"linear"``, ``"recurrent"``, ``"refused"`` or None (not a compute layer)."""
    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Conv3d, nn.RNNCellBase)):
        return "refused"
    if _recurrent_cell(mod, nn) is not None:
        return "refused" if getattr(mod, "proj_size", 0) else "recurrent"
    if isinstance(mod, nn.Conv2d):
        return "conv2d"
    if isinstance(mod, nn.Conv1d):
        return "conv1d"
    if isinstance(mod, nn.Linear):
        return "linear"
    weight = getattr(mod, "weight", None)
    if weight is None or not hasattr(weight, "dim") or next(mod.children(), None) is not None:
        return None
    if weight.dim() == 4 and all(hasattr(mod, a) for a in ("kernel_size", "stride", "padding", "dilation",
                                                            "groups", "out_channels")):
        return "conv2d"
    if weight.dim() == 2 and hasattr(mod, "in_features") and hasattr(mod, "out_features"):
        return "linear"
    return None


def workload_from_module(module, input_shape: Sequence[int], name: str | None = None, *,
                         input_bits: int = 8, weight_bits: int = 8, output_bits: int = 8) -> Workload:
    """The conv and fully connected layers of ``module`` as a :class:`Workload`.

    ``input_shape`` is the full input tensor shape, e.g. ``(1, 3, 224, 224)``; its
    first entry (the batch) becomes the layers' ``N``. Bit widths apply to every layer.
    """
    return trace_module(module, input_shape, name, input_bits=input_bits, weight_bits=weight_bits,
                        output_bits=output_bits).workload


def trace_module(module, input_shape: Sequence[int], name: str | None = None, *,
                 input_bits: int = 8, weight_bits: int = 8, output_bits: int = 8) -> Trace:
    """:func:`workload_from_module` plus the multipliers of approximate layers."""
    import torch
    from torch import nn

    if not isinstance(module, nn.Module):
        raise ApproxDSEError(f"expected a torch.nn.Module to trace, got {type(module).__name__}")
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ApproxDSEError(f"input shape {input_shape!r} is not a sequence of integers") from None
    if not shape or any(v <= 0 for v in shape):
        raise ApproxDSEError(f"input shape {input_shape!r} must be non-empty and positive")
    name = name or type(module).__name__
    bits = dict(input_bits=input_bits, weight_bits=weight_bits, output_bits=output_bits)

    records: list[Layer] = []
    found_multipliers: dict[str, Any] = {}
    calls: dict[str, int] = {}
    refused: list[str] = []

    def hook_for(qualname: str, kind: str):
        def hook(mod, inputs, output):
            count = calls.get(qualname, 0) + 1
            calls[qualname] = count
            layer_name = qualname if count == 1 else f"{qualname}#{count}"
            x = inputs[0]
            chosen = getattr(mod, "channel_mix", None) or getattr(mod, "multiplier", None)
            if chosen is not None and hasattr(chosen, "relative_energy"):
                found_multipliers[layer_name] = chosen  # a per-channel mix prices its channel-weighted energy
            if kind == "recurrent":
                records.extend(_recurrent_records(mod, layer_name, x, found_multipliers, bits))
            elif kind == "linear":
                n = 1
                for v in x.shape[:-1]:
                    n *= int(v)
                records.append(Layer(layer_name, C=mod.in_features, M=mod.out_features, N=max(n, 1),
                                     kind="fc", **bits))
            elif kind == "conv2d":
                n, c, h, w = (int(v) for v in x.shape) if x.dim() == 4 else (1, *(int(v) for v in x.shape))
                p, q = int(output.shape[-2]), int(output.shape[-1])
                r, s = _pair(mod.kernel_size)
                sh, sw = _pair(mod.stride)
                dh, dw = _pair(mod.dilation)
                if isinstance(mod.padding, str):
                    ph, pw = _resolved_pad(h, p, r, sh, dh), _resolved_pad(w, q, s, sw, dw)
                else:
                    ph, pw = _pair(mod.padding)
                records.append(Layer(layer_name, C=c, M=mod.out_channels, P=p, Q=q, R=r, S=s, N=n,
                                     stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw,
                                     dilation_h=dh, dilation_w=dw, groups=mod.groups, **bits))
            else:  # Conv1d: the length runs along Q/S
                n, c, length = (int(v) for v in x.shape) if x.dim() == 3 else (1, *(int(v) for v in x.shape))
                q = int(output.shape[-1])
                (s,), (sw,), (dw,) = mod.kernel_size, mod.stride, mod.dilation
                pw = _resolved_pad(length, q, s, sw, dw) if isinstance(mod.padding, str) else int(mod.padding[0])
                records.append(Layer(layer_name, C=c, M=mod.out_channels, P=1, Q=q, R=1, S=s, N=n,
                                     stride_w=sw, pad_w=pw, dilation_w=dw, groups=mod.groups, **bits))
        return hook

    handles = []
    recurrent: list[str] = []
    for qualname, mod in module.named_modules():
        if any(qualname.startswith(p + ".") for p in recurrent):
            continue  # an approximate recurrent module's own matmuls: counted per time step by its hook
        kind = _kind(mod, nn)
        if kind == "recurrent":
            recurrent.append(qualname)
        if kind == "refused":
            refused.append(f"{qualname or name} ({type(mod).__name__})")
        elif kind is not None:
            handles.append(mod.register_forward_hook(hook_for(qualname or name, kind)))
    if refused:
        for h in handles:
            h.remove()
        raise ApproxDSEError(
            f"network {name!r} has layers the energy model does not support: {', '.join(refused)}")

    was_training = module.training
    module.eval()
    try:
        params = next(module.parameters(), None)
        dtype = params.dtype if params is not None and params.is_floating_point() else torch.float32
        device = params.device if params is not None else "cpu"
        with torch.no_grad():
            module(torch.zeros(shape, dtype=dtype, device=device))
    except ApproxDSEError:
        raise
    except Exception as exc:  # a user's module failing on this shape: one clear sentence
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApproxDSEError(
            f"the forward pass of {name!r} on an input of shape {shape} failed: {first_line}") from None
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    if not records:
        raise ApproxDSEError(f"network {name!r} ran no Conv1d, Conv2d, Linear or recurrent layer on input {shape}")
    return Trace(Workload(name, tuple(records)), found_multipliers)


def _recurrent_records(mod, layer_name: str, x, found_multipliers: dict, bits: dict) -> list[Layer]:
    """A traced recurrent call's per-step matmuls, with the approximate module's multipliers."""
    if not hasattr(x, "dim"):
        raise ApproxDSEError(f"{layer_name}: the energy model needs padded tensor inputs, not {type(x).__name__}")
    if x.dim() == 2:
        steps, batch = int(x.shape[0]), 1
    elif mod.batch_first:
        batch, steps = int(x.shape[0]), int(x.shape[1])
    else:
        steps, batch = int(x.shape[0]), int(x.shape[1])
    layers = recurrent_layers(layer_name, getattr(mod, "recurrent_cell", None) or mod.mode, int(mod.input_size),
                              int(mod.hidden_size), int(mod.num_layers), bool(mod.bidirectional), steps, batch, **bits)
    for layer in layers:
        sub = layer.name[len(layer_name) + 1:].rsplit(".t", 1)[0]  # "l0.ih"
        try:
            mult = getattr(mod.get_submodule(sub), "multiplier", None)
        except AttributeError:
            mult = None
        if mult is not None and hasattr(mult, "relative_energy"):
            found_multipliers[layer.name] = mult
    return layers
