"""A search run and its directory: evaluation log, checkpoints, tables, front, plots.

Run directory layout (``--out RUN_DIR``, else ``runs/<name>-<UTC timestamp>``)::

    config.yaml           the resolved config the run uses (resume reads it back)
    candidates.jsonl      append-only log: one JSON row per evaluation, written as results arrive
    candidates.parquet    every evaluated candidate (also .csv): genome, multipliers, predicted
    candidates.csv          and reference energy, accuracy, parameters, time, status, ...
    front.parquet/.csv    the Pareto front (energy x error) of the feasible candidates
    hypervolume.csv       hypervolume of the front found so far, after each generation
    checkpoint.json       generations done, evaluations, state (running/interrupted/complete),
                          hypervolume reference point
    summary.json          the final figures (front size, best exact design, savings,
                          predictor error on the front, times)
    front.png, hypervolume.png
    weights/              float weights per genome (shared by its multiplier variants)

**Checkpoint and resume.** After every generation the tables and
``checkpoint.json`` are rewritten (temp file + rename); every finished
evaluation is appended to ``candidates.jsonl`` at once. Resuming
(``approxdse search resume RUN_DIR``) re-runs the algorithm from its seed and answers each
evaluation it asks for from the log by position (generation, index), so the
replayed generations cost no training and the run continues exactly as the
uninterrupted run would have (the same candidates, the same front). Ctrl-C or a
kill at any point leaves such a resumable directory: a record torn by a kill
mid-append is cut off on resume (with a note; it is evaluated again), the log
holds strict JSON (``NaN`` written as ``null``, read back as NaN), and a corrupt
``checkpoint.json`` is one error line saying to delete it (the log keeps every
evaluation, and the hypervolume reference point is re-derived from it).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from approxdse.core.atomic_files import make_dirs, remove_stale_temps
from approxdse.core.jsonl import append_jsonl
from approxdse.core.errors import ApproxDSEError
from approxdse.core.executor import make_executor
from approxdse.dse.candidate_row import COLUMNS, CandidateRow
from approxdse.dse.config import SearchConfig
from approxdse.networks.genome import Genome
from approxdse.dse.search_space import Candidate, SearchSpace
from approxdse import multipliers
from approxdse.dse.algorithms import make_algorithm, make_problem
from approxdse.dse.energy_objective import EnergyObjective
from approxdse.dse.evaluation import SCREENED, EvaluationSettings, evaluate_group, group_by_genome, predict_group
from approxdse.dse.screening import screen_decisions
from approxdse.dse.report import finish_run, hypervolume_history, pareto_front, search_rows
from approxdse.dse.run_files import (  # noqa: F401  (re-exported)
    CHECKPOINT, CONFIG, LOG, NAN_FIELDS, read_checkpoint, read_log, write_atomic, write_table,
)


def _with_screen(result: dict, screen: dict) -> dict:
    """An evaluation's result with its screening score, time and verdict (and the training the
    scoring step did, which the evaluation then read from the weights cache)."""
    merged = dict(result)
    merged["predicted_output_error"] = screen.get("predicted_output_error", math.nan)
    merged["screened"] = bool(screen.get("screened", False))
    merged["screen_s"] = float(screen.get("screen_s", 0.0))
    if screen.get("screened") and screen.get("message") and not merged.get("message"):
        merged["message"] = f"screening (audit): {screen['message']}"
    if screen.get("screen_note") and not merged.get("message"):
        merged["message"] = f"not screened: {screen['screen_note']}"
    time_s = float(merged.get("time_s", 0.0)) + merged["screen_s"]
    if screen.get("train_s", 0.0) > 0:  # the scoring trained the genome; the evaluation found it cached
        time_s += float(screen["train_s"]) - float(merged.get("train_s", 0.0))
        merged["train_s"] = float(screen["train_s"])
        merged["weights_cached"] = False
    merged["time_s"] = time_s
    return merged


def default_run_dir(config: SearchConfig, root: str | Path = "runs") -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.name}-{stamp}"


_EXACT: dict[str, bool] = {}


def is_exact(name: str) -> bool:
    if name not in _EXACT:
        _EXACT[name] = bool(multipliers.get(name).is_exact)
    return _EXACT[name]


@dataclass
class SearchRun:
    """One search: its config, directory, evaluation log and algorithm.

    >>> run = SearchRun.create(SearchConfig.load("examples/search_digits.yaml"), "runs/demo")  # doctest: +SKIP
    >>> summary = run.run()                                                                    # doctest: +SKIP

    ``evaluate_fn(settings, candidate_dicts) -> result dicts`` evaluates
    candidates of one genome (default :func:`dse.evaluation.evaluate_group`;
    tests substitute cheaper ones); it must be a picklable top-level function
    when ``parallel.workers > 1``. ``screen_fn`` (same signature, default
    :func:`dse.evaluation.predict_group`) scores candidates for the screening
    (``screening.mode`` skip / audit, :mod:`dse.screening`).
    """

    config: SearchConfig
    run_dir: Path
    evaluate_fn: Callable | None = None
    screen_fn: Callable | None = None
    progress: bool = True
    #: Folder of the float-weight cache (default ``RUN_DIR/weights``); runs of one config may share it.
    weights_dir: str | Path | None = None
    #: Results of candidates evaluated elsewhere (by candidate key, e.g. other seeds of a benchmark):
    #: looked up like this run's own earlier evaluations and recorded as ``cached``.
    known: dict[str, dict] | None = None
    rows: dict[tuple[int, int], dict] = field(default_factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ creating / resuming
    @classmethod
    def create(cls, config: SearchConfig, run_dir: str | Path | None = None, **kwargs: Any) -> "SearchRun":
        """A fresh run in ``run_dir`` (default: a new timestamped folder under ``runs/``)."""
        config.validate()
        run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
        if (run_dir / CHECKPOINT).exists() or (run_dir / LOG).exists():
            raise ApproxDSEError(f"{str(run_dir)!r} already holds a search run; "
                                 f"resume it with: approxdse search resume {run_dir}")
        if run_dir.exists() and not run_dir.is_dir():
            raise ApproxDSEError(f"--out {str(run_dir)!r} exists and is not a directory")
        make_dirs(run_dir)
        write_atomic(run_dir / CONFIG, config.to_yaml())
        run = cls(config, run_dir, **kwargs)
        run._write_checkpoint(0, "running")
        return run

    @classmethod
    def resume(cls, run_dir: str | Path, config: SearchConfig | None = None, *, workers: int | None = None,
               scheduler: str | None = None, **kwargs: Any) -> "SearchRun":
        """Reopen ``run_dir``; ``config`` (if given) must match the one the run was started with."""
        run_dir = Path(run_dir)
        if not (run_dir / CONFIG).is_file():
            raise ApproxDSEError(f"{str(run_dir)!r} is not a search run directory (no {CONFIG})")
        saved = SearchConfig.load(run_dir / CONFIG)
        if config is not None:
            a, b = saved.to_dict(), config.to_dict()
            a.pop("parallel"), b.pop("parallel")
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if diff:
                raise ApproxDSEError(f"the config differs from the one {str(run_dir)!r} was started with "
                                     f"(in {', '.join(diff)}); resume without changing it")
            saved = saved.replace(parallel=config.parallel)
        saved = saved.with_overrides(workers=workers, scheduler=scheduler)
        saved.validate()
        remove_stale_temps(run_dir)  # of a run killed mid-write (SIGKILL): this process owns the folder now
        run = cls(saved, run_dir, **kwargs)
        run.checkpoint()  # a corrupt checkpoint is refused now, before any work
        run._load_log()
        return run

    def _load_log(self) -> None:
        for row in read_log(self.run_dir):
            try:
                self.rows[(row["generation"], row["index"])] = row
            except KeyError:
                continue  # not a row this code wrote

    # ------------------------------------------------------------------ state
    def checkpoint(self) -> dict:
        return read_checkpoint(self.run_dir)

    def _write_checkpoint(self, generations_done: int, state: str, **extra: Any) -> None:
        data = self.checkpoint() if (self.run_dir / CHECKPOINT).exists() else {}
        data.update({"generations_done": generations_done, "generations": self.config.algorithm.generations,
                     "evaluations": len(self.rows),
                     "screened": sum(1 for r in self.rows.values() if r.get("status") == SCREENED),
                     "budget": self.config.algorithm.budget, "state": state,
                     "algorithm": self.config.algorithm.name, "seed": self.config.seed,
                     "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        data.update(extra)
        write_atomic(self.run_dir / CHECKPOINT, json.dumps(data, indent=2))

    # ------------------------------------------------------------------ evaluation
    def settings(self):
        cfg = self.config
        energy = str(cfg.predictor_path()) if cfg.energy.is_file else cfg.energy.predictor
        weights = self.weights_dir if self.weights_dir is not None else self.run_dir / "weights"
        return EvaluationSettings(cfg.dataset, cfg.training, energy, cfg.energy.accelerator, cfg.constraints,
                                  str(weights), cfg.screening, cfg.energy.recheck, cfg.energy.recheck_width)

    def _row(self, gen: int, index: int, cand: Candidate, x: dict, result: dict, cached: bool) -> dict:
        """The log record (:class:`~dse.candidate_row.CandidateRow` as a dict) of one evaluation."""
        cfg = self.config
        energy_model = cfg.energy.predictor if not cfg.energy.is_file else Path(cfg.energy.predictor).name
        return CandidateRow.of(gen, index, cand, x, result, phase=getattr(self, "_phase", "search"),
                               energy_model=energy_model, exact=all(is_exact(m) for m in cand.multipliers),
                               cached=cached, min_accuracy=cfg.constraints.min_accuracy).to_dict()

    def _append(self, rows: Sequence[dict]) -> None:
        append_jsonl(self.run_dir / LOG, rows)
        for row in rows:
            self.rows[(row["generation"], row["index"])] = row

    def _evaluate_batch(self, candidates: list[Candidate], xs: list[dict]) -> list[dict]:
        """What the pymoo problem calls: rows for ``candidates`` (from the log, the cache, or evaluated)."""
        gen = self._generation
        base = self._next_index
        self._next_index += len(candidates)
        out: list[dict | None] = [None] * len(candidates)
        by_key = dict(self.known or {})
        by_key.update({r["key"]: r for r in self.rows.values() if not r["cached"]})
        todo: list[int] = []
        replayed: list[dict] = []
        for i, cand in enumerate(candidates):
            logged = self.rows.get((gen, base + i))
            if logged is not None and logged["key"] == cand.key():
                out[i] = logged
                continue
            if cand.key() in by_key:
                row = self._row(gen, base + i, cand, xs[i], by_key[cand.key()], cached=True)
                out[i] = row
                replayed.append(row)
                continue
            todo.append(i)
        if replayed:
            self._append(replayed)
        self._bar.update(len(candidates) - len(todo))
        screens = self._screen(gen, candidates, out, todo) if todo else {}
        if screens:
            done = [i for i in todo if screens[candidates[i].key()].get("_row")]
            rows = []
            for i in done:
                src = next((r for r in rows if r["key"] == candidates[i].key()), None)
                result = src if src is not None else screens[candidates[i].key()]
                rows.append(self._row(gen, base + i, candidates[i], xs[i], result, cached=src is not None))
                out[i] = rows[-1]
            if rows:
                self._append(rows)
                self._bar.update(len(rows))
            todo = [i for i in todo if out[i] is None]
        # each task: the not-yet-evaluated candidates of one genome
        groups = group_by_genome(candidates[i] for i in todo)
        first_pos = {}
        for i in todo:
            first_pos.setdefault(candidates[i].key(), i)
        tasks = [(self.settings(), [c.to_dict() for c in group]) for group in groups]
        fn = self.evaluate_fn or evaluate_group
        for g, results in self._executor.run(fn, tasks):
            rows = []
            for cand, result in zip(groups[g], results):
                i = first_pos[cand.key()]
                if cand.key() in screens:
                    result = _with_screen(result, screens[cand.key()])
                rows.append(self._row(gen, base + i, cand, xs[i], result, cached=False))
                out[i] = rows[-1]
            # duplicates of a candidate inside this batch share its result
            for i in todo:
                if out[i] is None and candidates[i].key() in {c.key() for c in groups[g]}:
                    src = next(r for r in rows if r["key"] == candidates[i].key())
                    rows.append(self._row(gen, base + i, candidates[i], xs[i], src, cached=True))
                    out[i] = rows[-1]
            self._append(rows)
            self._bar.update(len(rows))
        return out  # type: ignore[return-value]

    def _screen(self, gen: int, candidates: list[Candidate], out: list, todo: list[int]) -> dict[str, dict]:
        """Score the ``todo`` candidates with the error model and decide which to screen (:mod:`dse.screening`).

        Returns ``{key: screen dict}``; a dict with ``_row`` set is logged as it is, without an
        evaluation: a screened candidate (mode ``skip``), or one that failed or was infeasible
        before any emulation. Empty when screening is off or in the exact-twin phase.
        """
        cfg = self.config.screening
        if not cfg.active or getattr(self, "_phase", "search") != "search":
            return {}
        groups = group_by_genome(candidates[i] for i in todo)
        tasks = [(self.settings(), [c.to_dict() for c in group]) for group in groups]
        screens: dict[str, dict] = {}
        for _, results in self._executor.run(self.screen_fn or predict_group, tasks):
            for result in results:
                screens[result["key"]] = dict(result)
        genome_of = {c.key(): c.genome.key() for c in candidates}
        batch = [r for r in out if r is not None] + [
            {**screens[candidates[i].key()], "genome_key": genome_of[candidates[i].key()]} for i in todo]
        history = [r for r in self.rows.values() if r["generation"] < gen and r.get("phase", "search") == "search"]
        verdicts = screen_decisions(batch, history, cfg, self.config.constraints.min_accuracy)
        for key, result in screens.items():
            if key in verdicts:
                result.update(screened=True, message=verdicts[key])
                if cfg.mode == "skip":
                    result.update(status=SCREENED, _row=True,
                                  time_s=result.get("time_s", 0.0) + result["screen_s"] + result.get("train_s", 0.0))
            elif result["status"] != "ok":
                result["_row"] = True
        return screens

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        """Run (or finish) the search; returns the summary dict (also in ``summary.json``).

        On KeyboardInterrupt the run directory is left resumable (state ``interrupted``)
        and the interrupt is re-raised.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        space = SearchSpace.from_config(cfg)
        # a default predictor is fitted and cached once here, not in every worker
        EnergyObjective(self.settings().energy, cfg.energy.accelerator).prepare(progress=self.progress)
        problem = make_problem(space, self._evaluate_batch, cfg.constraints.min_accuracy)
        algorithm = make_algorithm(cfg.algorithm.name, problem, cfg.algorithm.population, cfg.seed)
        self._executor = make_executor(cfg.parallel.workers, cfg.parallel.scheduler)
        self._bar = tqdm(total=cfg.algorithm.budget, desc=f"search {cfg.name}", unit="eval",
                         disable=not self.progress, dynamic_ncols=True)
        t0 = time.perf_counter()
        gen = 0
        state = "interrupted"
        try:
            for gen in range(cfg.algorithm.generations):
                self._generation, self._next_index = gen, 0
                algorithm.step()
                self._end_generation(gen)
            if cfg.algorithm.exact_twins:
                self._evaluate_exact_twins(space)
            state = "complete"
        finally:
            self._bar.close()
            self._executor.close(wait=state == "complete")
            if state != "complete":
                self._write_tables()
                self._write_checkpoint(gen, state)

        summary = finish_run(self, wall_s=time.perf_counter() - t0)
        self._write_checkpoint(cfg.algorithm.generations, "complete")
        return summary

    def _evaluate_exact_twins(self, space: SearchSpace) -> None:
        """Evaluate each front design's network with the exact multiplier (outside the budget).

        These ``exact_twin`` rows (generation = number of generations) are the
        baseline a multiplier's saving is measured against; the float weights are
        cached, so each costs one emulated evaluation. Not part of the search's
        hypervolume.
        """
        exact = space.exact_multiplier()
        if exact is None:
            return
        front = pareto_front(search_rows(self.table()))  # the search's front: stable on resume
        twins, seen = [], set()
        for row in front.to_dict("records"):
            if row["exact"]:
                continue
            genome = Genome.from_json(row["genome"])
            n = len(json.loads(row["multipliers"]))
            twin = Candidate(genome, (exact,) * n, True, space.groups)
            if twin.key() not in seen:
                seen.add(twin.key())
                twins.append(twin)
        if not twins:
            return
        self._generation, self._next_index, self._phase = self.config.algorithm.generations, 0, "exact_twin"
        self._bar.total = (self._bar.total or 0) + len(twins)
        self._bar.refresh()
        try:
            self._evaluate_batch(twins, [{} for _ in twins])
        finally:
            self._phase = "search"

    def table(self):
        """Every evaluation so far as a DataFrame, in (generation, index) order."""
        import pandas as pd

        rows = [self.rows[k] for k in sorted(self.rows)]
        return pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(columns=list(COLUMNS))

    def _write_tables(self) -> None:
        df = self.table()
        write_table(df, self.run_dir / "candidates")
        write_table(pareto_front(df), self.run_dir / "front")
        ref = self.reference_point()
        if ref is not None:
            write_table(hypervolume_history(df, ref), self.run_dir / "hypervolume")

    def reference_point(self) -> tuple[float, float] | None:
        """The hypervolume reference point: the config's, else fixed after generation 1."""
        if self.config.hypervolume.reference_point is not None:
            return tuple(self.config.hypervolume.reference_point)
        ref = self.checkpoint().get("reference_point")
        return tuple(ref) if ref else None

    def _end_generation(self, gen: int) -> None:
        extra = {}
        if self.reference_point() is None:
            # rows of generations <= gen only: a resume (with the whole log loaded) fixes the same point
            energies = [r["energy"] for r in self.rows.values()
                        if r["generation"] <= gen and r["status"] == "ok" and math.isfinite(r["energy"])]
            if energies:
                extra["reference_point"] = [1.1 * max(energies), 1.0]
        if extra:
            self._write_checkpoint(gen + 1, "running", **extra)
        self._write_tables()
        self._write_checkpoint(gen + 1, "running")
