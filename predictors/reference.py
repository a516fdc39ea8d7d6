"""The reference energy model as the predictors call it.

One call evaluates one (network, accelerator) pair for a list of multipliers
through :func:`accelerators.estimate.estimate_energy` and returns plain rows:
network-level energies (total and per component) per multiplier, and the
per-layer energies (per component) for the exact multiplier.

The reference maps each layer once and scales only the ``multiplier``
component of every MAC by the multiplier's relative energy. So the pair is
evaluated with the exact multiplier and with one approximate multiplier; when
the second report equals the exact one with its ``multiplier`` component
scaled (to 1e-9 relative), the remaining multipliers are derived the same way
(rows marked ``derived``); otherwise every multiplier is evaluated.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.resolve import relative_energy_of
from approxdse.accelerators.estimate import estimate_energy
from approxdse.accelerators.mapper import FACTORIZATIONS, MAPPERS

#: The multiplier every (network, accelerator) pair is evaluated with, as the anchor.
EXACT = "u8_exact"
#: The reference component that scales with the multiplier's relative energy.
MULTIPLIER_COMPONENT = "multiplier"
_DERIVE_RTOL = 1e-9


@dataclass
class ReferenceResult:
    """Rows for one (network, accelerator): ``rows`` per multiplier, ``layer_rows`` per layer (exact)."""

    rows: list[dict] = field(default_factory=list)
    layer_rows: list[dict] = field(default_factory=list)


#: The factorisation a dataset is made with unless it names another (``approxdse dataset
#: --factorization``): ``exact``, Timeloop v3's map space (the one the parity tests check) and
#: the shipped predictors'. The imperfect search (``estimate_energy``'s default) pads awkward
#: channel counts with up to 15 more searches per layer, too slow for the 80,000-row ship
#: dataset; a dataset made with ``imperfect`` teaches its predictors the users' default reference.
#: Recorded in the dataset manifest (``factorization``) and in predictors trained on it.
REFERENCE_FACTORIZATION = "exact"
#: The factorisations a dataset may be made with: every one the reference has.
DATASET_FACTORIZATIONS = FACTORIZATIONS
#: The mapper a dataset is made with unless it names another (``approxdse dataset --mapper``):
#: ``auto``, the users' default. ``fast`` (the local search, not proven optimal) makes large
#: datasets faster but learns a reference above the optimum (benchmarks/RESULTS.md, "Session 9").
#: Recorded in the dataset manifest (``mapper``) and in predictors trained on it.
REFERENCE_MAPPER = "auto"
#: The mappers a dataset may be made with: every mapper the reference has.
DATASET_MAPPERS = MAPPERS


def check_dataset_mapper(mapper: str) -> str:
    """``mapper`` if a dataset may be made with it, else one error naming the choices."""
    if mapper not in DATASET_MAPPERS:
        raise ApproxDSEError(f"unknown mapper {mapper!r} for a dataset; choose one of {', '.join(DATASET_MAPPERS)}")
    return mapper


def check_dataset_factorization(factorization: str) -> str:
    """``factorization`` if a dataset may be made with it, else one error naming the choices."""
    if factorization not in DATASET_FACTORIZATIONS:
        raise ApproxDSEError(f"unknown factorization {factorization!r} for a dataset; "
                             f"choose one of {', '.join(DATASET_FACTORIZATIONS)}")
    return factorization


def reference_energy(workload, accelerator: str, multiplier: Any = EXACT, mapper: str = REFERENCE_MAPPER,
                     factorization: str = REFERENCE_FACTORIZATION):
    """The reference :class:`~accelerators.report.EnergyReport` of one workload on one accelerator."""
    return estimate_energy(workload, accelerator=accelerator, multiplier=multiplier, progress=False,
                           factorization=check_dataset_factorization(factorization),
                           mapper=check_dataset_mapper(mapper))


def reference_total(workload, accelerator: str, multiplier: Any = EXACT, mapper: str = REFERENCE_MAPPER,
                    factorization: str = REFERENCE_FACTORIZATION) -> float:
    """The reference total energy (pJ)."""
    return float(reference_energy(workload, accelerator, multiplier, mapper, factorization).energy_pJ)


def _derive(components: dict[str, float], rel_from: float, rel_to: float) -> dict[str, float]:
    out = dict(components)
    if MULTIPLIER_COMPONENT in out and rel_from > 0:
        out[MULTIPLIER_COMPONENT] = out[MULTIPLIER_COMPONENT] * rel_to / rel_from
    return out


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    if set(a) != set(b):
        return False
    return all(math.isclose(a[k], b[k], rel_tol=_DERIVE_RTOL, abs_tol=1e-9) for k in a)


def evaluate(workload, accelerator: str, multiplier_names: Sequence[str], network: str, kind: str,
             derive: bool = True, mapper: str = REFERENCE_MAPPER,
             factorization: str = REFERENCE_FACTORIZATION) -> ReferenceResult:
    """Reference energies of one network on one accelerator for every multiplier (exact first),
    its layers mapped by ``mapper`` over ``factorization``'s map space."""
    result = ReferenceResult()
    names = [EXACT] + [m for m in multiplier_names if m != EXACT]
    rels = {m: relative_energy_of(m) for m in names}
    exact_report = None
    can_derive = False
    for i, mname in enumerate(names):
        t0 = time.perf_counter()
        derived = False
        if i >= 2 and can_derive:
            components = _derive(exact_report.components, rels[EXACT], rels[mname])
            total = float(exact_report.energy_pJ) + sum(components.values()) - sum(exact_report.components.values())
            derived = True
        else:
            report = reference_energy(workload, accelerator, mname, mapper, factorization)
            components = {str(k): float(v) for k, v in report.components.items()}
            total = float(report.energy_pJ)
            if i == 0:
                exact_report = report
                result.layer_rows = _layer_rows(report, workload, network, accelerator)
            elif i == 1 and derive:
                can_derive = _close(_derive(exact_report.components, rels[EXACT], rels[mname]), components)
        seconds = time.perf_counter() - t0
        if not math.isfinite(total) or total <= 0:
            raise ApproxDSEError(
                f"the reference gave a non-positive or non-finite energy for {network!r} on {accelerator!r} with {mname!r}"
            )
        row = {
            "network": network,
            "network_kind": kind,
            "accelerator": accelerator,
            "multiplier": mname,
            "relative_energy": rels[mname],
            "total_energy_pJ": total,
            "macs": int(workload.macs),
            "cycles": int(exact_report.cycles),
            "reference_s": seconds,
            "derived": derived,
        }
        for comp, value in components.items():
            row[f"energy_{comp}_pJ"] = value
        result.rows.append(row)
    return result


def _layer_rows(report, workload, network: str, accelerator: str) -> list[dict]:
    """Per-layer energy for the exact multiplier (one row per workload layer, in order)."""
    if len(report.layers) != len(workload.layers):
        raise ApproxDSEError(
            f"the reference reported {len(report.layers)} layers for {network!r}, which has {len(workload.layers)}"
        )
    rows = []
    for idx, (layer, lr) in enumerate(zip(workload.layers, report.layers)):
        row = {"network": network, "accelerator": accelerator, "layer_index": idx, "layer": layer.name,
               "macs": int(layer.macs), "total_energy_pJ": float(lr.energy_pJ), "cycles": int(lr.cycles),
               "utilization": float(lr.utilization)}
        for comp, value in lr.components.items():
            row[f"energy_{comp}_pJ"] = float(value)
        rows.append(row)
    return rows
