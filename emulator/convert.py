"""``approximate()``: swap the Conv2d, Linear and recurrent layers of any model for approximate ones.

>>> import torch
>>> from approxdse.emulator import approximate
>>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
>>> q = approximate(model, {"0": "u8_exact"})      # layer "2" gets the exact 8-bit multiplier
>>> type(q[0]).__name__, q[2].multiplier.name
('ApproxConv2d', 'u8_exact')
"""
from __future__ import annotations

import copy
import fnmatch
import warnings
from typing import Iterable, Mapping, Union

from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.config import EmulationConfig
from approxdse.emulator.layers import ApproxConv2d, ApproxLinear, _ApproxLayer
from approxdse.emulator.recurrent import (
    ApproxRecurrent, approximate_recurrent, recurrent_matmul_names, unsupported_reason,
)
from approxdse.multipliers.multiplier import Multiplier
from approxdse import multipliers

MultiplierLike = Union[str, Multiplier]

#: Layer types that multiply but are not emulated (left as they are, with a warning).
UNSUPPORTED_TYPES = (
    nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Bilinear,
    nn.MultiheadAttention, nn.RNNBase, nn.Embedding, nn.RNNCellBase,
)


def _resolve(m: MultiplierLike) -> Multiplier:
    if isinstance(m, Multiplier):
        return m
    if isinstance(m, str):
        return multipliers.get(m)
    raise ApproxDSEError(f"a multiplier must be a name or a Multiplier, got {type(m).__name__}")


def _exact_for(signed: bool) -> Multiplier:
    return multipliers.get("s8_exact" if signed else "u8_exact")


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


def approximate(
    model: nn.Module,
    multiplier: MultiplierLike | Mapping[str, MultiplierLike | None],
    *,
    backend: str = "auto",
    mode: str = "lut",
    inplace: bool = False,
    skip: Iterable[str] | None = None,
    calibration: str = "minmax",
    scheme: str = "auto",
    others: str = "exact",
    config: EmulationConfig | None = None,
) -> nn.Module:
    """Replace every ``nn.Conv2d`` / ``nn.Linear`` of ``model`` by ApproxConv2d / ApproxLinear,
    and every ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` by ApproxLSTM / ApproxGRU / ApproxRNN
    (see :mod:`approxdse.emulator.recurrent`).

    Parameters
    ----------
    model: any ``torch.nn.Module``; copied first unless ``inplace``.
    multiplier: one multiplier (name or :class:`Multiplier`) for every layer, or a
        dict ``{layer_name: multiplier}`` (names as in ``model.named_modules()``,
        shell patterns like ``"layer1.*"`` allowed; a value of None keeps that layer float).
        A recurrent module's matmuls are named ``NAME.l0.ih``, ``NAME.l0.hh``,
        ``NAME.l1_reverse.ih`` ...; ``NAME`` alone sets all of them.
    backend, mode, calibration, scheme: see :class:`EmulationConfig`; ``config``
        overrides them all.
    skip: layer names (or patterns) left float.
    others: with a dict, what the layers it does not list become: ``"exact"``
        (the recommended default: the exact 8-bit multiplier of the same
        signedness, so the whole network is quantised as on an integer
        accelerator and only the listed layers are approximate) or ``"float"``.

    Layers of types that multiply but cannot be emulated (Conv1d, ConvTranspose2d,
    attention, RNN cells, LSTMs with ``proj_size`` ...) are left as they are, with one
    warning naming them.
    Call :func:`~approxdse.emulator.calibrate` next to fix activation ranges.
    """
    cfg = config or EmulationConfig(backend=backend, mode=mode, scheme=scheme, calibration=calibration)
    if others not in ("exact", "float"):
        raise ApproxDSEError(f"others must be 'exact' or 'float', got {others!r}")
    skip = list(skip or [])
    if not inplace:
        model = copy.deepcopy(model)
    named = dict(model.named_modules())
    known = [n for n in named if n] + [f"{n}.{sub}" for n, mod in named.items()
                                       if n and _is_recurrent(mod) for sub in recurrent_matmul_names(mod)]
    if isinstance(multiplier, Mapping):
        for key in multiplier:
            if not any(_matches(n, [key]) for n in known):
                raise ApproxDSEError(f"the layer {key!r} given a multiplier does not exist in the model")
        resolved = {k: (None if v is None else _resolve(v)) for k, v in multiplier.items()}
        signs = {m.signed for m in resolved.values() if m is not None}
        if len(signs) > 1 and others == "exact":
            raise ApproxDSEError("the layer dict mixes signed and unsigned multipliers; pass others='float'")
        default = _exact_for(signs.pop() if signs else False) if others == "exact" else None
    else:
        resolved, default = {}, _resolve(multiplier)

    def choice(name: str) -> Multiplier | None:
        chosen = default
        for key, mult in resolved.items():
            if _matches(name, [key]):
                chosen = mult
        return chosen

    replaced, unsupported = [], []
    inside_recurrent: list[str] = []
    for name, module in list(named.items()):
        if not name or _matches(name, skip) or isinstance(module, (_ApproxLayer, ApproxRecurrent)):
            continue
        if any(name.startswith(p + ".") for p in inside_recurrent):
            continue
        if _is_recurrent(module):
            inside_recurrent.append(name)
            reason = unsupported_reason(module)
            if reason is not None:
                unsupported.append(f"{name} ({reason})")
                continue
            subs = {sub: choice(name) for sub in recurrent_matmul_names(module)}
            for sub in subs:  # a key naming one matmul overrides the module's own entry
                for key, mult in resolved.items():
                    if _matches(f"{name}.{sub}", [key]):
                        subs[sub] = mult
            if any(m is None for m in subs.values()):
                if all(m is None for m in subs.values()):
                    continue
                raise ApproxDSEError(f"{name}: either all matmuls of a recurrent layer are approximate or none")
            new = approximate_recurrent(module, subs, cfg, name)
            new.train(module.training)
            _set_submodule(model, name, new)
            replaced.append(name)
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            chosen = choice(name)
            if chosen is None:
                continue
            if isinstance(module, nn.Conv2d):
                if module.padding_mode != "zeros" or isinstance(module.padding, str):
                    unsupported.append(f"{name} (Conv2d with padding {module.padding!r}/{module.padding_mode})")
                    continue
                new = ApproxConv2d.from_float(module, chosen, cfg, layer_name=name)
            else:
                new = ApproxLinear.from_float(module, chosen, cfg, layer_name=name)
            new.train(module.training)
            _set_submodule(model, name, new)
            replaced.append(name)
        elif isinstance(module, UNSUPPORTED_TYPES):
            unsupported.append(f"{name} ({type(module).__name__})")
    if unsupported:
        warnings.warn(
            "approximate(): these layers are not supported and stay exact (float): " + ", ".join(unsupported),
            stacklevel=2,
        )
    return model


def approximated_layers(model: nn.Module) -> dict[str, _ApproxLayer]:
    """The approximate layers of a converted model, by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, _ApproxLayer)}


def _is_recurrent(module: nn.Module) -> bool:
    return isinstance(module, (nn.LSTM, nn.GRU, nn.RNN))


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
