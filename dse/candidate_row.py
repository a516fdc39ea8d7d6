"""One evaluated candidate as the search records it: the schema of its tables and log.

:class:`CandidateRow` is the single definition of a search result row. The
columns of ``candidates.parquet/.csv`` and ``front.parquet/.csv``
(:data:`COLUMNS`, in field order) and the keys of every ``candidates.jsonl``
record (:meth:`CandidateRow.to_dict`) derive from its fields.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from approxdse.dse.search_space import Candidate


@dataclass
class CandidateRow:
    """One evaluation of one candidate (a genome and its multiplier choice) in a search run.

    ``energy`` is in the energy objective's unit; ``accuracy`` the approximate model's
    validation top-1 accuracy (a fraction); ``error`` ``1 - accuracy`` for ``status == "ok"``;
    ``multipliers`` and ``variables`` are JSON text; ``genome`` the genome's JSON; times in seconds
    (0 for a ``cached`` row answered from an earlier evaluation). With screening
    (:mod:`~dse.screening`): ``predicted_output_error`` is the error model's score (NaN: not
    scored), ``screened`` whether the candidate was screened (``status == "screened"`` when its
    evaluation was skipped; ``audit`` mode evaluates it anyway), ``screen_s`` the error model's time.
    (0 for a ``cached`` row answered from an earlier evaluation); ``energy_recheck``: why the
    reference priced the candidate instead of the predictor (``energy.recheck``), empty if it did not.
    """

    generation: int
    index: int
    phase: str
    key: str
    genome_key: str
    status: str
    feasible: bool
    energy: float
    energy_model: str
    reference_energy: float
    predictor_error: float
    accuracy: float
    error: float
    float_accuracy: float
    multiplier: str
    multipliers: str
    exact: bool
    params: int
    macs: int
    n_stages: int
    n_layers: int
    time_s: float
    train_s: float
    eval_s: float
    cached: bool
    weights_cached: bool
    message: str
    genome: str
    variables: str
    predicted_output_error: float = math.nan
    screened: bool = False
    screen_s: float = 0.0
    energy_recheck: str = ""

    @classmethod
    def of(cls, generation: int, index: int, candidate: Candidate, variables: Mapping[str, Any],
           result: Mapping[str, Any], *, phase: str, energy_model: str, exact: bool, cached: bool,
           min_accuracy: float | None = None) -> "CandidateRow":
        """The row of ``candidate``'s evaluation ``result`` (an :class:`~dse.evaluation.EvaluationResult`
        as a dict), asked for at (``generation``, ``index``)."""
        ok = result["status"] == "ok"
        acc = result.get("accuracy", math.nan)
        feasible = ok and (min_accuracy is None or acc >= min_accuracy)
        return cls(
            generation=generation, index=index, phase=phase,
            key=candidate.key(), genome_key=candidate.genome.key(),
            status=result["status"], feasible=bool(feasible),
            energy=result.get("energy", math.nan), energy_model=energy_model,
            reference_energy=math.nan, predictor_error=math.nan,
            accuracy=acc, error=(1.0 - acc) if ok else math.nan,
            float_accuracy=result.get("float_accuracy", math.nan),
            multiplier=candidate.multiplier_label, multipliers=json.dumps(list(candidate.multipliers)),
            exact=bool(exact),
            params=int(result.get("params", 0)), macs=int(result.get("macs", 0)),
            n_stages=len(candidate.genome.stages), n_layers=len(candidate.genome.conv_specs()),
            time_s=0.0 if cached else result.get("time_s", 0.0),
            train_s=0.0 if cached else result.get("train_s", 0.0),
            eval_s=0.0 if cached else result.get("eval_s", 0.0),
            cached=bool(cached), weights_cached=bool(result.get("weights_cached", False)),
            message=result.get("message", ""),
            genome=candidate.genome.to_json(), variables=json.dumps(dict(variables), sort_keys=True, default=str),
            predicted_output_error=_number(result.get("predicted_output_error")),
            screened=bool(result.get("screened", False)),
            screen_s=0.0 if cached else _number(result.get("screen_s"), 0.0),
            energy_recheck=result.get("energy_recheck", "") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record / table row: one key per column, in :data:`COLUMNS` order."""
        return asdict(self)


def _number(value: Any, default: float = math.nan) -> float:
    return default if value is None else float(value)


#: The columns of the candidate and front tables, in order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CandidateRow))
