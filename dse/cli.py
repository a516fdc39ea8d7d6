"""``approxdse search``: the NAS-style search, and ``approxdse search report RUN_DIR``.

Spellings::

    approxdse search CONFIG.yaml [--out RUN_DIR] [--workers K] [--scheduler tcp://...] [--seed S]
    approxdse search CONFIG.yaml --resume RUN_DIR      (CONFIG must match the run's)
    approxdse search --resume RUN_DIR                   (the run's own config.yaml)
    approxdse search report RUN_DIR [--reference]

Heavy imports (torch, pandas, pymoo) stay inside the handler.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from approxdse.core.atomic_files import check_writable
from approxdse.core.errors import ApproxDSEError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "search",
        help="NAS-style search of CNNs x approximate multipliers (energy vs error Pareto front)",
        description="Search CNN architectures and approximate multipliers for the energy x error Pareto "
        "front (NSGA-II or random search). 'approxdse search report RUN_DIR' re-prints and re-plots a run.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  approxdse search examples/search_digits.yaml --out runs/digits\n"
        "  approxdse search examples/search_digits.yaml --resume runs/digits\n"
        "  approxdse search report runs/digits",
    )
    p.add_argument("target", nargs="?", metavar="CONFIG",
                   help="the search config (YAML), or the word 'report' followed by RUN_DIR")
    p.add_argument("run_dir_arg", nargs="?", metavar="RUN_DIR", help=argparse.SUPPRESS)
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<name>-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--scheduler", metavar="ADDRESS", help="evaluate on this Dask scheduler (tcp://host:port)")
    p.add_argument("--workers", type=int, metavar="K", help="local worker processes (default: the config's)")
    p.add_argument("--seed", type=int, metavar="S", help="search seed (overrides the config's)")
    p.add_argument("--reference", action="store_true",
                   help="(report) re-evaluate the front with the reference energy model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_search)


def _search(args) -> int:
    if args.target == "report" and (args.run_dir_arg or not Path("report").is_file()):
        if not args.run_dir_arg:
            raise ApproxDSEError("'approxdse search report' needs a RUN_DIR")
        return _report(args.run_dir_arg, reference=args.reference)
    if args.run_dir_arg:
        raise ApproxDSEError(f"unexpected argument {args.run_dir_arg!r}; use --out RUN_DIR or --resume RUN_DIR")
    if args.workers is not None and args.workers < 1:
        raise ApproxDSEError(f"--workers must be at least 1, got {args.workers}")
    if args.seed is not None and args.seed < 0:
        raise ApproxDSEError(f"--seed must be a non-negative integer, got {args.seed}")
    from approxdse.dse.config import SearchConfig
    from approxdse.dse.run import SearchRun

    if args.resume:
        if args.out:
            raise ApproxDSEError("give either --out or --resume, not both")
        config = SearchConfig.load(args.target) if args.target else None
        if config is not None and args.seed is not None:
            config = config.with_overrides(seed=args.seed)
        run = SearchRun.resume(args.resume, config, workers=args.workers, scheduler=args.scheduler,
                               progress=not args.quiet)
    else:
        if not args.target:
            raise ApproxDSEError("give a search config (approxdse search CONFIG.yaml) or --resume RUN_DIR")
        if args.out:
            check_writable(args.out, folder=True)
        config = SearchConfig.load(args.target).with_overrides(seed=args.seed, workers=args.workers,
                                                               scheduler=args.scheduler)
        run = SearchRun.create(config, args.out, progress=not args.quiet)
    print(f"run directory: {run.run_dir}", flush=True)
    summary = run.run()
    return _print(run.run_dir, summary)


def _report(run_dir: str, reference: bool = False) -> int:
    from approxdse.dse.report import write_report

    summary = write_report(run_dir, reference=reference)
    return _print(Path(run_dir), summary)


def _print(run_dir: Path, summary: dict) -> int:
    import pandas as pd

    from approxdse.dse.report import format_report

    front = pd.read_parquet(Path(run_dir) / "front.parquet")
    print(format_report(summary, front))
    print(f"wrote {run_dir}/candidates.parquet, candidates.csv, front.csv, hypervolume.csv, summary.json, "
          "front.png, hypervolume.png")
    return 0
