"""Helpers of the search tests: a cheap analytic evaluator and small configs.

The analytic evaluator stands in for training when a test exercises the
search machinery (algorithms, run directory, resume, determinism): its
"accuracy" grows with the network's MACs and falls with the multiplier's mean
absolute error, so the energy x error trade-off is real but costs microseconds.
The real pipeline (training on digits, the emulator) is tested separately.
"""
from __future__ import annotations

import math

import yaml

from approxdse import multipliers
from approxdse.dse.search_space import Candidate

#: ``fail_mod``: fail every genome whose key (as an integer) is divisible by it (a diverging "training").
STATE = {"calls": 0, "interrupt_after": None, "fail_mod": None}


def analytic_eval(settings, cands):
    """Evaluate candidates of one genome analytically (same keys as ``dse.evaluation.evaluate_group``)."""
    out = []
    for d in cands:
        c = Candidate.from_dict(d)
        w = c.genome.to_workload()
        per_layer = c.layer_multipliers()
        mults = {n: multipliers.get(n) for n in set(c.multipliers)}
        energy = float(sum(l.macs * mults[per_layer[l.name]].relative_energy for l in w.layers))
        mae = sum(mults[per_layer[l.name]].metrics.mae_pct * l.macs for l in w.layers) / w.macs
        acc = 1.0 - 0.5 / (1.0 + math.log1p(w.macs) / 3.0) - 0.03 * mae
        row = {"key": c.key(), "status": "ok", "accuracy": acc, "float_accuracy": acc + 0.01 * mae,
               "energy": energy, "params": w.weights, "macs": w.macs, "time_s": 0.001}
        if STATE["fail_mod"] and int(c.genome.key(), 16) % STATE["fail_mod"] == 0:
            row.update(status="failed", accuracy=math.nan, message="training diverged (injected)")
        out.append(row)
    return out


def paced_eval(settings, cands):
    """:func:`analytic_eval` taking ``$APPROXDSE_TEST_PACE_S`` (default 0.05) seconds per candidate,
    so that a kill can land in the middle of a run (the fault-injection tests)."""
    import os
    import time

    time.sleep(float(os.environ.get("APPROXDSE_TEST_PACE_S", "0.05")) * len(cands))
    return analytic_eval(settings, cands)


def interrupting_eval(settings, cands):
    """:func:`analytic_eval`, raising KeyboardInterrupt once ``STATE['interrupt_after']`` calls are done."""
    STATE["calls"] += 1
    limit = STATE["interrupt_after"]
    if limit is not None and STATE["calls"] > limit:
        raise KeyboardInterrupt
    return analytic_eval(settings, cands)


def small_config(**overrides) -> dict:
    """A small digits search config (as a dict) with the analytic-friendly multiplications energy."""
    cfg = {
        "name": "test",
        "seed": 3,
        "dataset": {"name": "digits"},
        "space": {
            "network": {"preset": "digits", "max_stages": 3, "max_blocks_per_stage": 2, "max_channels": 64},
            "multipliers": {"families": ["bam", "trunc"], "signed": False},
        },
        "energy": {"predictor": "multiplications", "reference_front": False},
        "algorithm": {"name": "nsga2", "population": 8, "generations": 4},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(path, **overrides):
    path.write_text(yaml.safe_dump(small_config(**overrides)))
    return path


#: Calls of :func:`analytic_screen` (number of candidates scored).
SCREEN_STATE = {"scored": 0}


def analytic_screen(settings, cands):
    """A stand-in for ``dse.evaluation.predict_group``: the analytic energy, and a "predicted output
    error" that grows with the multipliers' MAE (0 for the exact multiplier), as the analytic
    accuracy falls with it."""
    out = []
    for row, d in zip(analytic_eval(settings, cands), cands):
        c = Candidate.from_dict(d)
        w = c.genome.to_workload()
        per_layer = c.layer_multipliers()
        mae = sum(multipliers.get(per_layer[l.name]).metrics.mae_pct * l.macs for l in w.layers) / w.macs
        SCREEN_STATE["scored"] += 1
        out.append({"key": row["key"], "status": row["status"], "energy": row["energy"], "params": row["params"],
                    "macs": row["macs"], "message": row.get("message", ""), "predicted_output_error": 0.2 * mae,
                    "screen_s": 0.0001, "train_s": 0.0, "time_s": 0.0})
    return out
