"""``approxdse energy`` (reference energy of a network on an accelerator) and
``approxdse workload`` (a network's layers as loop nests).

    approxdse energy NETWORK [--accelerator NAME|FILE.yaml] [--multiplier NAME]
                     [--input-shape N,C,H,W] [--objective energy|edp|latency] [--mapper auto|exhaustive|fast]
                     [--factorization imperfect|exact] [--per-layer]
                     [--format table|json|csv] [--plot FILE.png] [--compare-multipliers A,B,C]
                     [--mapping FILE] [--out FILE] [--strict] [--progress | --no-progress]
    approxdse workload NETWORK [--input-shape N,C,H,W] [--format table|json|csv] [--out FILE]
                     [--timeloop-dir DIR]

The options every command shares (``--out``, ``--format``, ``--progress``) come from
:mod:`approxdse.core.cli_options`; ``--output``/``-o`` still work for one release.

Heavy imports happen inside the handler so ``approxdse --help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from approxdse.core.atomic_files import check_writable, make_dirs
from approxdse.core.cli_options import format_option, out_option, progress_option, show_progress, write_output
from approxdse.accelerators.estimate import (
    compare_multipliers,
    estimate_energy,
    resolve_network,
    resolve_network_and_multipliers,
)
from approxdse.core.errors import ApproxDSEError
from approxdse.core.yaml_files import load_yaml_file
from approxdse.networks import zoo
from approxdse.networks.problem_files import load_problems, write_problem

FORMATS = ("table", "json", "csv")
DEFAULT_ACCELERATOR = "eyeriss"
#: what ``energy --factorization`` defaults to (the reference's search; predictors learn ``exact``)
DEFAULT_FACTORIZATION = "imperfect"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "energy",
        parents=[format_option(FORMATS), out_option("write the table/JSON/CSV here instead of stdout",
                                                    legacy_output=True), progress_option()],
        help="reference energy of a network on an accelerator, per layer and per component",
        description="Reference inference energy of NETWORK on an accelerator (Timeloop-style model and "
        "mapper, Accelergy-style energy tables) with a given 8-bit multiplier. NETWORK is a zoo name "
        "(resnet18, resnet34, resnet50, vgg16, vgg11, alexnet, mobilenet_v2, mobilenet_v3_large, efficientnet_b0, "
        "shufflenet_v2, squeezenet1_0, densenet121, regnet_y_400mf, resnext50_32x4d, convnext_tiny, lenet5, "
        "resnet20, resnet32, resnet56, ...: approxdse workload lists a network's layers), "
        "a Timeloop problem file or a folder of them, an ONNX model (model.onnx; "
        "needs pip install 'approxdse[onnx]'), or path/file.py:factory returning a torch.nn.Module.",
    )
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--accelerator", "-a", default=None, metavar="NAME|FILE.yaml",
                   help="eyeriss (default), simba, eyeriss-2022, simba-2022 or an architecture YAML file")
    p.add_argument("--multiplier", "-m", default="exact", metavar="NAME",
                   help="multiplier name from the catalog (default: exact)")
    p.add_argument("--input-shape", metavar="N,C,H,W",
                   help="input tensor shape (default: the zoo network's own, or 1,3,224,224 for modules)")
    p.add_argument("--objective", choices=("energy", "edp", "latency"), default="energy",
                   help="what the mapper minimises (default: energy)")
    p.add_argument("--mapper", choices=("auto", "exhaustive", "fast"), default="auto",
                   help="auto (default): the exhaustive search within a step budget, smaller for huge map spaces "
                        "(the proven optimum where it finishes, else the best mapping found by then, never worse "
                        "than fast); exhaustive: always the proven optimum (slow on huge map spaces); fast: a "
                        "local search. The JSON report's extra.mappers says which ran per layer")
    p.add_argument("--factorization", choices=("exact", "imperfect"), default=None,
                   help="imperfect (default): channels, groups and batch may also run a partial last tile "
                        "(counted for the real partial tiles; never more energy than exact, not proven optimal); "
                        "exact: every loop bound divides its dimension, as Timeloop v3 and the energy predictors")
    p.add_argument("--per-layer", action="store_true", help="show one line per layer in the table")
    p.add_argument("--plot", metavar="FILE.png", help="write a stacked-bar energy breakdown plot")
    p.add_argument("--compare-multipliers", metavar="A,B,C",
                   help="compare several multipliers (savings relative to the first) instead of one")
    p.add_argument("--mapping", metavar="FILE",
                   help="evaluate this Timeloop map.yaml instead of searching (single-layer networks)")
    p.add_argument("--strict", action="store_true",
                   help="reject problem-file keys Timeloop ignores (e.g. HStride) instead of warning")
    p.set_defaults(func=run_energy)

    w = subparsers.add_parser(
        "workload",
        parents=[format_option(FORMATS), out_option("write here instead of stdout", legacy_output=True)],
        help="the layers of a network as loop nests (table, JSON, CSV or Timeloop problem files)",
        description="Show the conv/fc layers of NETWORK (a zoo name, a Timeloop problem file or folder, an "
        "ONNX model, or path/file.py:factory) with their loop bounds and MACs, or export them.",
    )
    w.add_argument("network", metavar="NETWORK")
    w.add_argument("--input-shape", metavar="N,C,H,W", help="input tensor shape (zoo networks, modules and ONNX models)")
    w.add_argument("--timeloop-dir", metavar="DIR",
                   help="also write one Timeloop v0.4 problem file per layer into DIR (00_<layer>.yaml, ...)")
    w.set_defaults(func=run_workload)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable --output/--plot/--timeloop-dir paths before any work (one line, exit 2)."""
    for attr in ("output", "out", "plot"):
        if getattr(args, attr, None):
            check_writable(getattr(args, attr))
    if getattr(args, "timeloop_dir", None):
        check_writable(args.timeloop_dir, folder=True)


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse input files that cannot be what their flag says before any model work (one line, exit 2):
    a ``.py`` NETWORK without ``:factory``, and a ``--mapping`` that is missing, a folder, not text or
    not YAML (checked here so a multi-layer network does not answer with a layer count)."""
    network = Path(args.network)
    if args.network.endswith(".py") and network.is_file():
        raise ApproxDSEError(f"network file {args.network!r} names no factory; give path/file.py:FACTORY, "
                             f"a function returning a torch.nn.Module")
    if getattr(args, "mapping", None):
        doc = load_yaml_file(args.mapping, "mapping file")
        if not isinstance(doc.get("mapping") if isinstance(doc, dict) else doc, list):
            raise ApproxDSEError(f"mapping file {args.mapping!r} has no 'mapping:' list")


def run_workload(args: argparse.Namespace) -> int:
    import warnings

    _check_outputs(args)
    _check_inputs(args)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        workload = resolve_network(args.network, args.input_shape)
    _print_warnings([str(w.message) for w in caught])
    if args.format == "json":
        text = workload.to_json()
    elif args.format == "csv":
        text = workload.to_dataframe().to_csv(index=False)
    else:
        text = workload.summary()
    if args.timeloop_dir:
        folder = Path(args.timeloop_dir)
        make_dirs(folder)
        width = len(str(len(workload) - 1))
        for i, layer in enumerate(workload):
            safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer.name)
            write_problem(layer, folder / f"{i:0{width}d}_{safe}.yaml")
        print(f"approxdse: {len(workload)} Timeloop problem files written to {folder}", file=sys.stderr)
    write_output(text, args.out, f"{args.format} of {len(workload)} layers")
    return 0


def _split_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ApproxDSEError("--compare-multipliers needs a comma-separated list of multiplier names")
    return names


def _resolve_strict_network(args):
    """Load problem files with --strict when asked; otherwise pass the name through."""

    if args.strict and Path(args.network).exists() and not args.network.endswith(".py"):
        return load_problems(args.network, strict=True)
    return args.network


def _print_warnings(messages: list[str], limit: int = 2) -> None:
    """Up to ``limit`` warnings, then one line counting the rest."""
    for message in messages[:limit]:
        print(f"approxdse: warning: {message}", file=sys.stderr)
    if len(messages) > limit:
        print(f"approxdse: warning: ... and {len(messages) - limit} more like these "
              f"(--strict turns them into errors)", file=sys.stderr)


def resolve_energy_network(args: argparse.Namespace):
    """The ``energy`` command's NETWORK (``--strict``, ``--input-shape`` honoured, warnings printed):
    ``(workload, {layer: multiplier} of an approximated module, input shape label or None)``."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = _resolve_strict_network(args)
        workload, traced = resolve_network_and_multipliers(network, args.input_shape)
    _print_warnings([str(w.message) for w in caught])
    # the workload is resolved; the shape only labels the report
    shape = args.input_shape
    if shape is None and zoo.has(args.network):
        shape = zoo.entry(args.network).input_shape
    return workload, traced, shape


def check_energy_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable ``--out``/``--plot`` paths of the ``energy`` command before any work."""
    _check_outputs(args)


def run_energy(args: argparse.Namespace) -> int:
    _check_outputs(args)
    _check_inputs(args)
    progress = show_progress(args)
    workload, traced, shape = resolve_energy_network(args)
    progress = progress and len(workload) >= 8
    factorization = args.factorization or DEFAULT_FACTORIZATION
    if args.compare_multipliers:
        result = compare_multipliers(workload, _split_names(args.compare_multipliers),
                                     accelerator=args.accelerator or DEFAULT_ACCELERATOR, objective=args.objective,
                                     mapping=args.mapping, progress=progress, input_shape=shape,
                                     mapper=args.mapper, factorization=factorization)
        if args.format == "json":
            text = result.to_json()
        elif args.format == "csv":
            text = result.to_csv()
        else:
            parts = [result.table()]
            if args.per_layer:
                for rep in result.reports:
                    parts += ["", rep.table(per_layer=True)]
            text = "\n".join(parts)
    else:
        result = estimate_energy(workload, accelerator=args.accelerator or DEFAULT_ACCELERATOR,
                                 multiplier=args.multiplier, objective=args.objective, mapping=args.mapping,
                                 progress=progress, mapper=args.mapper, factorization=factorization,
                                 input_shape=shape, layer_multipliers=traced or None)
        if args.format == "json":
            text = result.to_json()
        elif args.format == "csv":
            text = result.to_csv()
        else:
            text = result.table(per_layer=args.per_layer)
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise ApproxDSEError(f"--plot writes a PNG file; {args.plot!r} does not end in .png")
        result.plot(args.plot)
    write_output(text, args.out, f"energy {args.format}")
    if args.plot:
        print(f"approxdse: plot written to {args.plot}", file=sys.stderr)
    return 0
