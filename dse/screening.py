"""Screening: skip the accuracy evaluation of candidates the error model predicts to be far off the front.

With ``screening.mode: skip`` (or ``approxdse search run CONFIG --screen skip``) each generation's
new candidates are first scored by :func:`approxdse.dse.evaluation.predict_group`: their genome's
float model is trained (or read from the weights cache -- the evaluation would need it anyway),
quantised with the exact multiplier and calibrated, the layer error model
(:class:`approxdse.emulator.error_model.NetworkErrorModel`) measures each layer's operand
statistics on ``screening.batches`` training batches, and every candidate gets its *predicted
relative output error* ``p = sqrt(sum_l (sigma_l / S_l)^2)`` (each layer's predicted output-error
std over the std of its exact output; 0 for the exact multiplier). What it skips is the
emulated part of the evaluation -- quantisation, calibration, fine-tuning and the LUT-emulated
validation pass -- not the float training.

:func:`screen_decisions` then screens a candidate (``p >= noise_floor``, never the exact one) when

a. ``p > max_predicted_error`` (when set), or
b. an evaluated design ``f`` of the *same network* (an earlier generation) has
   ``p >= margin * p_f``, and a feasible evaluated design ``g`` (any network, earlier generation;
   ``g`` may be ``f``) has energy ``<=`` the candidate's and error ``<= error(f)``: the candidate
   is predicted no more accurate than ``f``, so ``g`` is predicted to dominate it; or
c. a design ``c'`` of the same network in the same generation, not itself screened, has energy
   ``<=`` the candidate's and ``p >= margin * p_c'``: ``c'`` is evaluated and predicted to dominate it;
   or
d. (with ``constraints.min_accuracy``) the candidate's float accuracy minus the smallest accuracy
   drop (float minus approximate accuracy) of the evaluated designs, any network, whose ``p`` is
   at least ``p / margin`` -- at least ``MIN_EVIDENCE`` of them -- is below ``min_accuracy``: the
   designs with at least that much predicted error all lost more than the candidate can afford.

Rules (b) and (c) assume that within one network a much larger predicted output error does not
buy accuracy; ``margin`` (default 2) is what "much" means. The decisions depend only on the log
of earlier generations and on this generation's predictions, so a run gives the same decisions
with any number of workers and when resumed. A screened candidate is logged with
``status: screened`` (and ``screened: true``, its ``predicted_output_error``, ``screen_s``); the
algorithm sees it like an infeasible design. ``mode: audit`` makes the same decisions but
evaluates the screened candidates anyway, which measures what skipping them would have saved and
whether any of them would have reached the front (the search then runs as with screening off).

:func:`screening_summary` is the ``screening`` entry of ``summary.json``: candidates screened,
the measured screening time, the time of the skipped evaluations (estimated in ``skip`` mode
from the evaluations of the same network, else from the run's evaluation time per MAC; measured
in ``audit`` mode) and their difference, the time saved. Candidates of ``granularity: channel``
searches are scored but never screened (their channel assignment is only known once the
evaluation has ranked the channels).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

#: Rule (d) needs at least this many evaluated designs at the candidate's predicted error / margin or more.
MIN_EVIDENCE = 3


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def screen_decisions(batch: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]],
                     config, min_accuracy: float | None = None) -> dict[str, str]:
    """``{candidate key: reason}`` of the candidates of ``batch`` to screen (see the module docstring).

    ``batch``: one dict per candidate of this generation with ``key``, ``genome_key``, ``status``
    (``ok`` when it passed the checks that need no training), ``energy`` and
    ``predicted_output_error`` (NaN: not scored, never screened). ``history``: the log rows of the
    earlier generations (``status``, ``feasible``, ``genome_key``, ``energy``, ``error``,
    ``predicted_output_error``, and for rule (d) ``accuracy`` and ``float_accuracy``, which a batch
    candidate carries too). ``config``: a :class:`~approxdse.dse.config.ScreeningConfig`;
    ``min_accuracy``: the search's ``constraints.min_accuracy`` (None: no rule (d)).
    """
    margin, floor, limit = float(config.margin), float(config.noise_floor), config.max_predicted_error
    evaluated = [r for r in history if r.get("status") == "ok" and _finite(r.get("error"))]
    feasible = [r for r in evaluated if r.get("feasible")]
    by_genome: dict[str, list[Mapping[str, Any]]] = {}
    for r in evaluated:
        if _finite(r.get("predicted_output_error")):
            by_genome.setdefault(r["genome_key"], []).append(r)
    drops = sorted(((float(r["predicted_output_error"]), float(r["float_accuracy"]) - float(r["accuracy"]))
                    for r in evaluated if _finite(r.get("predicted_output_error")) and _finite(r.get("accuracy"))
                    and _finite(r.get("float_accuracy"))), key=lambda t: t[0])
    scored = [c for c in batch if c.get("status") == "ok" and _finite(c.get("predicted_output_error"))
              and _finite(c.get("energy"))]
    scored.sort(key=lambda c: (c["predicted_output_error"], c["energy"], c["key"]))
    verdicts: dict[str, str] = {}
    kept: list[Mapping[str, Any]] = []
    for c in scored:
        p, energy = float(c["predicted_output_error"]), float(c["energy"])
        reason = None
        if p > 0 and p >= floor:
            if limit is not None and p > limit:
                reason = f"predicted output error {p:.3g} > max_predicted_error {limit:g}"
            if reason is None:
                for f in by_genome.get(c["genome_key"], ()):
                    if p < margin * float(f["predicted_output_error"]):
                        continue
                    g = next((g for g in feasible if g["energy"] <= energy and g["error"] <= f["error"]), None)
                    if g is not None:
                        reason = (f"predicted output error {p:.3g} >= {margin:g} x {f['predicted_output_error']:.3g} "
                                  f"of an evaluated design of this network (error {f['error']:.4f}); a design of "
                                  f"energy {g['energy']:.4g} <= {energy:.4g} has error {g['error']:.4f}")
                        break
            if reason is None and min_accuracy is not None and _finite(c.get("float_accuracy")):
                at_least = [d for q, d in drops if q >= p / margin]
                if len(at_least) >= MIN_EVIDENCE and float(c["float_accuracy"]) - min(at_least) < min_accuracy:
                    reason = (f"predicted output error {p:.3g}: the {len(at_least)} evaluated designs with at least "
                              f"{p / margin:.3g} lost >= {min(at_least):.4f} accuracy; float accuracy "
                              f"{float(c['float_accuracy']):.4f} minus that is below min_accuracy {min_accuracy:g}")
            if reason is None:
                peer = next((k for k in kept if k["genome_key"] == c["genome_key"] and k["key"] != c["key"]
                             and k["energy"] <= energy and p >= margin * float(k["predicted_output_error"])), None)
                if peer is not None:
                    reason = (f"predicted output error {p:.3g} >= {margin:g} x {peer['predicted_output_error']:.3g} "
                              f"of a design of this network in this generation with energy "
                              f"{peer['energy']:.4g} <= {energy:.4g}")
        if reason is None:
            kept.append(c)
        else:
            verdicts[c["key"]] = reason
    return verdicts


def screening_summary(df, mode: str, front_keys: Sequence[str] = ()) -> dict[str, Any]:
    """The ``screening`` entry of a run's summary from its candidate table (see the module docstring)."""
    cols = set(df.columns)
    if "screened" not in cols or "phase" not in cols:
        return {"mode": mode, "scored": 0, "screened": 0}
    search = df[df["phase"].fillna("search") == "search"]
    own = search[~search["cached"].astype(bool)]
    screened = own[own["screened"].eq(True)]
    scored = own[np.isfinite(own["predicted_output_error"].astype(float))]
    screening_s = float(own["screen_s"].fillna(0.0).astype(float).sum())
    evaluated = own[(own["status"] == "ok") & ~own["screened"].eq(True)
                    & (own["eval_s"].astype(float) > 0)]
    out: dict[str, Any] = {"mode": mode, "scored": int(len(scored)), "screened": int(len(screened)),
                           "screening_s": screening_s}
    if mode == "audit":
        skipped = float(screened["eval_s"].astype(float).sum())
        out["skipped_eval_s"] = skipped
        out["skipped_eval_s_source"] = "measured"
        keys = set(front_keys)
        out["screened_on_front"] = int(sum(k in keys for k in screened["key"]))
        acc = screened["accuracy"].astype(float)
        out["screened_max_accuracy"] = float(acc.max()) if len(acc) and np.isfinite(acc).any() else None
    else:
        per_genome = evaluated.groupby("genome_key")["eval_s"].mean().to_dict() if len(evaluated) else {}
        macs = evaluated["macs"].astype(float).sum()
        per_mac = float(evaluated["eval_s"].astype(float).sum() / macs) if macs > 0 else math.nan
        skipped, from_genome, from_rate = 0.0, 0, 0
        for _, row in screened.iterrows():
            if row["genome_key"] in per_genome:
                skipped += float(per_genome[row["genome_key"]])
                from_genome += 1
            elif math.isfinite(per_mac):
                skipped += per_mac * float(row["macs"])
                from_rate += 1
        out["skipped_eval_s"] = skipped
        out["skipped_eval_s_source"] = (f"estimated: {from_genome} from the same network's evaluations, "
                                        f"{from_rate} from the run's evaluation time per MAC")
    out["saved_s"] = out["skipped_eval_s"] - screening_s
    evaluated_s = float(evaluated["eval_s"].astype(float).sum())
    out["evaluation_s"] = evaluated_s
    return out


def format_screening(s: Mapping[str, Any]) -> str:
    """One line of the text report."""
    if not s.get("scored"):
        return f"screening ({s.get('mode')}): no candidate scored"
    verb = "flagged (evaluated anyway)" if s["mode"] == "audit" else "skipped"
    line = (f"screening ({s['mode']}): {s['screened']} of {s['scored']} scored candidates {verb}; "
            f"error model {s['screening_s']:.1f} s vs {s['skipped_eval_s']:.1f} s of evaluations "
            f"({'measured' if s['mode'] == 'audit' else 'estimated'}): {s['saved_s']:+.1f} s saved")
    if s["mode"] == "audit":
        line += f"; {s.get('screened_on_front', 0)} flagged design(s) on the front"
    return line
