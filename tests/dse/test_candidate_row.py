"""The candidate row: one dataclass from which the tables' columns and the log's keys derive."""
import json
import math
from dataclasses import fields

import pandas as pd

from approxdse.dse import report
from approxdse.dse.candidate_row import COLUMNS, CandidateRow
from approxdse.dse.config import SearchConfig
from approxdse.dse.run import SearchRun
from approxdse.dse.search_space import Candidate
from approxdse.networks.genome import BlockGene, Genome, StageGene
from search_helpers import analytic_eval, small_config

#: The public column order (docs/search.md): kept exactly.
PUBLIC = [
    "generation", "index", "phase", "key", "genome_key", "status", "feasible", "energy", "energy_model",
    "reference_energy", "predictor_error", "accuracy", "error", "float_accuracy", "multiplier", "multipliers",
    "exact", "params", "macs", "n_stages", "n_layers", "time_s", "train_s", "eval_s", "cached",
    "weights_cached", "message", "genome", "variables", "predicted_output_error", "screened", "screen_s",
    "energy_recheck",
]
GENOME = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2),)),), stem_channels=8)


def test_columns_are_the_dataclass_fields_in_public_order():
    assert list(COLUMNS) == PUBLIC == report.COLUMNS == [f.name for f in fields(CandidateRow)]


def test_row_of_a_result():
    cand = Candidate(GENOME, ("u8_trunc_2",))
    result = {"key": cand.key(), "status": "ok", "accuracy": 0.8, "float_accuracy": 0.85, "energy": 12.5,
              "params": 100, "macs": 2000, "train_s": 1.0, "eval_s": 0.5, "time_s": 1.5, "weights_cached": True}
    row = CandidateRow.of(2, 7, cand, {"x0": 1}, result, phase="search", energy_model="summing", exact=False,
                          cached=False, min_accuracy=0.9)
    assert abs(row.error - 0.2) < 1e-12
    assert not row.feasible  # below min_accuracy
    assert json.loads(row.multipliers) == ["u8_trunc_2"] and json.loads(row.variables) == {"x0": 1}
    assert Genome.from_json(row.genome) == GENOME and row.n_layers == len(GENOME.conv_specs())
    assert list(row.to_dict()) == PUBLIC
    cached = CandidateRow.of(2, 8, cand, {}, result, phase="search", energy_model="summing", exact=False, cached=True)
    assert cached.feasible and cached.cached and cached.time_s == cached.train_s == cached.eval_s == 0.0
    failed = CandidateRow.of(0, 0, cand, {}, {"status": "failed", "message": "boom"}, phase="search",
                             energy_model="reference", exact=False, cached=False)
    assert math.isnan(failed.error) and math.isnan(failed.energy) and failed.message == "boom"


def test_log_and_tables_carry_exactly_the_columns(tmp_path):
    cfg = SearchConfig.from_dict(small_config(algorithm={"population": 4, "generations": 1}))
    SearchRun.create(cfg, tmp_path / "r", evaluate_fn=analytic_eval, progress=False).run()
    first = json.loads((tmp_path / "r" / "candidates.jsonl").read_text().splitlines()[0])
    assert list(first) == PUBLIC
    for table in ("candidates", "front"):
        assert list(pd.read_csv(tmp_path / "r" / f"{table}.csv").columns) == PUBLIC
        assert list(pd.read_parquet(tmp_path / "r" / f"{table}.parquet").columns) == PUBLIC
