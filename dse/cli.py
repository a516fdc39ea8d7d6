"""``approxdse search``: the NAS-style search, resumed, and reported.

Spellings::

    approxdse search run CONFIG.yaml [--out RUN_DIR] [--workers K | --scheduler tcp://...] [--seed S]
                                     [--progress | --no-progress]
    approxdse search resume RUN_DIR [--config CONFIG.yaml] [--workers K | --scheduler ...] [--seed S]
    approxdse search report RUN_DIR [--reference] [--format table|json]

The shared options come from :mod:`approxdse.core.cli_options`. The old spellings
``approxdse search CONFIG.yaml ...``, ``approxdse search [CONFIG.yaml] --resume RUN_DIR``
and ``--quiet`` still work for one release (:func:`rewrite_legacy_argv` turns them into
the new ones and prints one deprecation line).

The search itself (:mod:`approxdse.dse.run`) is imported inside its handlers because it
imports torch (through the accuracy evaluation); pandas is imported where tables are read.
Everything else is imported at the top, so ``approxdse --help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from approxdse.core.atomic_files import check_writable
from approxdse.core.cli_options import (
    deprecation_warning,
    format_option,
    out_option,
    progress_option,
    show_progress,
    workers_option,
)
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import SCREEN_MODES, SearchConfig
from approxdse.dse.report import format_report, write_report
from approxdse.dse.run_files import CONFIG, LOG

ACTIONS = ("run", "resume", "report")
#: Options of the old single ``search`` command that take a value.
_VALUE_OPTIONS = ("--out", "--workers", "--scheduler", "--seed", "--screen")
WROTE = ("candidates.parquet, candidates.csv, front.csv, hypervolume.csv, summary.json, front.png, "
         "hypervolume.png")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "search",
        help="NAS-style search of CNNs x approximate multipliers (energy vs error Pareto front)",
        description="Search CNN architectures and approximate multipliers for the energy x error Pareto "
        "front (NSGA-II or random search); resume an interrupted run; re-print and re-plot a run.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  approxdse search run examples/search_digits.yaml --out runs/digits\n"
        "  approxdse search resume runs/digits\n"
        "  approxdse search report runs/digits",
    )
    sub = p.add_subparsers(dest="search_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    workers = workers_option("the config's")

    run = sub.add_parser("run", help="start a search from a config file",
                         parents=[out_option("run directory (default: runs/<name>-<timestamp>)", metavar="RUN_DIR"),
                                  workers, progress_option()])
    run.add_argument("config", metavar="CONFIG", help="the search config (YAML)")
    run.add_argument("--seed", type=int, metavar="S", help="search seed (overrides the config's)")
    run.add_argument("--screen", choices=SCREEN_MODES, default=None,
                     help="screen candidates with the layer error model before their accuracy evaluation: "
                     "skip the evaluation of those predicted far off the front, or audit (flag them, evaluate "
                     "anyway); overrides the config's screening.mode (default: the config's, off)")
    run.set_defaults(func=_run)

    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint",
                            parents=[workers, progress_option()])
    resume.add_argument("run_dir", metavar="RUN_DIR")
    resume.add_argument("--config", metavar="CONFIG",
                        help="the search config; must match the run's (default: the run's own config.yaml)")
    resume.add_argument("--seed", type=int, metavar="S", help="search seed (must match the run's)")
    resume.set_defaults(func=_resume)

    report = sub.add_parser("report", help="re-print and re-plot a run (finished or not) from its files",
                            parents=[format_option(("table", "json"))])
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--reference", action="store_true",
                        help="re-evaluate the front with the reference energy model")
    report.set_defaults(func=_report)


def rewrite_legacy_argv(argv: list[str]) -> list[str]:
    """The new spelling of an old ``search`` command line (one deprecation line on stderr):
    ``search CONFIG ...`` -> ``search run CONFIG ...``; ``search [CONFIG] --resume DIR ...``
    -> ``search resume DIR [--config CONFIG] ...``. Other command lines pass unchanged."""
    try:
        at = next(i for i, a in enumerate(argv) if not a.startswith("-"))
    except StopIteration:
        return argv
    if argv[at] != "search":
        return argv
    head, rest = argv[: at + 1], argv[at + 1:]
    if not rest or rest[0] in ACTIONS or rest[0] in ("-h", "--help"):
        return argv
    resume_dir, kept = None, []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--resume" and i + 1 < len(rest):
            resume_dir, i = rest[i + 1], i + 2
            continue
        if arg.startswith("--resume="):
            resume_dir, i = arg.split("=", 1)[1], i + 1
            continue
        kept.append(arg)
        i += 1
    if resume_dir is None:
        deprecation_warning("'approxdse search CONFIG'", "'approxdse search run CONFIG'")
        return [*head, "run", *rest]
    deprecation_warning("'approxdse search [CONFIG] --resume RUN_DIR'",
                        "'approxdse search resume RUN_DIR [--config CONFIG]'")
    config, others = None, []
    i = 0
    while i < len(kept):
        if kept[i] in _VALUE_OPTIONS and i + 1 < len(kept):
            others += kept[i : i + 2]
            i += 2
            continue
        if config is None and not kept[i].startswith("-"):
            config = kept[i]
        else:
            others.append(kept[i])
        i += 1
    return [*head, "resume", resume_dir, *(["--config", config] if config else []), *others]


def _check_seed(seed: int | None) -> None:
    if seed is not None and seed < 0:
        raise ApproxDSEError(f"--seed must be a non-negative integer, got {seed}")


def _run(args: argparse.Namespace) -> int:
    _check_seed(args.seed)

    if args.out:
        check_writable(args.out, folder=True)
    config = SearchConfig.load(args.config).with_overrides(seed=args.seed, workers=args.workers,
                                                           scheduler=args.scheduler, screen=args.screen)
    from approxdse.dse.run import SearchRun, default_run_dir  # imports torch: see the module docstring

    _check_dataset(config)
    run_dir = Path(args.out) if args.out else default_run_dir(config)
    created = next((p for p in (*reversed(run_dir.parents), run_dir) if not p.exists()), None)
    try:
        run = SearchRun.create(config, run_dir, progress=show_progress(args))
        print(f"run directory: {run.run_dir}", flush=True)
        summary = run.run()
    except ApproxDSEError:
        # refused before a single evaluation was logged (e.g. a corrupt energy.predictor file, a full
        # disk): the folders this command created go too, so the fixed config can use the same --out
        if created is not None and not (run_dir / LOG).exists():
            shutil.rmtree(created, ignore_errors=True)
        raise
    return _print(run.run_dir, summary, "table")


def _check_dataset(config: SearchConfig) -> None:
    """Read the config's dataset once before the run folder is written, so that missing or
    corrupt data files are one error line rather than every evaluation failing. A run in this
    process keeps the loaded splits (cached); a run with workers lets them go again."""
    from approxdse.dse.evaluation import load_splits
    from approxdse.emulator.datasets import load_dataset

    dataset = config.dataset
    if config.parallel.workers == 1 and not config.parallel.scheduler:
        load_splits(dataset)
    else:
        load_dataset(dataset.name, val_fraction=dataset.validation_fraction, **dict(dataset.options))


def _resume(args: argparse.Namespace) -> int:
    _check_seed(args.seed)

    config = SearchConfig.load(args.config) if args.config else None
    if args.seed is not None:  # must match the run's seed; checked against the run's config
        if config is None and (Path(args.run_dir) / CONFIG).is_file():
            config = SearchConfig.load(Path(args.run_dir) / CONFIG)
        if config is not None:
            config = config.with_overrides(seed=args.seed)
    from approxdse.dse.run import SearchRun  # imports torch: see the module docstring

    run = SearchRun.resume(args.run_dir, config, workers=args.workers, scheduler=args.scheduler,
                           progress=show_progress(args))
    print(f"run directory: {run.run_dir}", flush=True)
    return _print(run.run_dir, run.run(), "table")


def _report(args: argparse.Namespace) -> int:
    summary = write_report(args.run_dir, reference=args.reference)
    return _print(Path(args.run_dir), summary, args.format)


def _print(run_dir: Path, summary: dict, fmt: str) -> int:
    import pandas as pd

    if fmt == "json":
        print(json.dumps(summary, indent=2, default=str))
        return 0
    front = pd.read_parquet(Path(run_dir) / "front.parquet")
    print(format_report(summary, front))
    print(f"wrote {run_dir}/{WROTE}")
    return 0
