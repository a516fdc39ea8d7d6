"""The real candidate evaluation: train on digits, emulate the multiplier, share weights per genome."""
import math

from approxdse.dse.config import ConstraintConfig, DatasetConfig, TrainingConfig
from approxdse.dse.evaluation import EvaluationSettings, evaluate_group, group_by_genome
from approxdse.networks.genome import BlockGene, Genome, StageGene
from approxdse.dse.search_space import Candidate

GENOME = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2),)),), stem_channels=8)


def _settings(tmp_path, **training):
    t = {"epochs": 3, "batch_size": 64, "learning_rate": 0.02, **training}
    return EvaluationSettings(DatasetConfig("digits", max_train_samples=600, max_validation_samples=200),
                              TrainingConfig(**t), "reference", "eyeriss", ConstraintConfig(), str(tmp_path / "w"))


def test_multiplier_variants_share_the_float_weights(tmp_path):
    cands = [Candidate(GENOME, (m,)).to_dict() for m in ("u8_exact", "u8_bam_h1_v4", "u8_bam_h6_v6")]
    settings = _settings(tmp_path)
    first = evaluate_group(settings, cands)
    assert [r["status"] for r in first] == ["ok"] * 3
    assert first[0]["train_s"] > 0 and first[1]["train_s"] == 0 and not first[0]["weights_cached"]
    assert len(list((tmp_path / "w").glob("*.pt"))) == 1
    exact, mild, harsh = (r["accuracy"] for r in first)
    assert exact > 0.5 and abs(exact - first[0]["float_accuracy"]) < 0.05
    assert harsh < exact  # 10% of the multiplier's energy costs accuracy
    assert first[2]["energy"] < first[1]["energy"] < first[0]["energy"]
    # a later generation (or a resumed run) reuses the weights and gets the same numbers
    again = evaluate_group(settings, cands[1:2])
    assert again[0]["weights_cached"] and again[0]["train_s"] == 0
    assert again[0]["accuracy"] == mild and again[0]["float_accuracy"] == first[1]["float_accuracy"]


def test_per_layer_assignment_and_diverging_training(tmp_path):
    n = len(GENOME.conv_specs())
    mixed = Candidate(GENOME, ("u8_bam_h1_v4",) + ("u8_exact",) * (n - 1))
    (row,) = evaluate_group(_settings(tmp_path), [mixed.to_dict()])
    assert row["status"] == "ok" and 0 < row["accuracy"] <= 1
    (bad,) = evaluate_group(_settings(tmp_path / "b", learning_rate=1e9, epochs=2), [mixed.to_dict()])
    assert bad["status"] == "failed" and "diverged" in bad["message"] and math.isnan(bad["accuracy"])
    assert bad["energy"] == row["energy"]  # the energy is known even when training fails


def test_group_by_genome_keeps_order_and_drops_duplicates():
    other = Genome((1, 8, 8), 10, (StageGene((BlockGene("residual", 8, 3, 1),)),), stem_channels=8)
    cands = [Candidate(GENOME, ("u8_exact",)), Candidate(other, ("u8_exact",)),
             Candidate(GENOME, ("u8_trunc_1",)), Candidate(GENOME, ("u8_exact",))]
    groups = group_by_genome(cands)
    assert [[c.multipliers[0] for c in g] for g in groups] == [["u8_exact", "u8_trunc_1"], ["u8_exact"]]
