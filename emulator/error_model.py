"""A statistical model of each layer's output error, from the multiplier's error matrix and the
layer's measured operand statistics (activation correlations included).

For output channel ``m`` of a conv/linear layer with reduction length ``K``
(``C * R * S``), fixed weight codes ``w_{m,k}`` and activation LUT indices
``a_k`` (one im2col patch, padding = the zero point), the accumulator's error
is the sum of the multiplier's errors ``eps(a, w) = LUT[a, w] - a*w`` (the
zero-point corrections are exact):

    E_m = sum_k eps(a_k, w_{m,k})

Weights are known, activations random. Per patch position ``k`` the model
uses the measured marginal distribution ``p_k(a)`` of the activation index and
the measured K x K covariance ``Sigma`` of the patch (neighbouring pixels,
channels and ReLU zeros are strongly correlated), and splits each product's
error into its linear regression on ``a`` and a residual:

    eps(a_k, w) = E_k[eps(., w)] + beta_{k,w} (a_k - E[a_k]) + r_{k,w}(a_k)

    mean  E[E_m] = sum_k E_k[eps(., w_{m,k})]                       (exact)
    var   Var[E_m] = beta_m^T Sigma beta_m + sum_k Var[r_{k, w_{m,k}}]

The linear parts carry the correlation between positions (exactly, through
``Sigma``); only the residuals -- what is left of each error after its linear
dependence on the operand -- are taken as uncorrelated. All moments are exact
sums over the 256 activation indices of the error matrix, so a multiplier costs
a few (K x 256) @ (256 x 256) products per layer, not an emulation.

A grouped (depthwise) convolution is the same per group: channel ``m`` of group ``j`` reads
the patch columns of group ``j``, with that group's covariance. A layer called more than once
per forward pass (shared weights, the gate matmuls of a recurrent layer over time) pools the
inputs of all its calls (its activation scale is calibrated, so one for every call) and predicts
the mixture of the calls, each with its own statistics.

In real units the error of output ``(m, pos)`` is ``s_a * s_w[m] * E_m``; a
layer's *output-error std* is the standard deviation over all outputs
(samples, positions, channels):
``sqrt(mean_m s_m^2 (Var_m + mean_m^2) - (mean_m s_m mean_m)^2)``.

>>> from approxdse.emulator.error_model import layer_statistics, predict_layer_error  # doctest: +SKIP
>>> stats = layer_statistics(qmodel, batches)                        # doctest: +SKIP
>>> predict_layer_error(stats["features.0"], "u8_trunc_2").std       # doctest: +SKIP
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.assignment import exact_counterpart, layer_assignment
from approxdse.emulator.batches import calibration_batches
from approxdse.emulator.convert import approximated_layers
from approxdse.emulator.emulation import emulate
from approxdse.emulator.quantization import quantize
from approxdse.multipliers.multiplier import Multiplier, exact_lut
from approxdse.multipliers.resolve import resolve_multiplier

#: Patches kept per layer for its statistics (a seeded uniform sample beyond this).
MAX_PATCHES = 20000


@dataclass(frozen=True)
class LayerStatistics:
    """What the error model needs of one layer: weight codes, activation marginals and covariance."""

    name: str
    signed: bool
    w_index: np.ndarray  # int64 [M, K] weight LUT indices
    step: np.ndarray  # float64 [M]: s_a * s_w[m]
    marginals: np.ndarray  # float64 [K, 256]: p_k(a) (K = C * R * S, all groups)
    covariance: np.ndarray  # float64 [K, K] of the activation index over patches; [G, K/G, K/G] when grouped
    patches: int
    outputs_per_channel: int  # positions x samples (x calls) the statistics came from
    #: Convolution groups: output channel m reads the patch columns of group m // (M / groups).
    groups: int = 1
    #: Calls per forward pass whose inputs are pooled (a shared or recurrent layer: > 1).
    calls: int = 1
    #: With ``calls > 1``: the statistics of each call (its inputs differ, e.g. per time step);
    #: the prediction is their mixture.
    per_call: tuple["LayerStatistics", ...] = ()


@dataclass(frozen=True)
class ErrorPrediction:
    """Predicted mean and variance of a layer's accumulator error per channel, and its output-error std."""

    layer: str
    multiplier: str
    mean: np.ndarray  # [M] accumulator error mean (codes^2 units)
    variance: np.ndarray  # [M]
    step: np.ndarray  # [M]

    @property
    def output_mean(self) -> float:
        """Mean output error in real units (over channels)."""
        return float(np.mean(self.step * self.mean))

    @property
    def std(self) -> float:
        """Standard deviation of the real-valued output error over all outputs."""
        second = np.mean(self.step ** 2 * (self.variance + self.mean ** 2))
        return float(np.sqrt(max(second - self.output_mean ** 2, 0.0)))


def _patches(layer: nn.Module, x: torch.Tensor) -> np.ndarray:
    """int64 [L, K] activation LUT indices of every receptive field (padding = the zero point)."""
    fmt = layer.fmt
    a_scale, a_zero = layer._activation_qparams(x)
    codes = quantize(layer._to_4d(x).cpu(), a_scale.cpu(), a_zero.cpu(), fmt)  # [N, C, H, W]
    pad = int(a_zero) + fmt.index_offset
    centred = (codes + fmt.index_offset - pad).to(torch.float64)
    g = layer._geometry()
    r, s = layer.weight.shape[2:] if layer.weight.dim() == 4 else (1, 1)
    cols = F.unfold(centred, (r, s), dilation=g.dilation, padding=g.padding, stride=g.stride)  # [N, K, L]
    return (cols.permute(0, 2, 1).reshape(-1, cols.shape[1]).round().to(torch.int64) + pad).numpy()


def layer_statistics(qmodel: nn.Module, batches: Sequence[torch.Tensor], *, seed: int = 0,
                     layers: Sequence[str] | None = None) -> dict[str, LayerStatistics]:
    """Measure each approximate conv/linear layer's operand statistics on ``batches`` (inputs only).

    ``qmodel`` is a converted, calibrated model (its quantisation is used). A grouped (or
    depthwise) convolution keeps one covariance per group; a layer called more than once per
    forward pass (shared weights, recurrent matmuls) pools the inputs of all its calls (its output
    error over all calls) and keeps each call's statistics in ``per_call``. :func:`measure_statistics` also says which layers
    were left out and why.
    """
    return measure_statistics(qmodel, batches, seed=seed, layers=layers)[0]


def measure_statistics(qmodel: nn.Module, batches: Sequence[torch.Tensor], *, seed: int = 0,
                       layers: Sequence[str] | None = None) -> tuple[dict[str, LayerStatistics], dict[str, str]]:
    """:func:`layer_statistics` and ``{layer: reason}`` of the layers it could not model (a layer that
    saw no input, or one called more than once with per-call activation scales, i.e. not calibrated)."""
    modules = approximated_layers(qmodel)
    chosen = list(modules) if layers is None else list(layers)
    captured: dict[str, list[torch.Tensor]] = {n: [] for n in chosen}
    calls: dict[str, int] = {}
    most: dict[str, int] = {}

    def hook(name):
        def fn(mod, args, out):
            calls[name] = calls.get(name, 0) + 1
            captured[name].append(args[0].detach().clone())
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in chosen]
    try:
        with torch.no_grad():
            qmodel.eval()
            for x in batches:
                calls.clear()
                qmodel(x[0] if isinstance(x, (tuple, list)) else x)
                for n, c in calls.items():
                    most[n] = max(most.get(n, 0), c)
    finally:
        for h in handles:
            h.remove()
    rng = np.random.default_rng(seed)
    out, skipped = {}, {}
    for name in chosen:
        layer = modules[name]
        if not captured[name]:
            skipped[name] = "not called in the forward pass"
            continue
        if most.get(name, 1) > 1 and not bool(layer.calibrated):
            skipped[name] = (f"called {most[name]} times per forward pass with per-call activation scales "
                             "(calibrate the model first)")
            continue
        n_calls = most.get(name, 1)
        pooled = _statistics_of(name, layer, captured[name], rng, n_calls)
        if n_calls > 1 and len(captured[name]) % n_calls == 0:  # one part per call of the forward pass
            parts = tuple(_statistics_of(name, layer, captured[name][c::n_calls], rng, 1) for c in range(n_calls))
            pooled = dataclasses.replace(pooled, per_call=parts)
        out[name] = pooled
    return out, skipped


def _statistics_of(name: str, layer: nn.Module, inputs: list[torch.Tensor], rng: np.random.Generator,
                   calls: int) -> LayerStatistics:
    a = np.concatenate([_patches(layer, x) for x in inputs])
    per_channel = len(a)
    if len(a) > MAX_PATCHES:
        a = a[rng.choice(len(a), MAX_PATCHES, replace=False)]
    k = a.shape[1]
    groups = int(layer._geometry().groups)
    marg = np.stack([np.bincount(a[:, j], minlength=256) for j in range(k)]).astype(np.float64) / len(a)
    af = a.astype(np.float64)
    if groups == 1:
        cov = np.atleast_2d(np.cov(af, rowvar=False, bias=True)) if len(a) > 1 else np.zeros((k, k))
    else:
        kg = k // groups
        cov = np.stack([np.atleast_2d(np.cov(af[:, j * kg:(j + 1) * kg], rowvar=False, bias=True))
                        if len(a) > 1 else np.zeros((kg, kg)) for j in range(groups)])
    cache = layer.quantized_weight()
    w_index = (cache.codes.reshape(cache.codes.shape[0], -1) + layer.fmt.index_offset).numpy().astype(np.int64)
    step = (layer._activation_qparams(inputs[0])[0].double() * cache.scale.double()).numpy()
    return LayerStatistics(name, layer.fmt.signed, w_index, step, marg, cov, len(a), per_channel, groups, calls)


def predict_layer_error(stats: LayerStatistics, multiplier: Any) -> ErrorPrediction:
    """The error model's mean and variance of each channel's accumulator error (see the module docstring)."""
    mult: Multiplier = resolve_multiplier(multiplier)
    if stats.per_call:  # a mixture of the calls (equal outputs each): per channel mean and second moment
        preds = [predict_layer_error(part, mult) for part in stats.per_call]
        mean = np.mean([p.mean for p in preds], axis=0)
        second = np.mean([p.variance + p.mean ** 2 for p in preds], axis=0)
        return ErrorPrediction(stats.name, mult.name, mean, np.maximum(second - mean ** 2, 0.0), stats.step)
    if mult.signed != stats.signed:
        raise ApproxDSEError(f"{stats.name}: a {'signed' if mult.signed else 'unsigned'} multiplier for a layer "
                             f"quantised {'signed' if stats.signed else 'unsigned'}")
    eps = mult.lut.astype(np.float64) - exact_lut(mult.signed).astype(np.float64)  # [a, w]
    a_vals = np.arange(256, dtype=np.float64)
    p = stats.marginals  # [K, 256]
    mean_a = p @ a_vals  # [K]
    var_a = np.maximum(p @ a_vals ** 2 - mean_a ** 2, 0.0)
    moments = p @ np.concatenate([eps, eps ** 2, a_vals[:, None] * eps], axis=1)  # one [K, 3 x 256] product
    e1, e2, ea = moments[:, :256], moments[:, 256:512], moments[:, 512:]  # E_k[eps(., w)], E_k[eps^2], E_k[a eps]
    w = stats.w_index  # [M, Kg]
    n_out, kg = w.shape
    if stats.groups == 1:
        k_idx = np.broadcast_to(np.arange(kg)[None, :], w.shape)
    else:  # channel m reads the patch columns of its group
        group_of = np.arange(n_out) // (n_out // stats.groups)
        k_idx = group_of[:, None] * kg + np.arange(kg)[None, :]
    m1, m2, ma = e1[k_idx, w], e2[k_idx, w], ea[k_idx, w]  # [M, Kg]
    mu, var = mean_a[k_idx], var_a[k_idx]
    cov_ae = ma - mu * m1
    beta = np.where(var > 0, cov_ae / np.where(var > 0, var, 1.0), 0.0)
    resid = np.maximum(m2 - m1 ** 2 - beta ** 2 * var, 0.0)
    if stats.groups == 1:
        linear = ((beta @ stats.covariance) * beta).sum(axis=1)
    else:
        linear = np.einsum("mk,mkl,ml->m", beta, stats.covariance[group_of], beta)
    return ErrorPrediction(stats.name, mult.name, m1.sum(axis=1), np.maximum(linear, 0.0) + resid.sum(axis=1),
                           stats.step)


def emulated_layer_error(qmodel: nn.Module, batches: Sequence[torch.Tensor], multiplier: Any,
                         layers: Sequence[str]) -> dict[str, float]:
    """The emulated output-error std of each layer in isolation: its own input (from ``qmodel``,
    left unchanged) through ``multiplier`` minus through the layer's current multiplier."""
    mult = resolve_multiplier(multiplier)
    modules = approximated_layers(qmodel)
    captured: dict[str, list] = {n: [] for n in layers}

    def hook(name):
        def fn(mod, args, out):
            captured[name].append((args[0].detach().clone(), out.detach().clone()))  # before in-place ReLUs
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in layers]
    try:
        with torch.no_grad():
            qmodel.eval()
            for x in batches:
                qmodel(x[0] if isinstance(x, (tuple, list)) else x)
    finally:
        for h in handles:
            h.remove()
    out = {}
    for name in layers:
        probe = _probe(modules[name], mult)
        errs = []
        with torch.no_grad():
            for x, y in captured[name]:
                errs.append((probe(x) - y).double().reshape(-1))
        out[name] = float(torch.cat(errs).std(unbiased=False)) if errs else float("nan")
    return out


def _probe(layer: nn.Module, mult: Multiplier) -> nn.Module:
    probe = copy.deepcopy(layer)
    probe.set_multiplier(mult)
    return probe


def estimate_table(qmodel: nn.Module, batches: Sequence[torch.Tensor], multipliers: Sequence[Any],
                   *, emulate: bool = True) -> list[dict[str, Any]]:
    """Rows ``{layer, multiplier, predicted_std, predicted_mean, emulated_std}`` for every
    modelled layer of ``qmodel`` and every multiplier (emulated_std only with ``emulate``)."""
    stats = layer_statistics(qmodel, batches)
    rows = []
    for spec in multipliers:
        mult = resolve_multiplier(spec)
        emulated = emulated_layer_error(qmodel, batches, mult, list(stats)) if emulate else {}
        for name, st in stats.items():
            pred = predict_layer_error(st, mult)
            rows.append({"layer": name, "multiplier": mult.name, "predicted_std": pred.std,
                         "predicted_mean": pred.output_mean, "emulated_std": emulated.get(name, float("nan"))})
    return rows


def network_error_estimate(float_model: nn.Module, data, multiplier: Any, layers: dict[str, Any] | None = None,
                           *, n_batches: int = 2, batch_size: int = 128) -> list[dict[str, Any]]:
    """Per layer of ``float_model`` (quantised with the exact multiplier of ``multiplier``'s signedness,
    calibrated on ``data``): the predicted and emulated output-error std of its multiplier (``multiplier``,
    or ``layers[name]`` for the layers that dict names; names or patterns as in ``layer_assignment``).
    A layer the model cannot handle is a row with ``skipped`` (the reason) and no figures."""
    per_layer = layer_assignment(float_model, multiplier, layers)
    signs = {m.signed for m in per_layer.values()}
    if len(signs) > 1:
        raise ApproxDSEError("the error estimate quantises the network once: use multipliers of one signedness")
    qmodel = emulate(float_model, exact_counterpart(next(iter(per_layer.values()))), data)
    batches = calibration_batches(data, n_batches, batch_size)
    stats, skipped = measure_statistics(qmodel, batches)
    rows = []
    by_mult: dict[str, list[str]] = {}
    for name, m in per_layer.items():
        if name in stats:
            by_mult.setdefault(m.name, []).append(name)
    emulated: dict[str, float] = {}
    for names in by_mult.values():
        emulated.update(emulated_layer_error(qmodel, batches, per_layer[names[0]], names))
    for name, m in per_layer.items():
        if name not in stats:
            rows.append({"layer": name, "multiplier": m.name, "predicted_std": None, "predicted_mean": None,
                         "emulated_std": None, "skipped": skipped.get(name, "not modelled")})
            continue
        pred = predict_layer_error(stats[name], m)
        rows.append({"layer": name, "multiplier": m.name, "predicted_std": pred.std,
                     "predicted_mean": pred.output_mean, "emulated_std": emulated[name]})
    return rows


@dataclass
class NetworkErrorModel:
    """A calibrated network's layer statistics and exact output std, for scoring multiplier assignments
    without emulating them (what the search's screening uses).

    :meth:`relative_error` of an assignment ``{layer: multiplier}`` is the predicted output-error std
    of each modelled layer relative to the std of its exact output, summed in power over the layers
    (``sqrt(sum_l (sigma_l / S_l)^2)``): 0 for the exact multiplier, about 1 when the layers' error is
    as large as their signal. Layers the model leaves out (``skipped``, with the reason) count 0.
    """

    stats: dict[str, LayerStatistics]
    output_std: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def measure(cls, qmodel: nn.Module, batches: Sequence[torch.Tensor], *, seed: int = 0) -> "NetworkErrorModel":
        """Statistics and exact output std of every modelled layer of ``qmodel`` on ``batches``."""
        modules = approximated_layers(qmodel)
        sums = {n: [0.0, 0.0, 0] for n in modules}

        def hook(name):
            def fn(mod, args, out):
                y = out.detach().double()
                acc = sums[name]
                acc[0] += float(y.sum())
                acc[1] += float((y * y).sum())
                acc[2] += y.numel()
            return fn

        # one forward pass: these hooks see the outputs while measure_statistics' hooks see the inputs
        handles = [m.register_forward_hook(hook(n)) for n, m in modules.items()]
        try:
            stats, skipped = measure_statistics(qmodel, batches, seed=seed)
        finally:
            for h in handles:
                h.remove()
        sums = {n: v for n, v in sums.items() if n in stats}
        std = {}
        for n, (s1, s2, count) in sums.items():
            mean = s1 / max(count, 1)
            std[n] = float(np.sqrt(max(s2 / max(count, 1) - mean * mean, 0.0)))
        return cls(stats, std, skipped)

    def layer_relative_error(self, layer: str, multiplier: Any) -> float:
        """``sigma_l / S_l`` of ``layer`` under ``multiplier`` (0 for an exact one or an unmodelled layer)."""
        mult = resolve_multiplier(multiplier)
        if mult.is_exact or layer not in self.stats:
            return 0.0
        key = (layer, mult.name)
        if key not in self._cache:
            signal = self.output_std[layer]
            pred = predict_layer_error(self.stats[layer], mult).std
            self._cache[key] = pred / signal if signal > 0 else (0.0 if pred == 0 else float("inf"))
        return self._cache[key]

    def relative_error(self, assignment: dict[str, Any]) -> float:
        """The predicted relative output error of ``{layer: multiplier}`` (see the class docstring)."""
        return float(np.sqrt(sum(self.layer_relative_error(n, m) ** 2 for n, m in assignment.items())))


def format_estimate(rows: Sequence[dict[str, Any]]) -> str:
    """The per-layer table of :func:`network_error_estimate`."""
    width = max([len(r["layer"]) for r in rows] + [5])
    mwidth = max([len(r["multiplier"]) for r in rows] + [10])
    lines = ["error model: output-error std per layer (real units), predicted vs emulated",
             f"  {'layer':<{width}}  {'multiplier':<{mwidth}}  {'predicted':>11}  {'emulated':>11}  {'ratio':>6}"]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"  {r['layer']:<{width}}  {r['multiplier']:<{mwidth}}  not modelled: {r['skipped']}")
            continue
        ratio = r["predicted_std"] / r["emulated_std"] if r["emulated_std"] > 0 else float("nan")
        lines.append(f"  {r['layer']:<{width}}  {r['multiplier']:<{mwidth}}  {r['predicted_std']:>11.5f}  "
                     f"{r['emulated_std']:>11.5f}  {ratio:>6.3f}")
    return "\n".join(lines)
