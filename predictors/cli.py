"""``approxdse dataset``, ``approxdse train-predictor`` and ``approxdse compare``.

    approxdse dataset --accelerator A,B --networks SPEC --out DIR [--multipliers all|A,B]
                      [--workers K | --scheduler ADDRESS] [--progress | --no-progress] [--format table|json]
    approxdse train-predictor --data DIR --kind summing|xgboost|hgb --accelerator A --out FILE
                      [--format table|json]
    approxdse compare --predictor FILE --data DIR [--plot FILE.png] [--format table|json] [--out FILE]
                      [--networks held-out|all] [--allow-training-data]
    approxdse energy NETWORK --predictor summing|learned|FILE.json [--multiplier M] [--accelerator A]
                      [--format table|json|csv] [--per-layer] [--out FILE]

``--predictor`` is added here to the ``energy`` command of :mod:`approxdse.accelerators.cli`
(the reference lives a layer below the predictors): without it ``energy`` runs the reference.

The shared options come from :mod:`approxdse.core.cli_options`. Heavy imports stay
inside the handlers so ``approxdse --help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from approxdse.accelerators.cli import check_energy_outputs, resolve_energy_network, run_energy
from approxdse.core.atomic_files import check_writable
from approxdse.core.cli_options import (
    format_option,
    out_option,
    progress_option,
    show_progress,
    workers_option,
    write_output,
)
from approxdse.core.errors import ApproxDSEError
from approxdse.predictors.compare import compare_predictor
from approxdse.predictors.dataset import Dataset, generate_dataset
from approxdse.predictors.io import check_model_path, load_predictor
from approxdse.predictors.learned import LearnedPredictor
from approxdse.predictors.predicted_energy import load_energy_predictor, predicted_energy
from approxdse.predictors.reference import (DATASET_FACTORIZATIONS, DATASET_MAPPERS, REFERENCE_FACTORIZATION,
                                            REFERENCE_MAPPER)
from approxdse.predictors.summing import SummingPredictor

SUMMARY_FORMATS = ("table", "json")
#: ``energy`` options that need the reference's mapping search (refused with ``--predictor``).
_REFERENCE_ONLY = (("mapping", "--mapping"), ("compare_multipliers", "--compare-multipliers"), ("plot", "--plot"))


def _extend_energy(subparsers) -> None:
    """Add ``--predictor`` to the ``energy`` command registered by :mod:`approxdse.accelerators.cli`."""
    energy = subparsers.choices.get("energy")
    if energy is None:  # pragma: no cover - the accelerators' commands always register first
        return
    energy.add_argument("--predictor", metavar="summing|learned|FILE.json", default=None,
                        help="answer with a predictor instead of the reference (milliseconds, no mapping search): "
                        "the default summing or learned predictor of the accelerator, or a model file from "
                        "train-predictor; learned adds a 90%% interval and an out-of-domain flag")
    energy.set_defaults(func=_energy)


def _energy(args: argparse.Namespace) -> int:
    if args.predictor is None:
        return run_energy(args)
    for attr, flag in _REFERENCE_ONLY:
        if getattr(args, attr, None):
            raise ApproxDSEError(f"{flag} needs the reference; drop --predictor to use it")
    if args.objective != "energy":
        raise ApproxDSEError(f"--objective {args.objective} needs the reference; predictors give energy only")
    check_energy_outputs(args)
    pred, source = load_energy_predictor(args.predictor, args.accelerator, progress=show_progress(args))
    # a predictor answers for the map space it learned; --factorization may only name that one
    if args.factorization is not None and args.factorization != pred.factorization:
        raise ApproxDSEError(
            f"--factorization {args.factorization} needs the reference or a predictor trained on a "
            f"--factorization {args.factorization} dataset; {source} learned the {pred.factorization}-factorisation "
            f"reference (drop --predictor, or use --factorization {pred.factorization})")
    workload, traced, shape = resolve_energy_network(args)
    report = predicted_energy(pred, workload, args.multiplier, source=source, layer_multipliers=traced or None,
                              input_shape=tuple(shape) if shape else None)
    if args.format == "json":
        text = report.to_json()
    elif args.format == "csv":
        text = report.to_csv()
    else:
        text = report.table(per_layer=args.per_layer)
    write_output(text, args.out, f"predicted energy {args.format}")
    return 0


def register(subparsers) -> None:
    _extend_energy(subparsers)
    p = subparsers.add_parser(
        "dataset",
        help="reference energies of many networks x multipliers x accelerators (resumable)",
        description="Evaluate every (network, multiplier, accelerator) with the reference energy model and "
        "write chunked Parquet plus a manifest. Re-running resumes: finished rows are skipped.",
        parents=[out_option("dataset directory (created, or resumed)", metavar="DIR", required=True),
                 workers_option("one per CPU, at most 8"), progress_option(),
                 format_option(SUMMARY_FORMATS, help="format of the summary (default table)")],
    )
    p.add_argument("--accelerator", required=True, help="comma-separated accelerators, e.g. eyeriss,simba")
    p.add_argument("--networks", required=True,
                   help="comma-separated: nas:N, nas-digits:N, nas-imagenet:N, resnet:N, layers:N (random layer "
                   "shapes), zoo, zoo-resnets, family:NAME, zoo names")
    p.add_argument("--multipliers", default="all", help="all, or comma-separated multiplier names (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated networks (default 0)")
    p.add_argument("--chunk-size", type=int, default=4, help="(network, accelerator) tasks per Parquet part (default 4)")
    p.add_argument("--mapper", choices=list(DATASET_MAPPERS), default=REFERENCE_MAPPER,
                   help="the reference's mapper (default auto: the exhaustive search under a step budget); fast: "
                   "the local search, not proven optimal, for quicker large datasets; recorded in the manifest")
    p.add_argument("--factorization", choices=list(DATASET_FACTORIZATIONS), default=REFERENCE_FACTORIZATION,
                   help="the reference's map space (default exact: Timeloop v3's, the shipped predictors'); "
                   "imperfect: partial last tiles, the energy command's default, slower on awkward channel "
                   "counts; recorded in the manifest and in predictors trained on the dataset")
    p.set_defaults(func=_dataset)

    p = subparsers.add_parser(
        "train-predictor",
        help="fit a summing or learned energy predictor on a dataset",
        description="Fit a predictor for one accelerator and save it as JSON (or UBJSON for .ubj), never pickle.",
        parents=[out_option("model file (.json or .ubj)", required=True),
                 format_option(SUMMARY_FORMATS, help="format of the summary (default table)")],
    )
    p.add_argument("--data", required=True, help="dataset directory (approxdse dataset --out)")
    p.add_argument("--kind", required=True, choices=["summing", "xgboost", "hgb"], help="predictor kind")
    p.add_argument("--accelerator", required=True, help="accelerator to fit for")
    p.add_argument("--granularity", default="auto", choices=["auto", "layer", "network"],
                   help="learned predictors: per-layer model or network-level model (default auto: layer)")
    p.add_argument("--form", default="auto", choices=["auto", "free", "anchored"],
                   help="summing predictor form (default auto: anchored where the exact energy is known)")
    p.add_argument("--holdout", type=float, default=0.0,
                   help="hold out this fraction of the networks (split by network); compare then uses them")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the trees (default 0)")
    p.add_argument("--n-estimators", type=int, default=300, help="boosting rounds (default 300)")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "compare",
        help="predictor vs reference: R^2, MAPE, rank correlations, speed, plots",
        description="Compare a saved predictor with a dataset's reference energies. Networks the predictor "
        "was trained on are left out when the dataset has others.",
        parents=[format_option(SUMMARY_FORMATS), out_option("write the table/JSON here instead of stdout")],
    )
    p.add_argument("--predictor", required=True, help="model file from approxdse train-predictor")
    p.add_argument("--data", required=True, help="dataset directory")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="write a scatter plot + error histogram PNG here")
    p.add_argument("--networks", choices=["held-out", "all"], default="held-out",
                   help="held-out (default: networks the predictor did not see, if any) or all")
    p.add_argument("--allow-training-data", action="store_true",
                   help="score even when every network of the dataset was used in training (marked "
                   "evaluated_on: training); refused otherwise")
    p.add_argument("--reference-networks", type=int, default=10,
                   help="networks on which the reference and the predictor are timed (default 10; 0: no timing)")
    p.add_argument("--seed", type=int, default=0, help="seed choosing the timed networks")
    p.set_defaults(func=_compare)


def _dataset(args: argparse.Namespace) -> int:
    check_writable(args.out, folder=True)
    workers = args.workers if args.workers is not None else max(1, min(8, os.cpu_count() or 1))
    summary = generate_dataset(
        args.out, args.accelerator, args.networks, args.multipliers, seed=args.seed, workers=workers,
        scheduler=args.scheduler, chunk_size=args.chunk_size, progress=show_progress(args), mapper=args.mapper,
        factorization=args.factorization,
    )
    if args.format == "json":
        print(json.dumps({"directory": str(summary.directory), "tasks_run": summary.tasks_run,
                          "tasks_total": summary.tasks_total, "rows_written": summary.rows_written,
                          "rows_skipped": summary.rows_skipped, "seconds": summary.seconds,
                          "mapper": args.mapper, "factorization": args.factorization}, indent=2))
        return 0
    print(f"{summary.directory}: {summary.tasks_run} of {summary.tasks_total} (network, accelerator) tasks run, "
          f"{summary.rows_written} rows written, {summary.rows_skipped} already there, {summary.seconds:.1f} s "
          f"(mapper {args.mapper}, {args.factorization} factorisation)")
    return 0


def _train(args: argparse.Namespace) -> int:
    if args.n_estimators < 1:
        raise ApproxDSEError(f"--n-estimators must be a positive integer, got {args.n_estimators}")
    check_model_path(args.out)
    ds = Dataset.load(args.data).for_accelerator(args.accelerator)
    test_names: list[str] = []
    if args.holdout:
        train, test = ds.split_by_network(args.holdout, seed=args.seed)
        test_names = sorted(set(test.energy["network"]))
        ds = train
    if args.kind == "summing":
        pred = SummingPredictor(form=args.form).fit(ds, args.accelerator)
        detail = {"a": pred.a, "b": pred.b, "c": pred.c}
    else:
        pred = LearnedPredictor(kind=args.kind, granularity=args.granularity, n_estimators=args.n_estimators,
                                seed=args.seed).fit(ds, args.accelerator)
        detail = {"granularity": pred.granularity, "c": pred.c}
    pred.save(args.out)
    summary = {"model": args.out, "kind": args.kind, "accelerator": args.accelerator,
               "training_networks": len(pred.training_networks), "training_rows": int(len(ds.energy)),
               "held_out_networks": len(test_names), "fit_seconds": pred.fit_seconds, **detail}
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.kind} predictor for {args.accelerator}: {summary['training_networks']} networks, "
              f"{summary['training_rows']} rows, fitted in {pred.fit_seconds:.2f} s -> {args.out}"
              + (f" ({len(test_names)} networks held out)" if test_names else ""))
    return 0


def _compare(args: argparse.Namespace) -> int:
    if args.reference_networks < 0:
        raise ApproxDSEError(f"--reference-networks must be non-negative, got {args.reference_networks}")
    for target in (args.plot, args.out):
        if target:
            check_writable(target)
    pred = load_predictor(args.predictor)
    ds = Dataset.load(args.data)
    if args.networks == "held-out" and pred.training_networks:
        unseen = sorted(set(ds.energy["network"]) - set(pred.training_networks))
        if unseen:
            ds = ds.subset(unseen)
    result = compare_predictor(pred, ds, reference_networks=args.reference_networks, seed=args.seed,
                               allow_training_data=args.allow_training_data)
    if args.plot:
        result.plot(args.plot)
    write_output(result.to_json() if args.format == "json" else result.table(), args.out)
    if result.metrics["evaluated_on"] != "held-out":
        print(f"approxdse: warning: evaluated on {result.metrics['evaluated_on']} networks "
              f"({result.metrics['n_training_networks']} of them used in training)", file=sys.stderr)
    if args.plot:
        print(f"approxdse: plot written to {args.plot}", file=sys.stderr)
    return 0
