"""Pareto utilities, hypervolume, and NSGA-II vs random search on an analytic problem."""
import numpy as np
import pytest

from approxdse.dse.algorithms import hypervolume, make_algorithm, make_problem, nondominated, objectives
from approxdse.networks.generator import GeneratorSpace
from approxdse.dse.search_space import SearchSpace
from search_helpers import analytic_eval


def test_nondominated_and_hypervolume_by_hand():
    F = np.array([[1.0, 0.5], [2.0, 0.2], [3.0, 0.3], [0.5, 0.9], [2.0, 0.2]])
    assert sorted(nondominated(F).tolist()) == [0, 1, 3]
    # staircase area up to (4, 1): (4-0.5)*(1-0.9) + (4-1)*(0.9-0.5) + (4-2)*(0.5-0.2)
    assert hypervolume(F, (4.0, 1.0)) == pytest.approx(0.35 + 1.2 + 0.6)
    assert hypervolume(np.array([[5.0, 0.1]]), (4.0, 1.0)) == 0.0
    # brute force on a grid agrees
    xs, ys = np.meshgrid(np.linspace(0, 4, 801)[:-1] + 0.0025, np.linspace(0, 1, 801)[:-1] + 0.000625)
    dominated = np.zeros_like(xs, dtype=bool)
    for e, r in F:
        dominated |= (xs >= e) & (ys >= r)
    assert hypervolume(F, (4.0, 1.0)) == pytest.approx(dominated.mean() * 4.0, rel=0.01)


def test_failed_rows_become_constraint_violations():
    rows = [{"status": "ok", "energy": 2.0, "accuracy": 0.9},
            {"status": "failed", "energy": float("nan"), "accuracy": float("nan")}]
    F, G = objectives(rows, min_accuracy=0.95)
    assert F[0].tolist() == pytest.approx([2.0, 0.1]) and G[1, 0] == 1.0 and G[0, 0] == 0.0
    assert G[0, 1] == pytest.approx(0.05) and np.isfinite(F).all()


def _run(name, seed, generations=6, population=10):
    space = SearchSpace(GeneratorSpace.preset("digits", max_stages=3, max_blocks_per_stage=2, max_channels=64),
                        ("u8_exact", "u8_bam_h1_v4", "u8_bam_h2_v6", "u8_trunc_2", "u8_trunc_3", "u8_bam_h3_v9"))
    seen = []

    def evaluate(cands, xs):
        rows = []
        for c in cands:
            rows += analytic_eval(None, [c.to_dict()])
        seen.extend(zip([c.key() for c in cands], [(r["energy"], 1 - r["accuracy"]) for r in rows]))
        return rows

    alg = make_algorithm(name, make_problem(space, evaluate), population, seed)
    per_gen = []
    for _ in range(generations):
        per_gen.append(alg.step())
    return seen, per_gen


def test_algorithms_are_deterministic_and_keep_the_budget():
    for name in ("nsga2", "random"):
        a, sizes = _run(name, 5)
        b, _ = _run(name, 5)
        c, _ = _run(name, 6)
        assert a == b and a != c
        assert sizes == [10] * 6


def test_nsga2_beats_random_search_on_the_analytic_problem():
    wins = 0
    for seed in range(3):
        hv = {}
        fronts = {name: np.array([f for _, f in _run(name, seed, generations=8)[0]]) for name in ("nsga2", "random")}
        ref = (max(f[:, 0].max() for f in fronts.values()) * 1.1, 1.0)
        for name, F in fronts.items():
            hv[name] = hypervolume(F / ref, (1.0, 1.0))
        wins += hv["nsga2"] > hv["random"]
    assert wins >= 2
