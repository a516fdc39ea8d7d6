"""NSGA-II vs random search: hypervolume at equal evaluation budget, over several seeds.

    python benchmarks/search_bench.py                 # the digits example, seeds 0 1 2
    python benchmarks/search_bench.py --quick         # a smaller budget (about a quarter)
    python benchmarks/search_bench.py --config examples/search_digits.yaml --seeds 0 1 2 3 --workers 2

For each seed both algorithms run the same config (same space, training,
energy model, budget = population x generations evaluations). All runs share
one float-weight cache and one table of evaluated candidates: an evaluation is
a deterministic function of the candidate (the training seed comes from the
genome, not from the search seed), so a candidate that two runs both visit is
trained and emulated once; each run still spends one unit of its budget on it.

The hypervolume of each run's final front (energy x error, both minimised) is
computed against one reference point shared by all runs: 1.1 x the largest
energy any run evaluated, error 1.0, with both objectives divided by it (so 1.0
would be a front dominating the whole box). It prints one row per seed, the
mean, and the number of seeds NSGA-II wins, plus a Markdown table for
benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "examples" / "search_digits.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: the config's)")
    parser.add_argument("--quick", action="store_true", help="half the population and half the generations")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temporary folder)")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    import pandas as pd

    from approxdse.dse.algorithms import hypervolume
    from approxdse.dse.config import AlgorithmConfig, SearchConfig
    from approxdse.dse.report import pareto_front
    from approxdse.dse.run import SearchRun

    base = SearchConfig.load(args.config).with_overrides(workers=args.workers)
    if args.quick:
        alg = base.algorithm
        base = base.replace(algorithm=AlgorithmConfig(alg.name, max(4, alg.population // 2),
                                                      max(2, alg.generations // 2)))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="search_bench_"))
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "weights"
    known: dict[str, dict] = {}
    tables: dict[tuple[int, str], pd.DataFrame] = {}
    times: dict[tuple[int, str], float] = {}
    print(f"config {args.config}: budget {base.algorithm.budget} evaluations "
          f"({base.algorithm.population} x {base.algorithm.generations}), seeds {args.seeds}, runs in {out}",
          flush=True)
    for seed in args.seeds:
        for name in ("nsga2", "random"):
            alg = base.algorithm
            cfg = base.replace(seed=seed, algorithm=AlgorithmConfig(name, alg.population, alg.generations, False),
                               energy=base.energy.__class__(base.energy.predictor, base.energy.accelerator, False))
            run_dir = out / f"{name}-seed{seed}"
            if (run_dir / "checkpoint.json").exists():
                run = SearchRun.resume(run_dir, weights_dir=weights, known=known, progress=True)
            else:
                run = SearchRun.create(cfg, run_dir, weights_dir=weights, known=known, progress=True)
            t0 = time.perf_counter()
            run.run()
            times[(seed, name)] = time.perf_counter() - t0
            df = run.table()
            tables[(seed, name)] = df
            for row in df[~df["cached"].astype(bool)].to_dict("records"):
                known.setdefault(row["key"], row)

    energies = [t.loc[t["status"] == "ok", "energy"].max() for t in tables.values()]
    ref = np.array([1.1 * float(np.nanmax(energies)), 1.0])
    rows = []
    for seed in args.seeds:
        row = {"seed": seed}
        for name in ("nsga2", "random"):
            df = tables[(seed, name)]
            front = pareto_front(df)
            F = front[["energy", "error"]].to_numpy(float) / ref
            row[f"hv_{name}"] = hypervolume(F, (1.0, 1.0))
            row[f"front_{name}"] = len(front)
            row[f"trained_{name}"] = int((df["train_s"] > 0).sum())
            row[f"time_{name}_s"] = times[(seed, name)]
        row["nsga2_minus_random"] = row["hv_nsga2"] - row["hv_random"]
        rows.append(row)
    table = pd.DataFrame(rows)
    wins = int((table["nsga2_minus_random"] > 0).sum())
    pd.set_option("display.width", 160)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"mean hypervolume: NSGA-II {table['hv_nsga2'].mean():.4f}, random {table['hv_random'].mean():.4f} "
          f"(ratio {table['hv_nsga2'].mean() / table['hv_random'].mean():.3f}); NSGA-II wins {wins}/{len(table)} seeds")
    print(f"reference point: energy {ref[0]:.4g}, error {ref[1]:.2f}")
    print("\n| seed | NSGA-II HV | random HV | NSGA-II front | random front |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['seed']} | {r['hv_nsga2']:.4f} | {r['hv_random']:.4f} | {r['front_nsga2']} | {r['front_random']} |")
    print(f"| mean | {table['hv_nsga2'].mean():.4f} | {table['hv_random'].mean():.4f} | | |")
    (out / "bench.json").write_text(json.dumps({"rows": rows, "reference_point": ref.tolist(), "wins": wins,
                                                "budget": base.algorithm.budget}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
