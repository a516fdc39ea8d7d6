"""``auto``'s step budget: the exhaustive search stops, says so, and still never loses to the fast search."""
from __future__ import annotations

import pytest

from approxdse.accelerators import mapper
from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.model import check_mapping, evaluate
from approxdse.accelerators.nest_analysis import Problem
from approxdse.networks.workload import Layer

# about 1.6e5 steps to finish on eyeriss (ResNet-18's layer1 convs take 1.7e5)
LAYER = Layer("l", C=64, M=64, P=14, Q=14, R=3, S=3)
AWKWARD = Layer("awkward", C=58, M=58, P=7, Q=7, R=1, S=1)


pytestmark = pytest.mark.usefixtures("no_disk_cache")


def _energy(layer, arch, m):
    return evaluate(layer, arch, m).energy_pJ


def test_a_budget_that_runs_out_is_reported_and_keeps_the_best_so_far():
    arch = load_architecture("eyeriss")
    prob = Problem.from_layer(LAYER)
    full, frep = mapper._exhaustive_search(prob, arch, "energy")
    assert frep.proven_optimal and not frep.budget_exhausted and frep.steps > 2000
    fast, _ = mapper._fast_search(prob, arch, "energy")
    for budget in (1, 500, frep.steps // 2):
        m, rep = mapper._exhaustive_search(prob, arch, "energy", budget=budget)
        assert rep.budget_exhausted and not rep.proven_optimal
        # it stops at the first step past the budget, after the order classes of the tiling at hand
        assert budget <= rep.steps < budget + 200
        check_mapping(LAYER, arch, m)
        assert _energy(LAYER, arch, full) <= _energy(LAYER, arch, m) <= _energy(LAYER, arch, fast) * (1 + 1e-12)
        again, rep2 = mapper._exhaustive_search(prob, arch, "energy", budget=budget)
        assert again == m and rep2.steps == rep.steps  # steps are counted, not timed: deterministic
    m, rep = mapper._exhaustive_search(prob, arch, "energy", budget=frep.steps)
    assert rep.proven_optimal and not rep.budget_exhausted and m == full


def test_auto_uses_the_budget_and_says_when_it_ran_out(monkeypatch):
    arch = load_architecture("eyeriss")
    m, rep = mapper.map_layer_report(LAYER, arch, mapper="auto", factorization="exact")
    assert rep.mapper == "exhaustive" and rep.proven_optimal and not rep.budget_exhausted
    mapper.clear_cache()
    monkeypatch.setattr(mapper, "AUTO_STEP_BUDGET", 1000)
    m2, rep2 = mapper.map_layer_report(LAYER, arch, mapper="auto", factorization="exact")
    assert rep2.mapper == "exhaustive" and rep2.budget_exhausted and not rep2.proven_optimal
    assert rep2.as_dict()["budget_exhausted"] is True and 1000 <= rep2.steps < 1200
    assert _energy(LAYER, arch, m) <= _energy(LAYER, arch, m2)
    # an explicit exhaustive search has no budget
    mapper.clear_cache()
    _, rep3 = mapper.map_layer_report(LAYER, arch, mapper="exhaustive", factorization="exact")
    assert rep3.proven_optimal and rep3.steps == rep.steps


def test_auto_gives_large_map_spaces_the_smaller_budget(monkeypatch):
    arch = load_architecture("eyeriss")
    full, frep = mapper.map_layer_report(LAYER, arch, mapper="exhaustive", factorization="exact")
    monkeypatch.setattr(mapper, "AUTO_EXHAUSTIVE_LIMIT", 10)
    monkeypatch.setattr(mapper, "AUTO_LARGE_STEP_BUDGET", 2000)
    m, rep = mapper.map_layer_report(LAYER, arch, mapper="auto", factorization="exact")
    assert rep.mapper == "exhaustive" and rep.budget_exhausted and not rep.proven_optimal
    assert 2000 <= rep.steps < 2200
    fast, _ = mapper.map_layer_report(LAYER, arch, mapper="fast", factorization="exact")
    assert _energy(LAYER, arch, full) <= _energy(LAYER, arch, m) <= _energy(LAYER, arch, fast) * (1 + 1e-12)
    # a large budget finishes: the same proven optimum as the unbudgeted search
    mapper.clear_cache()
    monkeypatch.setattr(mapper, "AUTO_LARGE_STEP_BUDGET", 10 * frep.steps)
    m2, rep2 = mapper.map_layer_report(LAYER, arch, mapper="auto", factorization="exact")
    assert rep2.proven_optimal and rep2.steps == frep.steps and m2 == full


def test_imperfect_padded_searches_share_a_budget(monkeypatch):
    arch = load_architecture("eyeriss")
    exact, _ = mapper.map_layer_report(AWKWARD, arch, factorization="exact")
    full, frep = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    assert frep.padded_skipped == 0 and frep.padded_searches >= 2
    mapper.clear_cache()
    monkeypatch.setattr(mapper, "IMPERFECT_STEP_BUDGET", 1)
    cut, crep = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    # less than one step per padded layer: every one is skipped and the exact result stands
    assert crep.padded_searches == 0 and crep.padded_skipped >= frep.padded_searches and crep.budget_exhausted
    assert _energy(AWKWARD, arch, cut) == pytest.approx(_energy(AWKWARD, arch, exact), rel=1e-12)


def test_imperfect_shares_are_equal_then_the_rest_goes_to_the_searches_cut_short(monkeypatch):
    """The budgets each padded search is given: an equal share of what is left, least padding
    first, then what the first pass left for the ones their share cut short."""
    arch = load_architecture("eyeriss")
    calls = []
    real = mapper._exact_search

    def recording(prob, arch_, objective, mapper_, limit=float("inf"), budget=None):
        m, rep = real(prob, arch_, objective, mapper_, limit, budget)
        calls.append((prob.dims[:4], budget, rep.steps, rep.budget_exhausted))
        return m, rep

    monkeypatch.setattr(mapper, "_exact_search", recording)
    _, full = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    padded = [c for c in calls if c[1] is not None]
    assert len(padded) >= 2 and not any(c[3] for c in padded)
    # a total budget that lets the first share run out but leaves enough for a rerun
    hard = max(c[2] for c in padded)
    total = (hard // 2) * len(padded) + hard
    mapper.clear_cache()
    calls.clear()
    monkeypatch.setattr(mapper, "IMPERFECT_STEP_BUDGET", total)
    monkeypatch.setattr(mapper, "MIN_RERUN_STEPS", 1)
    _, rep = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    first = [c for c in calls if c[1] is not None][:len(padded)]
    left = total
    for n, (dims, budget, steps, cut) in enumerate(first):
        assert dims == padded[n][0]  # the same order: least padding first
        assert budget == min(left // (len(first) - n), mapper.AUTO_STEP_BUDGET)
        assert cut == (steps >= budget)
        left -= steps
    reruns = [c for c in calls if c[1] is not None][len(padded):]
    assert [c[0] for c in reruns] == [c[0] for c in first if c[3]] and reruns
    assert reruns[0][1] == min(left, mapper.AUTO_STEP_BUDGET)
    assert rep.steps == sum(c[2] for c in calls)


def test_imperfect_padded_searches_get_what_the_exact_search_left_of_the_total(monkeypatch):
    arch = load_architecture("eyeriss")
    calls = []
    real = mapper._exact_search

    def recording(prob, arch_, objective, mapper_, limit=float("inf"), budget=None):
        m, rep = real(prob, arch_, objective, mapper_, limit, budget)
        calls.append((prob.dims[:4], budget, rep.steps))
        return m, rep

    monkeypatch.setattr(mapper, "_exact_search", recording)
    _, exact = mapper.map_layer_report(AWKWARD, arch, factorization="exact")
    _, full = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    n_padded = full.padded_searches + full.padded_skipped
    assert n_padded >= 2
    # the total leaves 10 steps per padded layer after the exact search (its result cached here:
    # its steps count all the same)
    mapper.clear_cache()
    calls.clear()
    _, exact = mapper.map_layer_report(AWKWARD, arch, factorization="exact")
    monkeypatch.setattr(mapper, "IMPERFECT_TOTAL_STEPS", exact.steps + 10 * n_padded)
    _, rep = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    padded = [c for c in calls if c[1] is not None]
    assert padded and padded[0][1] == 10 and rep.budget_exhausted
    assert sum(c[2] for c in padded) <= 10 * n_padded + len(padded) * 2  # a step may finish past its budget
    # nothing left after the exact search: no padded search runs, the exact result stands
    mapper.clear_cache()
    monkeypatch.setattr(mapper, "IMPERFECT_TOTAL_STEPS", exact.steps)
    m, rep = mapper.map_layer_report(AWKWARD, arch, factorization="imperfect")
    assert rep.padded_searches == 0 and rep.padded_skipped == n_padded and rep.budget_exhausted
    assert _energy(AWKWARD, arch, m) == pytest.approx(_energy(AWKWARD, arch, mapper.map_layer_report(
        AWKWARD, arch, factorization="exact")[0]), rel=1e-12)
