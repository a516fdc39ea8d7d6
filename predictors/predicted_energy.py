"""A predictor's energy of one network, as a report beside the reference's (``approxdse energy --predictor``).

:func:`predicted_energy` answers with a :class:`PredictedReport`: the network
totals (``totals.energy_pJ``, as the reference's report has them), the
learned predictor's 90% interval and out-of-domain flag, and one entry per
layer (its shape, MACs, and for a layer-level learned model its predicted
energy and out-of-domain flag). It runs in milliseconds once the model is
loaded: no mapping search.

``predictor`` is ``summing`` or ``learned`` (the default predictors of
:func:`~approxdse.predictors.defaults.default_predictor` for a built-in
accelerator) or a model file saved by ``approxdse train-predictor``.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.core.jsonl import json_safe
from approxdse.networks.workload import Workload
from approxdse.predictors.defaults import KINDS as DEFAULT_KINDS
from approxdse.predictors.defaults import default_predictor
from approxdse.predictors.features import per_layer_relative_energy
from approxdse.predictors.io import load_predictor
from approxdse.predictors.learned import LearnedPredictor

#: The interval level ``approxdse energy --predictor learned`` reports.
LEVEL = 0.9


def load_energy_predictor(spec: str, accelerator: str | None, progress: bool = False):
    """``summing``/``learned`` (default predictor for ``accelerator``, eyeriss if None) or a model file.

    A model file's accelerator must be ``accelerator`` when one is given.
    """
    if spec in DEFAULT_KINDS:
        return default_predictor(accelerator or "eyeriss", kind=spec, progress=progress), f"default {spec}"
    if not spec.lower().endswith((".json", ".ubj")):
        raise ApproxDSEError(f"--predictor must be summing, learned or a model file (.json/.ubj), got {spec!r}")
    if not Path(spec).is_file():
        raise ApproxDSEError(f"predictor model {spec!r} does not exist")
    pred = load_predictor(spec)
    if accelerator is not None and accelerator != pred.accelerator:
        raise ApproxDSEError(f"predictor {spec!r} was trained for accelerator {pred.accelerator!r}, "
                             f"not {accelerator!r}; drop --accelerator or pass the model for {accelerator!r}")
    return pred, Path(spec).name


@dataclass
class PredictedReport:
    """One network's predicted energy (see the module docstring); ``to_dict``/``to_json``/``table``/``to_csv``."""

    network: str
    accelerator: str
    multiplier: str
    predictor: dict
    energy_pJ: float
    macs: int
    layers: list[dict] = field(default_factory=list)
    low_pJ: float | None = None
    high_pJ: float | None = None
    level: float | None = None
    out_of_domain_layers: tuple[str, ...] = ()
    input_shape: tuple[int, ...] | None = None

    @property
    def out_of_domain(self) -> bool:
        return bool(self.out_of_domain_layers)

    def totals(self) -> dict:
        out: dict[str, Any] = {"energy_pJ": self.energy_pJ, "energy_uJ": self.energy_pJ * 1e-6, "macs": self.macs,
                               "pJ_per_mac": self.energy_pJ / self.macs if self.macs else None}
        if self.predictor.get("kind") == "learned":
            out["interval"] = (None if self.low_pJ is None else
                               {"level": self.level, "low_pJ": self.low_pJ, "high_pJ": self.high_pJ})
            out["out_of_domain"] = self.out_of_domain
            out["out_of_domain_layers"] = list(self.out_of_domain_layers)
        return out

    def to_dict(self) -> dict:
        return {"network": self.network, "accelerator": self.accelerator, "multiplier": self.multiplier,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "predictor": self.predictor, "totals": self.totals(), "layers": self.layers}

    def to_json(self) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=1)

    def to_csv(self) -> str:
        import csv

        buf = io.StringIO()
        keys = list(self.layers[0]) if self.layers else ["name"]
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.layers)
        return buf.getvalue()

    def table(self, per_layer: bool = False) -> str:
        p = self.predictor
        lines = [f"{self.network} on {self.accelerator} with {self.multiplier}: predicted by {p['label']} "
                 f"({p['source']}; no mapping search)"]
        if per_layer:
            lines.append("")
            lines.append(f"  {'layer':<32} {'MACs':>14} {'energy uJ':>12}  domain")
            for layer in self.layers:
                e = layer.get("energy_pJ")
                lines.append(f"  {layer['name']:<32} {layer['macs']:>14,} "
                             f"{'-' if e is None else f'{e * 1e-6:12.4f}':>12}  "
                             f"{'OUT' if layer.get('out_of_domain') else 'in'}")
        lines.append("")
        lines.append(f"  energy                 {self.energy_pJ * 1e-6:.4f} uJ ({self.macs:,} MACs, "
                     f"{self.energy_pJ / max(self.macs, 1):.3f} pJ/MAC)")
        if self.low_pJ is not None:
            lines.append(f"  {self.level * 100:.0f}% interval           {self.low_pJ * 1e-6:.4f} .. "
                         f"{self.high_pJ * 1e-6:.4f} uJ")
        if p.get("kind") == "learned":
            n = len(self.out_of_domain_layers)
            lines.append("  out of domain          " + (
                f"yes: {n} of {len(self.layers)} layers outside the training range "
                f"({', '.join(self.out_of_domain_layers[:3])}{', ...' if n > 3 else ''}); "
                "check with the reference (drop --predictor)" if n else "no"))
        return "\n".join(lines)


def _label(pred) -> str:
    if pred.kind == "learned":
        return f"the learned predictor ({pred.model_kind}, {pred.granularity} level)"
    return "the summing predictor"


def predicted_energy(predictor, workload: Workload, multiplier: Any = "u8_exact", *, source: str = "",
                     layer_multipliers: dict | None = None,
                     input_shape: tuple[int, ...] | None = None) -> PredictedReport:
    """The :class:`PredictedReport` of ``workload`` under ``predictor`` (a fitted predictor object).

    ``layer_multipliers`` (``{layer name: multiplier}``, e.g. from an approximated module)
    overrides ``multiplier`` for those layers.
    """
    from approxdse.multipliers.resolve import resolve_multiplier

    name = resolve_multiplier(multiplier).name if isinstance(multiplier, str) else multiplier
    spec: Any = name
    if layer_multipliers:
        spec = {"*": name, **{k: v for k, v in layer_multipliers.items()}}
    acc = predictor.accelerator
    rel = per_layer_relative_energy(workload, spec)
    info = {"kind": predictor.kind, "label": _label(predictor), "source": source or predictor.kind,
            "reference": predictor.reference_info.get("reference"),
            "factorization": predictor.factorization,
            "training_networks": len(predictor.training_networks)}
    ood: tuple[str, ...] = ()
    low = high = level = None
    if isinstance(predictor, LearnedPredictor) and predictor.has_intervals:
        r = predictor.predict_interval([workload], [spec], acc, LEVEL)
        energy, low, high, level = float(r.energy[0]), float(r.low[0]), float(r.high[0]), r.level
        ood = r.out_of_domain_layers[0]
    else:
        energy = float(predictor.predict([workload], [spec], acc)[0])
        if isinstance(predictor, LearnedPredictor):
            ood = predictor.out_of_domain_layers(workload)
    per_layer = None
    if isinstance(predictor, LearnedPredictor) and predictor.granularity == "layer":
        macs = np.array([l.macs for l in workload.layers], dtype=np.float64)
        per_layer = predictor.predict_layers(workload) + (predictor.c or 0.0) * macs * (rel - 1.0)
    flagged = set(ood)
    layers = []
    for i, l in enumerate(workload.layers):
        row: dict[str, Any] = {"name": l.name, "kind": l.kind, "C": l.C, "M": l.M, "P": l.P, "Q": l.Q, "R": l.R,
                               "S": l.S, "N": l.N, "stride": l.stride, "groups": l.groups, "macs": l.macs,
                               "relative_energy": float(rel[i])}
        if per_layer is not None:
            row["energy_pJ"] = float(per_layer[i])
        if isinstance(predictor, LearnedPredictor):
            row["out_of_domain"] = l.name in flagged
        layers.append(row)
    label = name if isinstance(name, str) else "per-layer"
    return PredictedReport(workload.name, acc, label, info, energy, int(workload.macs), layers, low, high, level,
                           ood, input_shape)
