"""The search algorithms: pymoo NSGA-II over mixed variables, and random search at the same budget.

Both minimise two objectives, ``[energy, error]``, under inequality
constraints ``G <= 0``:

* ``G[:, 0]``: 0 for a candidate evaluated ``ok``, 1 for a ``failed`` or
  ``infeasible`` one (broken bounds, ``max_params``, ``max_energy``), so
  those are dominated by every good design but never stop the search;
* ``G[:, 1]`` (with ``constraints.min_accuracy``): ``min_accuracy - accuracy``.

:class:`SearchProblem` is a ``pymoo.core.problem.Problem`` whose
``_evaluate(X, out)`` decodes the variable dicts into candidates and hands
them to the run's batch evaluator (which caches, parallelises and logs).

:class:`NSGA2Search` is pymoo's ``MixedVariableGA`` with NSGA-II's
rank-and-crowding survival (binary tournament mating, uniform crossover on
choices, SBX + polynomial mutation on integers) and a repair that maps every
vector to the canonical vector of the network it decodes to, so duplicates
are eliminated by network, not by vector. :class:`RandomSearch` draws
``population`` fresh, distinct candidates per generation, uniformly over the
same variables. Both are driven one generation at a time (:meth:`step`), so
the run can checkpoint between generations; both are deterministic for a seed.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from approxdse.dse.search_space import Candidate, SearchSpace

#: Stand-in energy of a candidate without one (failed before its energy was known).
WORST_ENERGY = 1e30


def objectives(rows: Sequence[dict], min_accuracy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``F`` (energy, error) and ``G`` (constraints) of evaluated rows, as pymoo wants them."""
    F = np.empty((len(rows), 2))
    G = np.zeros((len(rows), 2 if min_accuracy is not None else 1))
    for i, r in enumerate(rows):
        ok = r["status"] == "ok"
        energy = r.get("energy", math.nan)
        F[i, 0] = energy if energy is not None and math.isfinite(energy) else WORST_ENERGY
        F[i, 1] = 1.0 - r["accuracy"] if ok else 1.0
        G[i, 0] = 0.0 if ok else 1.0
        if min_accuracy is not None:
            G[i, 1] = min_accuracy - (r["accuracy"] if ok else 0.0)
    return F, G


def make_problem(space: SearchSpace, evaluate_batch: Callable[[list[Candidate], list[dict]], list[dict]],
                 min_accuracy: float | None = None):
    """A pymoo ``Problem`` over ``space.variables()`` whose ``_evaluate`` calls ``evaluate_batch``.

    ``evaluate_batch(candidates, variable_dicts)`` returns one row dict per
    candidate with at least ``status``, ``energy`` and ``accuracy``.
    """
    from pymoo.core.problem import Problem

    class SearchProblem(Problem):
        def __init__(self) -> None:
            super().__init__(vars=space.variables(), n_obj=2, n_ieq_constr=2 if min_accuracy is not None else 1)
            self.space = space

        def _evaluate(self, X, out, *args, **kwargs):
            xs = [dict(x) for x in X]
            rows = evaluate_batch([space.decode(x) for x in xs], xs)
            out["F"], out["G"] = objectives(rows, min_accuracy)

    return SearchProblem()


def _canonical_repair(space: SearchSpace):
    from pymoo.core.repair import Repair

    class CanonicalRepair(Repair):
        """Maps each vector to the canonical vector of the (repaired) network it decodes to."""

        def _do(self, problem, X, **kwargs):
            out = []
            for x in X:
                try:
                    out.append(space.encode(space.decode(x)))
                except Exception:
                    out.append(space.canonical(x))
            return np.array(out, dtype=object) if isinstance(X, np.ndarray) else out

    return CanonicalRepair()


class NSGA2Search:
    """NSGA-II (pymoo) over the mixed variables, one generation per :meth:`step`."""

    name = "nsga2"

    def __init__(self, problem, population: int, seed: int) -> None:
        from pymoo.core.mixed import MixedVariableDuplicateElimination, MixedVariableGA, MixedVariableMating
        from pymoo.operators.selection.tournament import TournamentSelection
        from pymoo.algorithms.moo.nsga2 import binary_tournament
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        repair = _canonical_repair(problem.space)
        dedup = MixedVariableDuplicateElimination()
        mating = MixedVariableMating(selection=TournamentSelection(func_comp=binary_tournament),
                                     repair=repair, eliminate_duplicates=dedup)
        self.problem = problem
        self.algorithm = MixedVariableGA(pop_size=population, survival=RankAndCrowding(), mating=mating,
                                         repair=repair, eliminate_duplicates=dedup,
                                         advance_after_initial_infill=True)
        self.algorithm.tournament_type = "comp_by_dom_and_crowding"  # what NSGA-II's binary tournament reads
        self.algorithm.setup(problem, seed=seed, verbose=False)

    def step(self) -> int:
        """Ask one generation, evaluate it through the problem, tell it back; returns its size."""
        from pymoo.core.evaluator import Evaluator

        pop = self.algorithm.ask()
        Evaluator().eval(self.problem, pop)
        self.algorithm.tell(infills=pop)
        return len(pop)


class RandomSearch:
    """Uniform random sampling of distinct networks, ``population`` per :meth:`step`."""

    name = "random"

    def __init__(self, problem, population: int, seed: int) -> None:
        self.problem = problem
        self.population = population
        self.rng = np.random.default_rng(seed)
        self.seen: set[str] = set()

    def step(self) -> int:
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population

        space: SearchSpace = self.problem.space
        xs: list[dict[str, Any]] = []
        tries = 0
        while len(xs) < self.population and tries < 100 * self.population:
            tries += 1
            x = space.sample(self.rng)
            key = space.decode(x).key()
            if key in self.seen:
                continue
            self.seen.add(key)
            xs.append(space.encode(space.decode(x)))
        pop = Population.new(X=np.array(xs, dtype=object))
        Evaluator().eval(self.problem, pop)
        return len(pop)


def make_algorithm(name: str, problem, population: int, seed: int):
    """``nsga2`` or ``random``, set up on ``problem``."""
    if name == "nsga2":
        return NSGA2Search(problem, population, seed)
    if name == "random":
        return RandomSearch(problem, population, seed)
    raise ValueError(f"unknown algorithm {name!r}")


def nondominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``F`` (minimisation), duplicates kept once."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((F[:, 1], F[:, 0]))
    keep, best = [], math.inf
    for i in order:
        if F[i, 1] < best:
            keep.append(int(i))
            best = F[i, 1]
    return np.array(keep, dtype=int)


def hypervolume(F: np.ndarray, ref_point: Sequence[float]) -> float:
    """2-D hypervolume dominated by ``F`` up to ``ref_point`` (points beyond it count for nothing)."""
    F = np.asarray(F, dtype=float).reshape(-1, 2)
    ref = np.asarray(ref_point, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    front = F[nondominated(F)]
    front = front[np.argsort(front[:, 0])]
    hv, prev_err = 0.0, ref[1]
    for energy, err in front:
        hv += (ref[0] - energy) * (prev_err - err)
        prev_err = err
    return float(hv)
