"""Features of networks, layers and multipliers for the energy predictors.

Network features (:func:`network_features`, from the Workload alone):

* counts: ``n_layers``, ``n_conv``, ``n_fc``, ``n_depthwise``, ``n_pointwise``;
* totals (log10): ``log_macs``, ``log_weights``, ``log_inputs``, ``log_outputs``,
  ``log_max_layer_macs``, ``log_traffic`` (weights + inputs + outputs);
* MAC shares: ``share_depthwise``, ``share_pointwise``, ``share_k3``, ``share_k5``,
  ``share_k7``, ``share_fc``;
* per-layer shape statistics (mean/std/min/max over layers) of log2 C, log2 M,
  log2 P*Q, R, stride; MAC-weighted means of log2 C, log2 M, log2 P*Q and of the
  reuse ratios log2(MACs/weights), log2(MACs/inputs);
* ``input_hw``, ``input_channels`` of the first layer.

Layer features (:func:`layer_features`): the raw loop bounds C, M, P, Q, R, S,
stride, groups, C/groups, M/groups, depthwise / fc flags, log2 MACs, weights,
inputs, outputs and their reuse ratios; the dilation; and how the per-group
channel counts and the output size factor (a mapper splits loop bounds into
exact factors, so 58 = 2 x 29 channels map worse than 64): for each of C/groups,
M/groups, P and Q the power of two dividing it (``v2_*``, capped at 10), its
largest divisor up to 16 (``div16_*``) and log2 of its largest prime factor
(``lpf_*``).

Multiplier features (:func:`multiplier_features`): ``relative_energy``,
``signed``, and where known ``area_um2``, ``power_mw`` and the error metrics
``mae_pct``, ``wce_pct``, ``mre_pct``, ``ep_pct`` (the reference energy depends
only on the energy per op; the rest is there for datasets whose reference
does more). A kernel-wise layer (a list of per-output-channel multipliers or a
:class:`~approxdse.multipliers.channel_mix.ChannelMix`) has the channel-weighted
mean of its channels' features: every channel does the same number of MACs.

Every function refuses NaN or infinite values with one clear error.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.channel_mix import ChannelMix
from approxdse.multipliers.resolve import relative_energy_of, resolve_multiplier
from approxdse.networks.workload import Workload

NETWORK_FEATURES: tuple[str, ...] = (
    "n_layers", "n_conv", "n_fc", "n_depthwise", "n_pointwise",
    "log_macs", "log_weights", "log_inputs", "log_outputs", "log_max_layer_macs", "log_traffic",
    "share_depthwise", "share_pointwise", "share_k3", "share_k5", "share_k7", "share_fc",
    "mean_log_c", "std_log_c", "min_log_c", "max_log_c",
    "mean_log_m", "std_log_m", "min_log_m", "max_log_m",
    "mean_log_pq", "std_log_pq", "min_log_pq", "max_log_pq",
    "mean_r", "std_r", "max_r", "mean_stride",
    "wmean_log_c", "wmean_log_m", "wmean_log_pq", "wmean_reuse_w", "wmean_reuse_i",
    "input_hw", "input_channels",
)

LAYER_FEATURES: tuple[str, ...] = (
    "C", "M", "P", "Q", "R", "S", "stride", "groups", "C_per_group", "M_per_group",
    "depthwise", "fc", "log_macs", "log_weights", "log_inputs", "log_outputs",
    "reuse_w", "reuse_i", "reuse_o", "dilation",
    "v2_cg", "v2_mg", "v2_p", "v2_q", "div16_cg", "div16_mg", "div16_p", "div16_q",
    "lpf_cg", "lpf_mg", "lpf_p", "lpf_q",
)

#: Layer kinds with their own feature ranges for the out-of-domain check (:func:`layer_kinds`).
LAYER_KINDS: tuple[str, ...] = ("conv", "pointwise", "grouped", "depthwise", "fc")

MULTIPLIER_FEATURES: tuple[str, ...] = (
    "relative_energy", "signed", "area_um2", "power_mw", "mae_pct", "wce_pct", "mre_pct", "ep_pct",
)


def _check_finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ApproxDSEError(f"{what} has NaN or infinite features; check its shapes and multiplier figures")
    return values


@lru_cache(maxsize=65536)
def _factor_features(n: int) -> tuple[float, float, float]:
    """(power of two dividing n, capped at 10; largest divisor <= 16; log2 of the largest prime factor)."""
    n = max(int(n), 1)
    v2, m = 0, n
    while m % 2 == 0 and v2 < 10:
        m //= 2
        v2 += 1
    div16 = max(d for d in range(1, 17) if n % d == 0)
    largest, m, p = 1, n, 2
    while p * p <= m:
        while m % p == 0:
            largest, m = p, m // p
        p += 1
    largest = max(largest, m)
    return float(v2), float(div16), math.log2(largest)


def _factor_columns(values: np.ndarray) -> np.ndarray:
    return np.array([_factor_features(int(v)) for v in values], dtype=np.float64).reshape(len(values), 3)


def layer_kinds(workload) -> list[str]:
    """Each layer's kind (:data:`LAYER_KINDS`): fc, depthwise, grouped, pointwise (1x1) or conv."""
    out = []
    for l in workload.layers:
        if l.kind == "fc":
            out.append("fc")
        elif l.is_depthwise:
            out.append("depthwise")
        elif l.groups > 1:
            out.append("grouped")
        elif l.R == 1 and l.S == 1:
            out.append("pointwise")
        else:
            out.append("conv")
    return out


def layer_feature_matrix(workload) -> np.ndarray:
    """[n_layers, len(LAYER_FEATURES)] float64 for one workload (vectorised over layers)."""
    raw = np.array([(l.C, l.M, l.P, l.Q, l.R, l.S, l.stride_h, l.stride_w, l.groups, l.N, l.dilation_h,
                     l.dilation_w, l.pad_h, l.pad_w, l.kind == "fc") for l in workload.layers], dtype=np.float64)
    C, M, P, Q, R, S, sh, sw, g, N, dh, dw, ph, pw, fc = raw.T
    cg, mg = C / g, M / g
    macs = np.maximum(N * M * cg * P * Q * R * S, 1.0)
    weights = np.maximum(M * cg * R * S, 1.0)
    h = np.maximum((P - 1) * sh + dh * (R - 1) + 1 - 2 * ph, 1.0)
    w = np.maximum((Q - 1) * sw + dw * (S - 1) + 1 - 2 * pw, 1.0)
    inputs = np.maximum(N * C * h * w, 1.0)
    outputs = np.maximum(N * M * P * Q, 1.0)
    depthwise = ((g > 1) & (g == C) & (C == M)).astype(np.float64)
    fcg, fmg, fp, fq = (_factor_columns(v) for v in (cg, mg, P, Q))
    out = np.column_stack([
        C, M, P, Q, R, S, sh, g, cg, mg, depthwise, fc,
        np.log2(macs), np.log2(weights), np.log2(inputs), np.log2(outputs),
        np.log2(macs / weights), np.log2(macs / inputs), np.log2(macs / outputs), dh,
        fcg[:, 0], fmg[:, 0], fp[:, 0], fq[:, 0], fcg[:, 1], fmg[:, 1], fp[:, 1], fq[:, 1],
        fcg[:, 2], fmg[:, 2], fp[:, 2], fq[:, 2],
    ])
    return _check_finite(out, f"network {workload.name!r}")


def layer_features(layer) -> dict[str, float]:
    return dict(zip(LAYER_FEATURES, layer_feature_matrix(Workload(layer.name, (layer,)))[0]))


def network_feature_vector(workload) -> np.ndarray:
    """The :data:`NETWORK_FEATURES` of one workload as a float64 vector."""
    layers = workload.layers
    macs = np.array([max(l.macs, 1) for l in layers], dtype=np.float64)
    weights = np.array([max(l.weights, 1) for l in layers], dtype=np.float64)
    inputs = np.array([max(l.inputs, 1) for l in layers], dtype=np.float64)
    outputs = np.array([max(l.outputs, 1) for l in layers], dtype=np.float64)
    log_c = np.log2([l.C for l in layers])
    log_m = np.log2([l.M for l in layers])
    log_pq = np.log2([l.P * l.Q for l in layers])
    r = np.array([l.R for l in layers], dtype=np.float64)
    stride = np.array([l.stride_h for l in layers], dtype=np.float64)
    dw = np.array([l.is_depthwise for l in layers])
    fc = np.array([l.kind == "fc" for l in layers])
    pw = np.array([l.kind == "conv" and l.R == 1 and l.S == 1 and not l.is_depthwise for l in layers])
    total = macs.sum()
    wts = macs / total

    def share(mask) -> float:
        return float(macs[np.asarray(mask, dtype=bool)].sum() / total)

    first = layers[0]
    vec = [
        len(layers), int((~fc).sum()), int(fc.sum()), int(dw.sum()), int(pw.sum()),
        math.log10(total), math.log10(weights.sum()), math.log10(inputs.sum()), math.log10(outputs.sum()),
        math.log10(macs.max()), math.log10(weights.sum() + inputs.sum() + outputs.sum()),
        share(dw), share(pw), share(r == 3), share(r == 5), share(r == 7), share(fc),
        log_c.mean(), log_c.std(), log_c.min(), log_c.max(),
        log_m.mean(), log_m.std(), log_m.min(), log_m.max(),
        log_pq.mean(), log_pq.std(), log_pq.min(), log_pq.max(),
        r.mean(), r.std(), r.max(), stride.mean(),
        float(wts @ log_c), float(wts @ log_m), float(wts @ log_pq),
        float(wts @ np.log2(macs / weights)), float(wts @ np.log2(macs / inputs)),
        float(first.input_hw[0]), float(first.C),
    ]
    return _check_finite(np.asarray(vec, dtype=np.float64), f"network {workload.name!r}")


def network_features(workload) -> dict[str, float]:
    return dict(zip(NETWORK_FEATURES, network_feature_vector(workload)))


@lru_cache(maxsize=4096)
def _multiplier_vector_by_name(name: str) -> tuple[float, ...]:
    return _multiplier_vector(resolve_multiplier(name))


def _multiplier_vector(m) -> tuple[float, ...]:
    rel = relative_energy_of(m)
    try:
        metrics = m.metrics
        errs = (metrics.mae_pct, metrics.wce_pct, metrics.mre_pct, metrics.ep_pct)
    except Exception:  # a multiplier library without metrics: the trees treat NaN as missing
        errs = (math.nan,) * 4
    vec = (
        float(rel), float(m.signed),
        math.nan if m.area_um2 is None else float(m.area_um2),
        math.nan if m.power_mw is None else float(m.power_mw),
        *map(float, errs),
    )
    if not math.isfinite(vec[0]) or any(math.isinf(v) for v in vec):
        raise ApproxDSEError(f"multiplier {m.name!r} has NaN or infinite figures")
    return vec


def multiplier_feature_vector(spec: Any) -> np.ndarray:
    """The :data:`MULTIPLIER_FEATURES` of a multiplier (name or object), or the channel-weighted
    mean over a per-output-channel list of multipliers / a ChannelMix."""
    if isinstance(spec, ChannelMix):
        spec = list(spec.multipliers)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ApproxDSEError("a per-channel multiplier list is empty")
        rows = np.vstack([multiplier_feature_vector(s) for s in spec])
        with np.errstate(invalid="ignore"):
            return np.array([np.nan if np.isnan(col).all() else np.nanmean(col) for col in rows.T])
    if isinstance(spec, str):
        return np.asarray(_multiplier_vector_by_name(spec), dtype=np.float64)
    return np.asarray(_multiplier_vector(resolve_multiplier(spec)), dtype=np.float64)


def multiplier_features(spec: Any) -> dict[str, float]:
    return dict(zip(MULTIPLIER_FEATURES, multiplier_feature_vector(spec)))


def relative_energy(spec: Any) -> float:
    """Energy per op relative to the exact multiplier; a float passes through."""
    if isinstance(spec, (int, float, np.floating)) and not isinstance(spec, bool):
        value = float(spec)
        if not math.isfinite(value) or value < 0:
            raise ApproxDSEError(f"relative energy must be a finite non-negative number, got {spec!r}")
        return value
    return float(multiplier_feature_vector(spec)[0])


def per_layer_relative_energy(workload, assignment: Any) -> np.ndarray:
    """Relative energy per layer for one multiplier or a per-layer assignment.

    ``assignment`` is a multiplier (name, object or relative energy) for the whole
    network, a sequence with one entry per layer, or a mapping layer name ->
    multiplier whose missing layers use the ``"*"`` entry (or the exact multiplier).
    """
    n = len(workload.layers)
    if isinstance(assignment, dict):
        default = assignment.get("*", 1.0)
        unknown = set(assignment) - {"*"} - {l.name for l in workload.layers}
        if unknown:
            raise ApproxDSEError(
                f"network {workload.name!r} has no layers named {', '.join(sorted(unknown))}"
            )
        return np.array([relative_energy(assignment.get(l.name, default)) for l in workload.layers])
    if isinstance(assignment, (list, tuple, np.ndarray)):
        if len(assignment) != n:
            raise ApproxDSEError(
                f"a per-layer assignment for {workload.name!r} needs {n} multipliers, got {len(assignment)}"
            )
        return np.array([relative_energy(a) for a in assignment], dtype=np.float64)
    return np.full(n, relative_energy(assignment))


def layer_macs(workload) -> np.ndarray:
    return np.array([l.macs for l in workload.layers], dtype=np.float64)


def stack_network_features(workloads: Sequence[Any]) -> np.ndarray:
    return np.vstack([network_feature_vector(w) for w in workloads]) if workloads else np.zeros((0, len(NETWORK_FEATURES)))
