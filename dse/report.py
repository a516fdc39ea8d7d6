"""What a search run found: the Pareto front, hypervolume, savings, predictor error, plots.

:func:`finish_run` closes a run (reference energy of the front, tables,
``summary.json``, plots); :func:`write_report` re-computes the same from a
run directory's files (``approxdse search report RUN_DIR``), so it also works
on an interrupted run.

"Savings" follow the issue's yardstick: the *best exact-multiplier design*
is the most accurate feasible design whose multipliers are all exact (ties:
lower energy); the *best saving* is the lowest-energy feasible design within
``loss_points`` (default 1) accuracy points of it, and its saving is
``1 - energy / energy(best exact)``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.dse.candidate_row import COLUMNS as ROW_COLUMNS
from approxdse.core.figures import new_figure, save_figure
from approxdse.dse.algorithms import hypervolume, nondominated
from approxdse.dse.config import SearchConfig
from approxdse.dse.energy_objective import EnergyObjective, reference_energy
from approxdse.dse.run_files import CONFIG, LOG, read_checkpoint, read_log, write_atomic, write_table
from approxdse.dse.screening import format_screening, screening_summary
from approxdse.dse.search_space import Candidate
from approxdse.networks.genome import Genome

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The candidate table's columns: the fields of :class:`~dse.candidate_row.CandidateRow`.
COLUMNS = list(ROW_COLUMNS)


def _channel_groups(config) -> int:
    """Channel groups per layer of a run's candidates (1 unless ``space.granularity: channel``)."""
    return int(config.space.channel_groups) if config.space.granularity == "channel" else 1


def _feasible(df):
    return df[(df["status"] == "ok") & df["feasible"].astype(bool)]


def search_rows(df):
    """The rows the algorithm asked for (not the exact twins evaluated after it)."""
    if "phase" not in df.columns:
        return df
    return df[df["phase"].fillna("search") == "search"]


def pareto_front(df):
    """The non-dominated feasible designs (energy, error), one row per distinct candidate, by energy."""
    ok = _feasible(df).drop_duplicates("key")
    if ok.empty:
        return ok.copy()
    F = ok[["energy", "error"]].to_numpy(dtype=float)
    front = ok.iloc[nondominated(F)].sort_values("energy").reset_index(drop=True)
    return front


def hypervolume_history(df, ref_point):
    """Hypervolume of the front of everything evaluated up to each generation.

    Objectives are divided by the reference point first, so the value is the
    share (0..1) of the box ``[0, ref_energy] x [0, ref_error]`` the front dominates.
    """
    import pandas as pd

    rows = []
    if df.empty:
        return pd.DataFrame(columns=["generation", "evaluations", "hypervolume", "front_size"])
    df = search_rows(df)
    ok = _feasible(df)
    scale = np.asarray(ref_point, dtype=float)
    for gen in sorted(df["generation"].unique()):
        upto = ok[ok["generation"] <= gen]
        F = upto[["energy", "error"]].to_numpy(dtype=float) / scale
        rows.append({"generation": int(gen), "evaluations": int((df["generation"] <= gen).sum()),
                     "hypervolume": hypervolume(F, (1.0, 1.0)), "front_size": len(pareto_front(upto))})
    return pd.DataFrame(rows)


def savings(df, loss_points: float = 1.0) -> dict[str, Any]:
    """The best exact-multiplier design and the cheapest design within ``loss_points`` of it."""
    ok = _feasible(df)
    exact = ok[ok["exact"].astype(bool)]
    if exact.empty:
        return {"best_exact": None, "best_saving": None}
    best = exact.sort_values(["accuracy", "energy"], ascending=[False, True]).iloc[0]
    within = ok[ok["accuracy"] >= best["accuracy"] - loss_points / 100.0 - 1e-12]
    cheap = within.sort_values(["energy", "accuracy"], ascending=[True, False]).iloc[0]

    def brief(row) -> dict:
        return {"key": row["key"], "multiplier": row["multiplier"], "accuracy": float(row["accuracy"]),
                "energy": float(row["energy"]), "params": int(row["params"]), "macs": int(row["macs"]),
                "n_layers": int(row["n_layers"])}

    return {
        "best_exact": brief(best),
        "best_saving": {**brief(cheap),
                        "energy_saving": float(1.0 - cheap["energy"] / best["energy"]),
                        "accuracy_loss_points": float(100.0 * (best["accuracy"] - cheap["accuracy"]))},
        "loss_points": loss_points,
    }


def predictor_error(front) -> dict[str, Any]:
    """How far the search's energy objective is from the reference on the front."""
    sub = front[np.isfinite(front["reference_energy"].astype(float))]
    out: dict[str, Any] = {"n": int(len(sub))}
    if len(sub) == 0:
        return out
    pred, ref = sub["energy"].to_numpy(float), sub["reference_energy"].to_numpy(float)
    if len(sub) >= 2:
        from scipy.stats import spearmanr

        rho = spearmanr(pred, ref).statistic
        out["spearman"] = float(rho) if np.isfinite(rho) else None
    if sub["energy_model"].iloc[0] != "multiplications":
        rel = (pred - ref) / ref
        out.update({"mape_pct": float(100 * np.mean(np.abs(rel))), "max_abs_pct": float(100 * np.max(np.abs(rel))),
                    "mean_pct": float(100 * np.mean(rel))})
    return out


def reference_front(df, front, accelerator: str, energy_model: str, progress: bool = False,
                    channel_groups: int = 1):
    """Fill ``reference_energy`` / ``predictor_error`` of the front's rows (in ``df`` and ``front``)."""
    notes = []
    for i, row in front.iterrows():
        if energy_model == "reference":
            ref = float(row["energy"])
        elif np.isfinite(float(row["reference_energy"])):
            ref = float(row["reference_energy"])
        else:
            try:
                cand = Candidate(Genome.from_json(row["genome"]), tuple(json.loads(row["multipliers"])), True,
                                 channel_groups)
                ref = reference_energy(cand, accelerator)
            except Exception as exc:  # the reference model may be missing or reject a layer
                notes.append(f"{row['key']}: {type(exc).__name__}: {exc}")
                continue
        front.loc[i, "reference_energy"] = ref
        err = (float(row["energy"]) - ref) / ref if energy_model != "multiplications" else math.nan
        front.loc[i, "predictor_error"] = err
        mask = df["key"] == row["key"]
        df.loc[mask, "reference_energy"] = ref
        df.loc[mask, "predictor_error"] = err
    return notes


def _summary(config, df, front, hv, notes, wall_s: float | None) -> dict:
    unit = EnergyObjective(config.energy.predictor).unit if not config.energy.is_file else "pJ"
    twins = len(df) - len(search_rows(df))
    ok = df[df["status"] == "ok"]
    summary = {
        "name": config.name, "algorithm": config.algorithm.name, "seed": config.seed,
        "budget": config.algorithm.budget, "evaluations": int(len(df) - twins), "exact_twins": int(twins),
        "distinct_candidates": int(df["key"].nunique()) if len(df) else 0,
        "trained_genomes": int((df["train_s"] > 0).sum()) if len(df) else 0,
        "ok": int(len(ok)), "failed": int((df["status"] == "failed").sum()),
        "infeasible": int((df["status"] == "infeasible").sum()),
        "screened": int((df["status"] == "screened").sum()),
        "energy_model": config.energy.predictor if not config.energy.is_file else str(config.energy.predictor),
        "energy_unit": unit, "accelerator": config.energy.accelerator,
        "front_size": int(len(front)),
        "hypervolume": float(hv["hypervolume"].iloc[-1]) if len(hv) else None,
        "evaluation_time_s": float(df["time_s"].sum()) if len(df) else 0.0,
        **savings(df),
        "predictor_error_on_front": predictor_error(front) if len(front) else {"n": 0},
    }
    if config.screening.active or ("screened" in df.columns and df["screened"].eq(True).any()):
        summary["screening"] = screening_summary(df, config.screening.mode, list(front["key"]) if len(front) else [])
    if notes:
        summary["reference_notes"] = notes[:10]
    if wall_s is not None:
        summary["wall_s"] = wall_s
    return summary


def finish_run(run, wall_s: float | None = None) -> dict:
    """Close a run: reference energies of the front, final tables, summary.json, plots."""
    cfg = run.config
    df = run.table()
    front = pareto_front(df)
    notes = []
    if cfg.energy.reference_front and len(front):
        notes = reference_front(df, front, cfg.energy.accelerator, cfg.energy.predictor if not cfg.energy.is_file
                                else "file", channel_groups=_channel_groups(cfg))
    write_table(df, run.run_dir / "candidates")
    write_table(front, run.run_dir / "front")
    ref = run.reference_point() or (1.0, 1.0)
    hv = hypervolume_history(df, ref)
    write_table(hv, run.run_dir / "hypervolume")
    summary = _summary(cfg, df, front, hv, notes, wall_s)
    summary["reference_point"] = list(ref)
    write_atomic(run.run_dir / "summary.json", json.dumps(summary, indent=2, default=float))
    plot_front(df, front, run.run_dir / "front.png", summary)
    plot_hypervolume(hv, run.run_dir / "hypervolume.png", cfg.name)
    return summary


# ---------------------------------------------------------------------- reading back
def load_table(run_dir: Path):
    """The candidates of a run: ``candidates.parquet``, else the log (an interrupted run)."""
    import pandas as pd

    run_dir = Path(run_dir)
    if (run_dir / "candidates.parquet").is_file():
        return pd.read_parquet(run_dir / "candidates.parquet")
    if (run_dir / LOG).is_file():
        return pd.DataFrame(read_log(run_dir), columns=COLUMNS)
    return pd.DataFrame(columns=COLUMNS)


def write_report(run_dir: str | Path, *, reference: bool = False) -> dict:
    """Re-compute the front, hypervolume, summary and plots of ``run_dir`` from its files."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise ApproxDSEError(f"{str(run_dir)!r} is not a search run directory (no {CONFIG})")
    config = SearchConfig.load(run_dir / CONFIG)
    ckpt = read_checkpoint(run_dir)  # a corrupt checkpoint is refused before anything is written
    df = load_table(run_dir)
    if df.empty:
        raise ApproxDSEError(f"{str(run_dir)!r} has no evaluated candidates yet")
    front = pareto_front(df)
    notes = []
    if reference and len(front):
        notes = reference_front(df, front, config.energy.accelerator,
                                config.energy.predictor if not config.energy.is_file else "file",
                                channel_groups=_channel_groups(config))
        write_table(df, run_dir / "candidates")
    write_table(front, run_dir / "front")
    ref = config.hypervolume.reference_point or ckpt.get("reference_point") or (1.0, 1.0)
    hv = hypervolume_history(df, ref)
    write_table(hv, run_dir / "hypervolume")
    old = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else {}
    summary = _summary(config, df, front, hv, notes or old.get("reference_notes", []), old.get("wall_s"))
    summary["reference_point"] = list(ref)
    summary["state"] = ckpt.get("state", "unknown")
    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=float))
    plot_front(df, front, run_dir / "front.png", summary)
    plot_hypervolume(hv, run_dir / "hypervolume.png", config.name)
    return summary


def format_report(summary: dict, front) -> str:
    """The summary and the front as text (what ``approxdse search report`` prints)."""
    unit = summary.get("energy_unit", "")
    lines = [
        f"search {summary['name']} ({summary['algorithm']}, seed {summary['seed']}): "
        f"{summary['evaluations']}/{summary['budget']} evaluations, {summary['ok']} ok, "
        f"{summary['failed']} failed, {summary['infeasible']} infeasible"
        + (f", {summary['screened']} screened" if summary.get("screened") else ""),
        f"energy model: {summary['energy_model']} ({unit}) on {summary['accelerator']}; "
        f"hypervolume {summary['hypervolume']:.6g}" if summary.get("hypervolume") is not None else
        f"energy model: {summary['energy_model']} ({unit}) on {summary['accelerator']}",
    ]
    if summary.get("screening"):
        lines.append(format_screening(summary["screening"]))
    be, bs = summary.get("best_exact"), summary.get("best_saving")
    if be:
        lines.append(f"best exact-multiplier design: accuracy {100 * be['accuracy']:.2f}%, energy {be['energy']:.4g}")
    if bs:
        lines.append(f"cheapest design within {summary.get('loss_points', 1):g} point(s): {bs['multiplier']}, "
                     f"accuracy {100 * bs['accuracy']:.2f}%, energy {bs['energy']:.4g} "
                     f"({100 * bs['energy_saving']:.1f}% less, {bs['accuracy_loss_points']:.2f} points lost)")
    pe = summary.get("predictor_error_on_front") or {}
    if pe.get("n"):
        parts = [f"{pe['n']} designs"]
        if "mape_pct" in pe:
            parts.append(f"MAPE {pe['mape_pct']:.2f}%, max {pe['max_abs_pct']:.2f}%")
        if pe.get("spearman") is not None:
            parts.append(f"Spearman {pe['spearman']:.3f}")
        lines.append("energy objective vs reference on the front: " + ", ".join(parts))
    lines.append(f"Pareto front ({len(front)} designs):")
    if len(front):
        cols = ["energy", "reference_energy", "accuracy", "multiplier", "params", "n_layers", "generation"]
        lines.append(front[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


# ---------------------------------------------------------------------- plots
def plot_front(df, front, path: Path | None = None, summary: dict | None = None) -> "Figure":
    """Accuracy vs energy of every feasible design, exact vs approximate, the front as a staircase.
    Returns the Figure; with ``path`` it is also written there (PNG, atomically)."""
    ok = _feasible(df)
    fig = new_figure((7, 4.5), dpi=120)
    ax = fig.subplots()
    approx = ok[~ok["exact"].astype(bool)]
    exact = ok[ok["exact"].astype(bool)]
    ax.scatter(approx["energy"], 100 * approx["accuracy"], s=14, alpha=0.45, color="tab:blue",
               label="approximate multiplier(s)")
    ax.scatter(exact["energy"], 100 * exact["accuracy"], s=18, alpha=0.7, color="tab:gray", marker="s",
               label="exact multiplier")
    if len(front):
        ax.step(front["energy"], 100 * front["accuracy"], where="post", color="tab:red", lw=1.5)
        ax.scatter(front["energy"], 100 * front["accuracy"], s=36, color="tab:red", zorder=3,
                   label=f"Pareto front ({len(front)})")
    if summary and summary.get("best_exact") and summary.get("best_saving") \
            and summary["best_saving"]["key"] != summary["best_exact"]["key"]:
        be, bs = summary["best_exact"], summary["best_saving"]
        ax.annotate("best exact", (be["energy"], 100 * be["accuracy"]), textcoords="offset points",
                    xytext=(6, -12), fontsize=8)
        ax.annotate(f"-{100 * bs['energy_saving']:.0f}% energy", (bs["energy"], 100 * bs["accuracy"]),
                    textcoords="offset points", xytext=(6, 6), fontsize=8)
    unit = (summary or {}).get("energy_unit", "")
    if len(ok) and (ok["energy"] > 0).any():  # a run whose every candidate failed has nothing to log-scale
        ax.set_xscale("log")
    ax.set_xlabel(f"energy per inference ({unit})" if unit else "energy per inference")
    ax.set_ylabel("validation accuracy (%)")
    if len(ok):
        lo = max(0.0, float(np.nanpercentile(100 * ok["accuracy"], 10)) - 5)
        # Every front design and annotated design stays inside the range, however low its accuracy.
        shown = list(100 * front["accuracy"]) if len(front) else []
        shown += [100 * (summary or {})[k]["accuracy"] for k in ("best_exact", "best_saving") if (summary or {}).get(k)]
        if shown:
            lo = min(lo, max(0.0, float(np.nanmin(shown)) - 2))
        ax.set_ylim(lo, 100.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title((summary or {}).get("name", "search"))
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, format="png")
    return fig


def plot_hypervolume(hv, path: Path | None = None, title: str = "") -> "Figure":
    """Hypervolume of the front found so far, by generation. Returns the Figure; with
    ``path`` it is also written there (PNG, atomically)."""
    fig = new_figure((5, 3.5), dpi=120)
    ax = fig.subplots()
    if len(hv):
        ax.plot(hv["generation"] + 1, hv["hypervolume"], marker="o")
    ax.set_xlabel("generation")
    ax.set_ylabel("hypervolume (energy x error)")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, format="png")
    return fig
