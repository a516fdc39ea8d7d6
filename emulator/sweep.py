"""The catalog sweep: approximate accuracy of one network for many multipliers, one
row per multiplier with its relative energy (the table behind an accuracy-vs-energy
plot), saved row by row so an interrupted sweep resumes."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from torch import nn
from tqdm import tqdm

from approxdse.core.atomic_files import atomic_path, atomic_write_text, make_dirs, remove_stale_temps
from approxdse.core.errors import ApproxDSEError
from approxdse.core.interrupts import raise_if_interrupted
from approxdse.emulator.assignment import exact_counterpart, resolve_multiplier
from approxdse.emulator.datasets import DatasetSplits, load_dataset
from approxdse.emulator.emulation import emulate
from approxdse.emulator.evaluation import timed_accuracy
from approxdse.emulator.model_cache import TrainedModel, float_model_for
from approxdse.emulator.plots import plot_accuracy_vs_energy
from approxdse.emulator.reports import accuracy_report
from approxdse.multipliers.catalog import names as catalog_names
from approxdse.multipliers.multiplier import Multiplier

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SWEEP_CSV", "SWEEP_PNG", "accuracy_sweep"]

SWEEP_CSV = "accuracy_sweep.csv"
SWEEP_PNG = "accuracy_sweep.png"
_SWEEP_PARTIAL = "accuracy_sweep.partial.csv"
_SWEEP_SETTINGS = "accuracy_sweep.settings.json"


def _metric(m: Multiplier, attr: str) -> float | None:
    try:
        value = getattr(m.metrics, attr)
    except Exception:  # metrics not available for this multiplier
        return None
    return float(value) if value is not None else None


def accuracy_sweep(
    network: str | nn.Module | TrainedModel = "lenet5",
    dataset: str = "digits",
    multipliers: Sequence[Any] | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    fine_tune_epochs: int = 0,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    batch_size: int = 256,
    resume: bool = True,
    progress: bool = True,
    **options: Any,
) -> "pd.DataFrame":
    """Approximate accuracy of ``network`` on ``dataset`` for each of ``multipliers``
    (default: every catalog multiplier), one row per multiplier, with its relative
    energy: the table behind an accuracy-vs-energy plot.

    The float model is trained once (cached) and the 8-bit exact accuracy is measured
    once per signedness. A multiplier that cannot run (e.g. ``exact-decomposition``
    mode on a LUT without that structure) gets its reason in the ``error`` column.
    With ``out_dir`` the table goes to ``accuracy_sweep.csv`` and the plot to
    ``accuracy_sweep.png`` there; rows are saved as they finish, and with ``resume``
    an interrupted sweep with the same settings continues where it stopped.
    """
    import pandas as pd

    names = list(multipliers) if multipliers is not None else list(catalog_names())
    if not names:
        raise ApproxDSEError("the sweep has no multipliers to evaluate")
    resolved = [resolve_multiplier(m) for m in names]  # fail fast on unknown names
    if data is None:
        data = load_dataset(dataset, data_dir)
    trained = float_model_for(network, data, seed, epochs, progress)

    settings = {"network": trained.network, "dataset": data.name, "fingerprint": data.fingerprint(), "seed": seed,
                "epochs": trained.epochs, "fine_tune_epochs": fine_tune_epochs, "backend": backend, "mode": mode,
                "calibration": calibration, "options": {k: repr(v) for k, v in sorted(options.items())}}
    out = Path(out_dir) if out_dir is not None else None
    done: dict[str, dict] = {}
    if out is not None:
        make_dirs(out)
        remove_stale_temps(out, "accuracy_sweep*")  # of a sweep killed mid-write (SIGKILL)
        partial, settings_file = out / _SWEEP_PARTIAL, out / _SWEEP_SETTINGS
        if resume and partial.is_file() and settings_file.is_file():
            try:
                if json.loads(settings_file.read_text()) == settings:
                    done = {str(r["multiplier"]): r for r in pd.read_csv(partial).to_dict("records")}
            except (ValueError, KeyError, pd.errors.ParserError):
                done = {}
        if not done:
            partial.unlink(missing_ok=True)
        atomic_write_text(settings_file, json.dumps(settings, indent=2))

    float_acc, _ = timed_accuracy(trained.model, data.test, batch_size)
    exact_cache: dict[bool, tuple[float, float]] = {}
    rows: list[dict] = []
    bar = tqdm(resolved, desc="multipliers", disable=not progress)
    for m in bar:
        bar.set_postfix_str(m.name)
        if m.name in done:
            rows.append(done[m.name])
            continue
        row: dict[str, Any] = {
            "multiplier": m.name, "family": m.family, "signed": m.signed, "relative_energy": m.relative_energy,
            "mae_pct": _metric(m, "mae_pct"), "wce_pct": _metric(m, "wce_pct"), "float_accuracy": float_acc,
        }
        try:
            if m.signed not in exact_cache:
                qexact = emulate(trained.model, exact_counterpart(m), data, backend=backend, mode="lut",
                                 calibration=calibration)
                exact_cache[m.signed] = timed_accuracy(qexact, data.test, batch_size)
            report = accuracy_report(
                trained.network, data.name, m, data=data, seed=seed, fine_tune_epochs=fine_tune_epochs,
                backend=backend, mode=mode, calibration=calibration, batch_size=batch_size, float_model=trained,
                exact_8bit_accuracy=exact_cache[m.signed][0], exact_8bit_time_s=exact_cache[m.signed][1],
                **options,
            )
            row.update(exact_8bit_accuracy=report.exact_8bit_accuracy, approx_accuracy=report.approx_accuracy,
                       accuracy_drop=report.accuracy_drop, fine_tuned_accuracy=report.fine_tuned_accuracy,
                       approx_time_s=report.approx_time_s, fine_tune_time_s=report.fine_tune_time_s, error="")
        except ApproxDSEError as exc:
            row.update(exact_8bit_accuracy=exact_cache.get(m.signed, (math.nan,))[0], approx_accuracy=math.nan,
                       accuracy_drop=math.nan, fine_tuned_accuracy=None, approx_time_s=math.nan,
                       fine_tune_time_s=None, error=str(exc))
        rows.append(row)
        if out is not None:
            with atomic_path(out / _SWEEP_PARTIAL) as tmp:
                pd.DataFrame(rows).to_csv(tmp, index=False)
        raise_if_interrupted()
    table = pd.DataFrame(rows)
    if out is not None:
        with atomic_path(out / SWEEP_CSV) as tmp:
            table.to_csv(tmp, index=False)
        plot_accuracy_vs_energy(table, out / SWEEP_PNG, title=f"{trained.network} on {data.name} ({mode})")
        (out / _SWEEP_PARTIAL).unlink(missing_ok=True)
        (out / _SWEEP_SETTINGS).unlink(missing_ok=True)
    return table

