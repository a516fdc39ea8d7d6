"""Predictor vs reference: error and rank metrics, speed measured in one run, plots.

Metrics over the dataset rows of the predictor's accelerator (one row per
network x multiplier):

* ``r2``; ``mape_pct`` (mean absolute percentage error); ``max_ape_pct``;
* ``pearson``, ``spearman``, ``kendall`` (tau-b) between predicted and reference;
* ``top10_agreement``: the share of the reference's 10% lowest-energy rows that
  are also among the predictor's 10% lowest;
* ``per_network_pearson_min`` / ``_median``: Pearson over the multipliers of each
  fixed network (networks with at least 3 multipliers).

``evaluated_on`` says which networks were scored: ``held-out`` (none of them
among the predictor's training networks), ``training`` (all of them: the scores
then say nothing about new networks) or ``mixed``; ``n_training_networks`` and
``n_held_out_networks`` count them. :func:`compare_predictor` refuses
training-only data unless ``allow_training_data=True``.

``reference_mapper`` is the mapper the dataset's reference ran (``approxdse dataset
--mapper``) and ``reference_factorization`` its map space (``--factorization``); the
reference is timed with both too.

Speed: the reference (:func:`accelerators.estimate.estimate_energy`, exact
multiplier) and the predictor are timed on the same networks in the same run
(``reference_networks``, default 10, of the dataset's networks; the predictor
on the same networks, one batched ``predict`` call, best of 5). ``speedup`` is
the ratio of their networks per second. The reference's first call on a
network includes finding its mappings; that is what a search pays for a new
candidate.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from approxdse.accelerators import estimate
from approxdse.accelerators import mapper as mapper_module
from approxdse.core.errors import ApproxDSEError
from approxdse.core.figures import new_figure, save_figure
from approxdse.predictors.dataset import Dataset
from approxdse.predictors.reference import REFERENCE_FACTORIZATION, REFERENCE_MAPPER, reference_energy
from approxdse.predictors.summing import SummingPredictor

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def error_metrics(reference: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """R^2, MAPE, max APE, Pearson, Spearman, Kendall tau, top-10% agreement."""
    from scipy import stats

    y = np.asarray(reference, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.shape != p.shape or y.size == 0:
        raise ApproxDSEError("no rows to compare")
    if not np.all(np.isfinite(p)):
        raise ApproxDSEError("the predictor returned NaN or infinite energies")
    ape = np.abs(p - y) / np.abs(y) * 100.0
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    out = {
        "n_rows": int(y.size),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan,
        "mape_pct": float(ape.mean()),
        "max_ape_pct": float(ape.max()),
        "median_ape_pct": float(np.median(ape)),
    }
    if y.size >= 2 and np.ptp(y) > 0 and np.ptp(p) > 0:
        out["pearson"] = float(stats.pearsonr(y, p)[0])
        out["spearman"] = float(stats.spearmanr(y, p)[0])
        out["kendall"] = float(stats.kendalltau(y, p)[0])
    else:
        out["pearson"] = out["spearman"] = out["kendall"] = math.nan
    k = max(1, int(math.ceil(0.1 * y.size)))
    top_ref = set(np.argsort(y, kind="stable")[:k])
    top_pred = set(np.argsort(p, kind="stable")[:k])
    out["top10_agreement"] = len(top_ref & top_pred) / k
    return out


def per_network_pearson(networks: np.ndarray, reference: np.ndarray, predicted: np.ndarray) -> list[float]:
    """Pearson over the multipliers of each network that has at least 3 rows and varying energy."""
    out = []
    for n in np.unique(networks):
        mask = networks == n
        y, p = reference[mask], predicted[mask]
        if mask.sum() >= 3 and np.ptp(y) > 0 and np.ptp(p) > 0:
            out.append(float(np.corrcoef(y, p)[0, 1]))
    return out


@dataclass
class Comparison:
    """The result of :func:`compare_predictor`: ``metrics`` (JSON-safe) plus the rows compared."""

    metrics: dict
    reference: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    networks: np.ndarray = field(repr=False)

    def to_json(self) -> str:
        return json.dumps(_json_safe(self.metrics), indent=2, sort_keys=True)

    def table(self) -> str:
        """The metrics as text; one that is undefined (None: e.g. correlations of a single row) shows n/a."""
        m = self.metrics
        lines = [
            f"{m['predictor']} predictor vs reference on {m['accelerator']}: {m['n_rows']} rows, "
            f"{m['n_networks']} networks",
            f"  evaluated on           {_describe_evaluated_on(m)}",
            f"  reference mapper       {m.get('reference_mapper', REFERENCE_MAPPER)}, "
            f"{m.get('reference_factorization', REFERENCE_FACTORIZATION)} factorisation",
            "",
            f"  R^2                    {_num(m['r2'], '.5f')}",
            f"  MAPE                   {_num(m['mape_pct'], '.3f')} %",
            f"  median APE             {_num(m['median_ape_pct'], '.3f')} %",
            f"  max APE                {_num(m['max_ape_pct'], '.3f')} %",
            f"  Pearson                {_num(m['pearson'], '.5f')}",
            f"  Spearman               {_num(m['spearman'], '.5f')}",
            f"  Kendall tau            {_num(m['kendall'], '.5f')}",
            f"  top-10% agreement      {_num(None if m['top10_agreement'] is None else m['top10_agreement'] * 100, '.1f')} %",
        ]
        if m.get("per_network_pearson_min") is not None:
            lines.append(f"  per-network Pearson    min {m['per_network_pearson_min']:.6f}, "
                         f"median {m['per_network_pearson_median']:.6f}")
        if m.get("speedup") is not None:
            lines += [
                "",
                f"  reference              {m['reference_networks_per_s']:.3f} networks/s "
                f"({m['timed_networks']} networks, {m['reference_s']:.2f} s)",
                f"  predictor              {m['predictor_networks_per_s']:.1f} networks/s",
                f"  speedup                {m['speedup']:.0f}x",
            ]
        for form, sub in (m.get("forms") or {}).items():
            lines.append(f"  [{form} form] MAPE {_num(sub['mape_pct'], '.3f')} %, Pearson {_num(sub['pearson'], '.5f')}, "
                         f"Spearman {_num(sub['spearman'], '.5f')}")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike | None = None) -> "Figure":
        """Scatter (predicted vs reference, log-log) and histogram of the percentage errors, as one
        Figure; with ``path`` it is also written there (PNG, atomically)."""
        y, p = self.reference * 1e-6, self.predicted * 1e-6
        err = (self.predicted - self.reference) / self.reference * 100.0
        fig = new_figure((10, 4.2), dpi=110)
        ax1, ax2 = fig.subplots(1, 2)
        ax1.scatter(y, p, s=6, alpha=0.6)
        lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        ax1.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.set_xlabel("reference energy (uJ)")
        ax1.set_ylabel("predicted energy (uJ)")
        m = self.metrics
        ax1.set_title(f"{m['predictor']} on {m['accelerator']}: MAPE {_num(m['mape_pct'], '.2f')}%, "
                      f"Spearman {_num(m['spearman'], '.4f')}", fontsize=9)
        if m.get("evaluated_on"):
            fig.suptitle(f"evaluated on {_describe_evaluated_on(m)}", fontsize=9,
                         color="black" if m["evaluated_on"] == "held-out" else "firebrick")
        ax2.hist(err, bins=40)
        ax2.set_xlabel("prediction error (%)")
        ax2.set_ylabel("rows")
        ax2.set_title("error histogram", fontsize=9)
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path, format="png")
        return fig


EVALUATED_ON = ("held-out", "training", "mixed")


def evaluated_on(predictor, networks) -> tuple[str, int, int]:
    """(``held-out`` | ``training`` | ``mixed``, training networks scored, held-out networks scored)."""
    seen = set(predictor.training_networks)
    names = set(networks)
    n_train = len(names & seen)
    n_held = len(names) - n_train
    label = "training" if n_held == 0 else ("held-out" if n_train == 0 else "mixed")
    return label, n_train, n_held


def _describe_evaluated_on(m: dict) -> str:
    label = m.get("evaluated_on", "?")
    if label == "held-out":
        return f"held-out networks ({m.get('n_held_out_networks')} not seen in training)"
    if label == "training":
        return (f"TRAINING networks ({m.get('n_training_networks')}): these scores say nothing about "
                "networks the predictor has not seen")
    return (f"mixed: {m.get('n_held_out_networks')} held-out and {m.get('n_training_networks')} training networks")


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return _json_safe(obj.item())
    return obj


def time_reference(workloads: list, accelerator: str, multiplier: str = "u8_exact",
                   mapper: str = REFERENCE_MAPPER, factorization: str = REFERENCE_FACTORIZATION) -> float:
    """Seconds the reference (its layers mapped by ``mapper`` over ``factorization``'s map space)
    takes for these workloads, one after another, with cold mapping caches.

    Both of the mapper's caches are bypassed (in memory and on disk, ``accelerators.mapper.DISK_CACHE``): a new
    candidate network pays for its mappings' searches.
    """
    estimate.clear_cache()
    saved = mapper_module.DISK_CACHE
    mapper_module.DISK_CACHE = False
    try:
        t0 = time.perf_counter()
        for w in workloads:
            reference_energy(w, accelerator, multiplier, mapper, factorization)
        return time.perf_counter() - t0
    finally:
        mapper_module.DISK_CACHE = saved


def time_predictor(predictor, workloads: list, accelerator: str, multiplier: str = "u8_exact",
                   repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds of one batched ``predict`` over these workloads."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(workloads, multiplier, accelerator)
        best = min(best, time.perf_counter() - t0)
    return best


def compare_predictor(predictor, dataset: Any, reference_networks: int = 10, seed: int = 0,
                      time_it: bool = True, allow_training_data: bool = True) -> Comparison:
    """Compare a fitted predictor with a dataset's reference energies (see the module docstring).

    ``allow_training_data=False`` refuses a dataset whose networks were all used in training.
    """
    if not isinstance(dataset, Dataset):
        dataset = Dataset.load(dataset)
    acc = predictor.accelerator
    if acc is None:
        raise ApproxDSEError("the predictor is not fitted")
    if acc not in dataset.accelerators:
        raise ApproxDSEError(
            f"the predictor is for accelerator {acc!r} but dataset {dataset.directory!r} holds only "
            f"{', '.join(dataset.accelerators)}"
        )
    ds = dataset.for_accelerator(acc)
    predictor.check_dataset(ds)
    nets = ds.energy["network"].to_numpy()
    on, n_train, n_held = evaluated_on(predictor, nets)
    if on == "training" and not allow_training_data:
        raise ApproxDSEError(
            f"every network of dataset {ds.directory!r} was used to train this predictor, so the scores would say "
            "nothing about new networks; train with --holdout 0.25 (or on another dataset) and compare on the "
            "networks it did not see, or pass --allow-training-data"
        )
    y = ds.energy["total_energy_pJ"].to_numpy(dtype=np.float64)
    p = predictor.predict_dataset(ds)
    metrics: dict[str, Any] = {"predictor": _label(predictor), "accelerator": acc,
                               "n_networks": int(len(np.unique(nets))), "evaluated_on": on,
                               "n_training_networks": n_train, "n_held_out_networks": n_held,
                               "reference_mapper": ds.mapper, "reference_factorization": ds.factorization}
    metrics.update(error_metrics(y, p))
    per_net = per_network_pearson(nets, y, p)
    metrics["per_network_pearson_min"] = min(per_net) if per_net else None
    metrics["per_network_pearson_median"] = float(np.median(per_net)) if per_net else None
    if isinstance(predictor, SummingPredictor) and predictor.form != "free":
        free = SummingPredictor.from_dict({**predictor.to_dict(), "form": "free"})
        pf = free.predict_dataset(ds)
        metrics["forms"] = {"free": error_metrics(y, pf)}
        metrics["predictor"] = "summing (anchored on each network's exact energy)"
    if time_it and reference_networks > 0:
        names = sorted(np.unique(nets))
        order = np.random.default_rng(seed).permutation(len(names))[:reference_networks]
        workloads = [ds.workload(names[i]) for i in order]
        ref_s = time_reference(workloads, acc, mapper=ds.mapper, factorization=ds.factorization)
        if isinstance(predictor, SummingPredictor) and predictor.form != "free":
            timed = SummingPredictor.from_dict({**predictor.to_dict(), "form": "free"})
        else:
            timed = predictor
        pred_s = time_predictor(timed, workloads, acc)
        metrics.update({
            "timed_networks": len(workloads),
            "reference_s": ref_s,
            "predictor_s": pred_s,
            "reference_networks_per_s": len(workloads) / ref_s,
            "predictor_networks_per_s": len(workloads) / pred_s,
            "speedup": ref_s / pred_s,
        })
    else:
        metrics["speedup"] = None
    return Comparison(_json_safe(metrics), y, p, nets)


def _label(predictor) -> str:
    if predictor.kind == "learned":
        return f"{predictor.model_kind} ({predictor.granularity} level)"
    return predictor.kind


def _num(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``n/a`` when it is undefined (None or NaN)."""
    return "n/a" if value is None or value != value else format(value, spec)

