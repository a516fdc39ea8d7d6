"""Resilience ranking of output channels and an iterative kernel-wise multiplier assignment.

Resilience (:func:`channel_sensitivity`): for a calibrated model, a layer, a
candidate multiplier and a few labelled batches, the first-order (Taylor)
estimate of the change of each sample's loss when output channel ``m`` alone
switches to the candidate:

    t[n, m] = sum_pos dL/dy[n, m, pos] * (y_cand[n, m, pos] - y[n, m, pos])

with ``y`` the layer's current output, ``y_cand`` its output through the
candidate multiplier on the same input, and the gradient taken through the
current model (straight-through). The channel's sensitivity is the mean of
``t^2`` over the samples: small = resilient. Only the channel's own error
enters, measured on real operands by the bit-exact emulator.

Assignment (:func:`kernelwise_assignment`): a ladder of multipliers from the
exact one down in energy per op; every channel of every conv/linear layer
starts exact. Each round raises the most profitable channels one rung --
ranked by ``sensitivity increase / multiplication energy saved`` (energy
saved = the channel's MACs x the drop of relative energy) -- evaluates the
network's validation accuracy with the emulator and keeps the round if the
drop from the all-exact network stays within ``budget``; otherwise it undoes
the round and halves the number of channels moved per round. It stops when a
single channel cannot move, when every channel is on the last rung, or after
``max_rounds`` evaluations. Layers called more than once per forward pass
(shared weights, recurrent matmuls) keep the exact multiplier.

>>> from approxdse.emulator.kernelwise import kernelwise_assignment            # doctest: +SKIP
>>> res = kernelwise_assignment("lenet5", ["u8_exact", "u8_trunc_2", "u8_trunc_3"], budget=0.01)  # doctest: +SKIP
>>> res.relative_energy, res.val_drop, res.channels["features.0"]              # doctest: +SKIP
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.channelwise import assign_channels
from approxdse.emulator.convert import approximated_layers
from approxdse.emulator.datasets import DatasetSplits, load_dataset
from approxdse.emulator.batches import calibration_batches, iterate_batches
from approxdse.emulator.emulation import emulate
from approxdse.emulator.evaluation import evaluate_accuracy, layer_macs
from approxdse.emulator.model_cache import TrainedModel, float_model_for
from approxdse.multipliers.resolve import resolve_multiplier
from approxdse.multipliers.multiplier import Multiplier


def _captured(qmodel: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
              loss_fn: Callable) -> tuple[dict[str, list], list[str]]:
    """Per single-call approximate layer: [(input, output, dL/doutput)] per batch."""
    layers = {n: m for n, m in approximated_layers(qmodel).items()}
    records: dict[str, list] = {n: [] for n in layers}
    calls: dict[str, int] = {}
    outputs: dict[str, torch.Tensor] = {}
    inputs: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(mod, args, out):
            calls[name] = calls.get(name, 0) + 1
            inputs[name] = args[0].detach()
            outputs[name] = out
            if out.requires_grad:
                out.retain_grad()
                return out.clone()  # later in-place ops (ReLU(inplace=True)) change the clone, not ``out``
            return None
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    was_training = qmodel.training
    qmodel.eval()
    multi: set[str] = set()
    try:
        for x, y in batches:
            calls.clear()
            qmodel.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = loss_fn(qmodel(x), y)
                loss.backward()
            multi |= {n for n, c in calls.items() if c > 1}
            for name in layers:
                out = outputs.get(name)
                if name in calls and out is not None and out.grad is not None:
                    records[name].append((inputs[name], out.detach(), out.grad.detach() * len(y)))
    finally:
        for h in handles:
            h.remove()
        qmodel.zero_grad(set_to_none=True)
        qmodel.train(was_training)
    usable = [n for n in layers if n not in multi and records[n]]
    return records, usable


def channel_sensitivity(qmodel: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                        candidates: Sequence[Any], *, layers: Sequence[str] | None = None,
                        loss_fn: Callable = F.cross_entropy) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {multiplier name: sensitivity per output channel}}`` (see the module docstring).

    ``qmodel``: a converted, calibrated model (its current multipliers are the
    reference); ``batches``: labelled ``(x, y)`` batches; ``candidates``:
    multipliers (names or objects) of the layers' signedness; ``layers``: which
    approximate layers (default: every conv/linear layer called once per pass).
    """
    mults = [resolve_multiplier(c) for c in candidates]
    if not mults:
        raise ApproxDSEError("name at least one candidate multiplier")
    records, usable = _captured(qmodel, list(batches), loss_fn)
    if not usable:
        raise ApproxDSEError("no approximate layer to rank: convert the model with approximate() and pass batches")
    chosen = usable if layers is None else list(layers)
    missing = [n for n in chosen if n not in usable]
    if missing:
        raise ApproxDSEError(f"cannot rank layer(s) {', '.join(missing)}: not approximate or called more than once")
    modules = approximated_layers(qmodel)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in chosen:
        layer = modules[name]
        out[name] = {}
        for mult in mults:
            if mult.signed != layer.multiplier.signed:
                raise ApproxDSEError(f"{name}: candidate {mult.name} has another signedness than the layer")
            probe = copy.deepcopy(layer)
            probe.set_multiplier(mult)
            total = np.zeros(int(layer.weight.shape[0]))
            count = 0
            with torch.no_grad():
                for x, y, g in records[name]:
                    err = probe(x) - y
                    t = (g * err).reshape(err.shape[0], err.shape[1], -1).sum(dim=2) if err.dim() > 2 else g * err
                    total += (t.double() ** 2).sum(dim=0).numpy()
                    count += t.shape[0]
            out[name][mult.name] = total / max(count, 1)
    return out


@dataclass
class KernelwiseResult:
    """The outcome of :func:`kernelwise_assignment`."""

    ladder: list[str]
    channels: dict[str, list[str]]  # layer -> multiplier name per output channel
    relative_energy: float  # MAC-weighted multiplication energy relative to exact
    exact_val_accuracy: float
    val_accuracy: float
    test_accuracy: float
    exact_test_accuracy: float
    budget: float
    rounds: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def val_drop(self) -> float:
        return self.exact_val_accuracy - self.val_accuracy

    def counts(self) -> dict[str, dict[str, int]]:
        """Per layer: channels per multiplier name."""
        out = {}
        for layer, names in self.channels.items():
            c: dict[str, int] = {}
            for n in names:
                c[n] = c.get(n, 0) + 1
            out[layer] = c
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"ladder": self.ladder, "channels": self.channels, "counts": self.counts(),
                "relative_energy": self.relative_energy, "exact_val_accuracy": self.exact_val_accuracy,
                "val_accuracy": self.val_accuracy, "val_drop": self.val_drop, "test_accuracy": self.test_accuracy,
                "exact_test_accuracy": self.exact_test_accuracy, "budget": self.budget, "rounds": self.rounds,
                "seconds": self.seconds, "history": self.history}


def _ladder(specs: Sequence[Any]) -> list[Multiplier]:
    mults = [resolve_multiplier(s) for s in specs]
    if not mults:
        raise ApproxDSEError("the kernel-wise ladder needs at least one approximate multiplier")
    if len({m.signed for m in mults}) > 1:
        raise ApproxDSEError("the kernel-wise ladder mixes signed and unsigned multipliers")
    missing = [m.name for m in mults if m.relative_energy is None]
    if missing:
        raise ApproxDSEError(f"multiplier(s) {', '.join(missing)} have no relative energy to rank by")
    exact = resolve_multiplier("s8_exact" if mults[0].signed else "u8_exact")
    unique = {m.name: m for m in [exact, *mults]}
    return sorted(unique.values(), key=lambda m: (-float(m.relative_energy), m.name))


def kernelwise_assignment(
    network: "str | nn.Module | TrainedModel",
    ladder: Sequence[Any],
    budget: float = 0.01,
    *,
    dataset: str = "digits",
    data: DatasetSplits | None = None,
    seed: int = 0,
    epochs: int | None = None,
    backend: str = "auto",
    first_fraction: float = 0.25,
    max_rounds: int = 40,
    sensitivity_batches: int = 2,
    batch_size: int = 256,
    progress: bool = False,
) -> KernelwiseResult:
    """Raise approximation channel by channel on the most resilient channels while the
    validation accuracy stays within ``budget`` (a fraction: 0.01 = one point) of the
    all-exact 8-bit network. ``ladder``: approximate multipliers (the exact one of
    their signedness is added; they are ordered by energy per op). See the module docstring.
    """
    if not 0.0 <= float(budget) < 1.0:
        raise ApproxDSEError(f"the accuracy budget is a fraction in [0, 1), got {budget}")
    if not 0.0 < float(first_fraction) <= 1.0:
        raise ApproxDSEError(f"first_fraction must lie in (0, 1], got {first_fraction}")
    if int(max_rounds) < 1:
        raise ApproxDSEError(f"max_rounds must be at least 1, got {max_rounds}")
    t0 = time.perf_counter()
    rungs = _ladder(ladder)
    if data is None:
        data = load_dataset(dataset)
    float_model = float_model_for(network, data, seed, epochs, progress)
    qmodel = emulate(float_model.model, rungs[0], data, backend=backend)
    exact_val = evaluate_accuracy(qmodel, data.val, batch_size)
    exact_test = evaluate_accuracy(qmodel, data.test, batch_size)

    labelled = list(iterate_batches(data.train, 128, limit=sensitivity_batches))
    scores = channel_sensitivity(qmodel, labelled, rungs[1:])
    names = list(scores)
    sample = calibration_batches(data, 1, 1)[0]
    macs = layer_macs(float_model.model, sample)
    rel = np.array([float(m.relative_energy) for m in rungs])
    modules = approximated_layers(qmodel)
    # cumulative sensitivity per rung (rung 0 = exact = 0)
    sens = {n: np.vstack([np.zeros(int(modules[n].weight.shape[0]))] +
                         [scores[n][m.name] for m in rungs[1:]]) for n in names}
    level = {n: np.zeros(sens[n].shape[1], dtype=np.int64) for n in names}
    per_channel_macs = {n: macs[n] / sens[n].shape[1] for n in names}

    def candidates() -> list[tuple[float, str, int]]:
        out = []
        for n in names:
            lv = level[n]
            up = lv < len(rungs) - 1
            for ch in np.nonzero(up)[0]:
                gain = per_channel_macs[n] * (rel[lv[ch]] - rel[lv[ch] + 1])
                cost = max(float(sens[n][lv[ch] + 1, ch] - sens[n][lv[ch], ch]), 0.0)
                out.append((cost / max(gain, 1e-12), n, int(ch)))
        out.sort()
        return out

    def apply() -> None:
        assign_channels(qmodel, {n: [rungs[i] for i in level[n]] for n in names})

    def energy() -> float:
        total = sum(macs.values())
        layer_rel = {n: float(rel[level[n]].mean()) for n in names}
        other = {n: float(m.multiplier.relative_energy or 1.0) for n, m in modules.items() if n not in layer_rel}
        return float(sum(macs.get(n, 0) * r for n, r in {**other, **layer_rel}.items()) / total)

    history: list[dict[str, Any]] = []
    val = exact_val
    cand = candidates()
    moves = max(1, int(round(first_fraction * len(cand))))
    rounds = 0
    while cand and rounds < int(max_rounds):
        chosen = cand[:moves]
        for _, n, ch in chosen:
            level[n][ch] += 1
        apply()
        acc = evaluate_accuracy(qmodel, data.val, batch_size)
        rounds += 1
        ok = exact_val - acc <= budget + 1e-12
        history.append({"round": rounds, "moved": len(chosen), "val_accuracy": acc, "accepted": ok,
                        "relative_energy": energy() if ok else None})
        if ok:
            val = acc
            cand = candidates()
            continue
        for _, n, ch in chosen:
            level[n][ch] -= 1
        apply()
        if moves == 1:
            break
        moves = max(1, moves // 2)
    test = evaluate_accuracy(qmodel, data.test, batch_size)
    channels = {n: [rungs[i].name for i in level[n]] for n in names}
    return KernelwiseResult([m.name for m in rungs], channels, energy(), exact_val, val, test, exact_test,
                            float(budget), rounds, time.perf_counter() - t0, history)


def format_kernelwise(result: KernelwiseResult) -> str:
    """A plain-text summary: per layer, channels per multiplier; energy and accuracies."""
    lines = [f"kernel-wise assignment over {', '.join(result.ladder)} (budget {100 * result.budget:.2f} points, "
             f"{result.rounds} rounds, {result.seconds:.1f} s)",
             f"multiplication energy {result.relative_energy:.3f} of exact; validation "
             f"{100 * result.exact_val_accuracy:.2f}% -> {100 * result.val_accuracy:.2f}%, test "
             f"{100 * result.exact_test_accuracy:.2f}% -> {100 * result.test_accuracy:.2f}%", ""]
    width = max(len(n) for n in result.channels) if result.channels else 5
    for layer, counts in result.counts().items():
        lines.append(f"  {layer:<{width}}  " + ", ".join(f"{m} x{c}" for m, c in counts.items()))
    return "\n".join(lines)



def assign_by_resilience(qmodel: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                         ranked: dict[str, Sequence[Any]], loss_fn: Callable = F.cross_entropy) -> dict[str, list[str]]:
    """Give each layer's channels the multipliers of ``ranked`` (``{layer: [multiplier for the most
    resilient channel, the next, ...]}``, one entry per output channel) and return the per-channel
    assignment in channel order. Channels are ranked by :func:`channel_sensitivity` to the layer's
    least-energy multiplier among its entries; the model's current multipliers are the reference.
    """
    ranked = {n: [resolve_multiplier(m) for m in v] for n, v in ranked.items()}
    needs_rank = {n: v for n, v in ranked.items() if len({m.name for m in v}) > 1}
    out = {n: [m.name for m in v] for n, v in ranked.items() if n not in needs_rank}
    if needs_rank:
        cheapest = {n: min(v, key=lambda m: (float(m.relative_energy or 0.0), m.name)) for n, v in needs_rank.items()}
        scores = channel_sensitivity(qmodel, batches, list({m.name: m for m in cheapest.values()}.values()),
                                     layers=list(needs_rank), loss_fn=loss_fn)
        for n, v in needs_rank.items():
            order = np.argsort(scores[n][cheapest[n].name], kind="stable")
            if len(order) != len(v):
                raise ApproxDSEError(f"{n}: {len(v)} ranked multipliers for {len(order)} output channels")
            names = [""] * len(v)
            for rank, channel in enumerate(order):
                names[int(channel)] = v[rank].name
            out[n] = names
    assign_channels(qmodel, out)
    return out
