"""Screening with the error model: the decisions, a run that skips evaluations, audit, resume, the real scorer."""
import json
import math

import pandas as pd
import pytest

import search_helpers
from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import ScreeningConfig, SearchConfig
from approxdse.dse.run import SearchRun
from approxdse.dse.screening import screen_decisions
from search_helpers import analytic_eval, analytic_screen, interrupting_eval, small_config

COLS = ["generation", "index", "phase", "key", "status", "energy", "accuracy", "cached", "screened",
        "predicted_output_error"]
EVALUATED: list[str] = []


def counting_eval(settings, cands):
    EVALUATED.extend(c["genome"]["stages"].__repr__() + json.dumps(c["multipliers"]) for c in cands)
    return [{**row, "eval_s": 0.002} for row in analytic_eval(settings, cands)]


def _cand(key, genome, energy, p, status="ok"):
    return {"key": key, "genome_key": genome, "energy": energy, "predicted_output_error": p, "status": status}


def _hist(key, genome, energy, p, error, feasible=True):
    return {**_cand(key, genome, energy, p), "error": error, "feasible": feasible}


def test_decisions_follow_the_three_rules():
    cfg = ScreeningConfig(mode="skip", margin=2.0, noise_floor=0.1, max_predicted_error=3.0)
    batch = [_cand("exact", "g", 10.0, 0.0), _cand("mild", "g", 6.0, 0.2), _cand("harsh", "g", 7.0, 0.5),
             _cand("cheap-harsh", "g", 5.0, 0.5), _cand("noisy", "h", 4.0, 3.5), _cand("tiny", "g", 9.0, 0.05),
             _cand("unscored", "g", 8.0, math.nan), _cand("bad", "g", 8.0, 9.0, status="infeasible")]
    verdicts = screen_decisions(batch, [], cfg)
    # (a) the threshold; (c) a peer of the same network with no more energy and >= 2x less predicted error
    assert set(verdicts) == {"noisy", "harsh"}
    assert "max_predicted_error" in verdicts["noisy"] and "this generation" in verdicts["harsh"]
    # below the noise floor, exact, not scored, or not ok: never screened
    assert not {"exact", "tiny", "unscored", "bad"} & set(verdicts)
    # (b) the front: an evaluated design f of the network with 2x less predicted error, and a design of no
    # more energy at least as accurate as f
    history = [_hist("f", "h2", 9.0, 0.1, error=0.2), _hist("g", "other", 3.0, math.nan, error=0.15)]
    verdicts = screen_decisions([_cand("c", "h2", 4.0, 0.3), _cand("d", "h2", 2.0, 0.3),
                                 _cand("e", "h2", 4.0, 0.15)], history, ScreeningConfig(mode="skip"))
    assert set(verdicts) == {"c"} and "evaluated design" in verdicts["c"]  # d: nothing that cheap; e: < 2x
    # an infeasible g does not count
    history[1]["feasible"] = False
    assert screen_decisions([_cand("c", "h2", 4.0, 0.3)], history, ScreeningConfig(mode="skip")) == {}


def test_screening_config_and_cli_flag(tmp_path, capsys):
    assert SearchConfig.from_dict(small_config()).screening.mode == "off"
    cfg = SearchConfig.from_dict(small_config(screening={"mode": False}))  # YAML's bare off
    assert cfg.screening.mode == "off" and cfg.with_overrides(screen="skip").screening.mode == "skip"
    for bad, match in (({"mode": "on"}, "screening.mode"), ({"margin": 1.0}, "screening.margin"),
                       ({"batches": 0}, "screening.batches"), ({"bogus": 1}, "unknown key 'bogus'")):
        with pytest.raises(ApproxDSEError, match=match):
            SearchConfig.from_dict(small_config(screening=bad))
    path = search_helpers.write_config(tmp_path / "c.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["search", "run", str(path), "--screen", "maybe"])
    assert exc.value.code == 2 and "--screen" in capsys.readouterr().err


def _run(tmp_path, name, mode, evaluate_fn=counting_eval, **overrides):
    # the analytic score of u8_trunc_2 is 0.116, of u8_bam_h4_v10 0.586: both screened by the threshold
    cfg = SearchConfig.from_dict(small_config(screening={"mode": mode, "max_predicted_error": 0.1}, **overrides))
    return SearchRun.create(cfg, tmp_path / name, evaluate_fn=evaluate_fn, screen_fn=analytic_screen,
                            progress=False)


def test_skip_audit_and_off(tmp_path):
    EVALUATED.clear()
    search_helpers.SCREEN_STATE["scored"] = 0
    off = _run(tmp_path, "off", "off").run()
    off_df = pd.read_parquet(tmp_path / "off" / "candidates.parquet")
    assert search_helpers.SCREEN_STATE["scored"] == 0 and not off_df["screened"].any()
    assert off_df["predicted_output_error"].isna().all() and "screening" not in off and off["screened"] == 0
    evaluated_off = len(EVALUATED)

    EVALUATED.clear()
    skip = _run(tmp_path, "skip", "skip").run()
    df = pd.read_parquet(tmp_path / "skip" / "candidates.parquet")
    search = df[df["phase"] == "search"]
    screened = search[search["status"] == "screened"]
    assert len(search) == 32 and len(screened) == skip["screened"] == skip["screening"]["screened"] > 0
    assert screened["screened"].all() and screened["accuracy"].isna().all() and not screened["feasible"].any()
    assert (screened["eval_s"] == 0).all() and (screened["message"].str.len() > 0).all()
    # the screened candidates were never handed to the evaluator
    assert len(EVALUATED) == len(df) - len(screened) - int(df["cached"].sum())
    assert search["predicted_output_error"].notna().all() and (search.loc[~search["cached"], "screen_s"] > 0).all()
    # the record is in the run folder: the log, the checkpoint and the summary
    log = [json.loads(line) for line in (tmp_path / "skip" / "candidates.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "screened" for r in log) == len(screened)
    assert json.loads((tmp_path / "skip" / "checkpoint.json").read_text())["screened"] == len(screened)
    s = json.loads((tmp_path / "skip" / "summary.json").read_text())["screening"]
    assert s["mode"] == "skip" and s["skipped_eval_s"] > 0 and s["screening_s"] > 0
    assert s["saved_s"] == pytest.approx(s["skipped_eval_s"] - s["screening_s"])
    assert not pd.read_parquet(tmp_path / "skip" / "front.parquet")["screened"].any()

    # audit: the same decisions are recorded but every candidate is evaluated, so the search is the off one
    EVALUATED.clear()
    audit = _run(tmp_path, "audit", "audit").run()
    adf = pd.read_parquet(tmp_path / "audit" / "candidates.parquet")
    assert len(EVALUATED) == evaluated_off and (adf["status"] != "screened").all()
    assert adf[["key", "accuracy", "energy"]].equals(off_df[["key", "accuracy", "energy"]])
    assert adf["screened"].sum() == audit["screening"]["screened"] > 0
    assert audit["screening"]["skipped_eval_s_source"] == "measured"
    assert audit["screening"]["screened_on_front"] == 0  # the analytic accuracy does fall with the MAE
    # the first generation is decided alike in both modes (same history: nothing)
    first = lambda d: d[d["generation"] == 0].set_index("key")["screened"]  # noqa: E731
    assert first(adf).equals(first(df))


def test_resume_keeps_the_screening_record(tmp_path):
    full = _run(tmp_path, "full", "skip")
    full.run()
    search_helpers.STATE.update(calls=0, interrupt_after=9)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path, "cut", "skip", interrupting_eval).run()
    finally:
        search_helpers.STATE["interrupt_after"] = None
    cut = pd.read_parquet(tmp_path / "cut" / "candidates.parquet")
    assert cut["screened"].any()  # screened rows were logged before the interruption
    SearchRun.resume(tmp_path / "cut", evaluate_fn=analytic_eval, screen_fn=analytic_screen, progress=False).run()
    a = pd.read_parquet(tmp_path / "full" / "candidates.parquet")
    b = pd.read_parquet(tmp_path / "cut" / "candidates.parquet")
    assert a[COLS].equals(b[COLS])
    sa = json.loads((tmp_path / "full" / "summary.json").read_text())["screening"]
    sb = json.loads((tmp_path / "cut" / "summary.json").read_text())["screening"]
    assert sa["screened"] == sb["screened"] > 0
    # the report re-computes it from the files
    assert main(["search", "report", str(tmp_path / "cut"), "--format", "json"]) == 0


def test_the_error_model_scorer_on_a_trained_network(tmp_path, monkeypatch):
    from approxdse.dse.config import ConstraintConfig, DatasetConfig, TrainingConfig
    from approxdse.dse.evaluation import EvaluationSettings, evaluate_group, predict_group
    from approxdse.dse.search_space import Candidate
    from approxdse.networks.genome import BlockGene, Genome, StageGene

    genome = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2),)),), stem_channels=8)
    n = len(genome.conv_specs())
    cands = [Candidate(genome, (m,)) for m in ("u8_exact", "u8_bam_h1_v4", "u8_bam_h6_v6")]
    cands.append(Candidate(genome, ("u8_bam_h6_v6",) + ("u8_exact",) * (n - 1)))
    settings = EvaluationSettings(DatasetConfig("digits", max_train_samples=600, max_validation_samples=200),
                                  TrainingConfig(epochs=2, learning_rate=0.02), "multiplications", "eyeriss",
                                  ConstraintConfig(), str(tmp_path / "w"), ScreeningConfig(mode="skip", batches=1))
    scores = predict_group(settings, [c.to_dict() for c in cands])
    exact, mild, harsh, one_layer = (s["predicted_output_error"] for s in scores)
    assert exact == 0 and 0 < mild < harsh and 0 < one_layer < harsh
    assert scores[0]["train_s"] > 0 and all(s["train_s"] == 0 for s in scores[1:])
    assert all(s["screen_s"] > 0 for s in scores[1:]) and scores[0]["energy"] > scores[2]["energy"] > 0
    # the evaluation that follows reads the weights the scorer trained
    rows = evaluate_group(settings, [c.to_dict() for c in cands[1:3]])
    assert all(r["weights_cached"] and r["float_accuracy"] == scores[0]["float_accuracy"] for r in rows)
    assert rows[1]["accuracy"] < rows[0]["accuracy"]

    # an error-model failure leaves the candidates unscored (so evaluated), with the reason
    import approxdse.dse.evaluation as evaluation

    class Broken:
        @staticmethod
        def measure(*args, **kwargs):
            raise RuntimeError("no statistics today")

    monkeypatch.setattr(evaluation, "NetworkErrorModel", Broken)
    broken = predict_group(settings, [c.to_dict() for c in cands[1:3]])
    assert all(math.isnan(s["predicted_output_error"]) and s["status"] == "ok" for s in broken)
    assert all("no statistics today" in s["screen_note"] for s in broken)


def test_min_accuracy_rule_learns_the_drop_from_the_evaluated_designs():
    cfg = ScreeningConfig(mode="skip", margin=2.0)
    history = [{**_hist(f"h{i}", f"n{i}", 5.0, p, error=0.5), "accuracy": acc, "float_accuracy": 0.95}
               for i, (p, acc) in enumerate([(0.02, 0.95), (0.3, 0.7), (0.5, 0.3), (0.9, 0.1)])]
    batch = [{**_cand("c", "n-c", 4.0, 0.6), "float_accuracy": 0.97},   # p/2 = 0.3: drops 0.25, 0.65, 0.85
             {**_cand("d", "n-d", 4.0, 1.4), "float_accuracy": 0.97},   # p/2 = 0.7: one design only
             {**_cand("e", "n-e", 4.0, 0.5), "float_accuracy": 0.97}]   # p/2 = 0.25: as c
    assert screen_decisions(batch, history, cfg) == {}  # no min_accuracy, no rule (d)
    verdicts = screen_decisions(batch, history, cfg, min_accuracy=0.8)
    assert set(verdicts) == {"c", "e"} and "min_accuracy 0.8" in verdicts["c"]
    assert screen_decisions(batch, history, cfg, min_accuracy=0.7) == {}  # 0.97 - 0.25 >= 0.7


def test_screening_decisions_do_not_depend_on_the_workers(tmp_path):
    serial = _run(tmp_path, "serial", "skip", analytic_eval, algorithm={"population": 6, "generations": 3})
    serial.run()
    pooled = _run(tmp_path, "pool", "skip", analytic_eval, algorithm={"population": 6, "generations": 3},
                  parallel={"workers": 2})
    pooled.run()
    assert serial.table()["screened"].any()
    assert pooled.table()[COLS].equals(serial.table()[COLS])
