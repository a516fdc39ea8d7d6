"""``approxdse accuracy``: float, 8-bit exact and approximate top-1 accuracy of a network.

    approxdse accuracy [NETWORK] --dataset digits --multiplier NAME
        [--layers FILE.yaml] [--fine-tune EPOCHS] [--backend auto|reference|cpu|cuda]
        [--mode lut|exact-decomposition|low-rank|noise] [--format table|json] [--out FILE]
        [--data-dir DIR] [--epochs N] [--seed S] [--progress | --no-progress]
    approxdse accuracy [NETWORK] --sweep [--multipliers A,B,C] [--out DIR] ...
    approxdse accuracy [NETWORK] --kernel-wise A,B,C [--budget DROP] [--max-rounds N] ...

NETWORK is lenet5 (default), resnet8, resnet20, lstm_digits or gru_digits. The shared options (``--out``,
``--format``, ``--progress``) come from :mod:`approxdse.core.cli_options`; the old
``--network NAME`` and ``--quiet`` still work for one release, with a warning.

The handlers import the training code (:mod:`approxdse.emulator.training`,
:mod:`approxdse.networks.torch_models`) inside their bodies because those
modules import torch; everything else is imported at the top, so
``approxdse --help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from approxdse.core.atomic_files import check_writable
from approxdse.core.cli_options import (
    deprecated_alias,
    format_option,
    out_option,
    progress_option,
    show_progress,
    write_output,
)
from approxdse.core.errors import ApproxDSEError
from approxdse.core.yaml_files import load_yaml_file
from approxdse.emulator.datasets import dataset_info, load_dataset
from approxdse.multipliers.resolve import resolve_multiplier
from approxdse.emulator.training_progress import progress_mode

BACKENDS = ("auto", "reference", "cpu", "cuda")
MODES = ("lut", "exact-decomposition", "low-rank", "noise")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "accuracy",
        help="float, 8-bit exact and approximate top-1 accuracy of a network with a multiplier",
        description="Train (or load the cached) float network, then report its top-1 test accuracy in "
        "float, with exact 8-bit multipliers and with the approximate multiplier, and how long each "
        "evaluation took. With --sweep, evaluate many multipliers and write a CSV and an "
        "accuracy-vs-energy plot.",
        parents=[format_option(("table", "json")),
                 out_option("the report file (default: stdout); with --sweep, the output folder "
                            "(default ./accuracy_sweep)", metavar="FILE|DIR"),
                 progress_option()],
    )
    p.add_argument("network", nargs="?", default=None, metavar="NETWORK",
                   help="lenet5 (default), resnet8, resnet20, lstm_digits or gru_digits")
    deprecated_alias(p, "--network", dest="network_option", new="the positional NETWORK", metavar="NAME")
    p.add_argument("--dataset", default="digits", help="digits (bundled, default), mnist or cifar10")
    p.add_argument("--multiplier", metavar="NAME",
                   help="catalog multiplier for every layer (the default for layers --layers does not name)")
    p.add_argument("--layers", metavar="FILE.yaml",
                   help="per-layer multipliers: a YAML mapping {layer name: multiplier name}")
    p.add_argument("--fine-tune", dest="fine_tune", type=int, default=0, metavar="EPOCHS",
                   help="fine-tune through the approximate multiplier for this many epochs (default 0)")
    p.add_argument("--fine-tune-lr", dest="fine_tune_lr", type=float, default=1e-3, metavar="LR",
                   help="fine-tuning learning rate (default 1e-3, cosine-decayed)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="emulation backend (default auto)")
    p.add_argument("--mode", choices=MODES, default="lut", help="emulation mode (default lut, bit-exact)")
    p.add_argument("--calibration", choices=("minmax", "percentile"), default="minmax",
                   help="activation range calibration (default minmax)")
    p.add_argument("--rank", type=int, default=None, help="rank of the error matrix in low-rank mode")
    p.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="directory with the MNIST IDX files or the CIFAR-10 binary batches")
    p.add_argument("--epochs", type=int, default=None,
                   help="float training epochs (default: the network's; the trained model is cached)")
    p.add_argument("--seed", type=int, default=0, help="seed of training and evaluation (default 0)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=256, help="evaluation batch size")
    p.add_argument("--sweep", action="store_true",
                   help="evaluate every catalog multiplier (or --multipliers) and write CSV + plot to --out")
    p.add_argument("--multipliers", metavar="A,B,C", help="comma-separated multipliers for --sweep")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="with --sweep, start over instead of continuing an interrupted sweep in --out")
    p.add_argument("--estimate", action="store_true",
                   help="also print each layer's output-error std predicted by the error model next to the "
                   "emulated one (docs/emulator.md, Error model)")
    p.add_argument("--kernel-wise", dest="kernel_wise", metavar="A,B,C",
                   help="kernel-wise assignment: raise the most resilient output channels through this ladder "
                   "of multipliers while the validation accuracy stays within --budget of exact 8-bit")
    p.add_argument("--budget", type=float, default=None, metavar="DROP",
                   help="with --kernel-wise, the allowed validation accuracy drop as a fraction (default 0.01)")
    p.add_argument("--max-rounds", dest="max_rounds", type=int, default=40, metavar="N",
                   help="with --kernel-wise, at most this many evaluation rounds (default 40)")
    p.set_defaults(func=run)


def _read_layers(path: str) -> tuple[str | None, dict[str, str]]:
    """``(default multiplier or None, {layer: multiplier})`` from a YAML file that is either a
    plain ``{layer: multiplier}`` mapping or ``{default: NAME, layers: {layer: multiplier}}``."""
    doc = load_yaml_file(path, "layer file")
    default = None
    if isinstance(doc, dict) and set(doc) <= {"layers", "default"} and isinstance(doc.get("layers"), dict):
        layers, default = doc["layers"], doc.get("default")
        if default is not None and not isinstance(default, str):
            raise ApproxDSEError(f"layer file {path!r}: 'default' must be a multiplier name")
    else:
        layers = doc
    if not isinstance(layers, dict) or not layers:
        raise ApproxDSEError(f"layer file {path!r} must be a non-empty mapping of layer name to multiplier name")
    bad = [str(k) for k, v in layers.items() if not isinstance(v, str)]
    if bad:
        raise ApproxDSEError(f"layer file {path!r}: layer(s) {', '.join(bad)} need a multiplier name (a string)")
    return default, {str(k): v for k, v in layers.items()}


def network_of(args: argparse.Namespace) -> str:
    """The NETWORK positional, or the deprecated ``--network``, or lenet5."""
    old = getattr(args, "network_option", None)
    if old is not None and args.network is not None and old != args.network:
        raise ApproxDSEError(f"two networks given ({args.network!r} and --network {old!r}); name one")
    return args.network or old or "lenet5"


def _validate(args: argparse.Namespace) -> None:
    args.network = network_of(args)
    if str(args.network).lower().endswith(".onnx"):
        raise ApproxDSEError(
            f"accuracy trains and emulates its own networks (lenet5, resnet8, resnet20), not ONNX models; "
            f"{args.network} works with approxdse energy and approxdse workload")
    from approxdse.networks.torch_models import model_spec  # imports torch: see the module docstring

    model_spec(args.network)
    dataset_info(args.dataset)
    for flag, value, low in (("--fine-tune", args.fine_tune, 0), ("--epochs", args.epochs, 1),
                             ("--batch-size", args.batch_size, 1), ("--rank", args.rank, 1)):
        if value is not None and value < low:
            raise ApproxDSEError(f"{flag} must be at least {low}, got {value}")
    if not args.fine_tune_lr > 0:
        raise ApproxDSEError(f"--fine-tune-lr must be positive, got {args.fine_tune_lr}")
    if args.sweep:
        if args.layers:
            raise ApproxDSEError("--sweep evaluates one multiplier at a time for the whole network; drop --layers")
        if args.multiplier:
            raise ApproxDSEError("--sweep takes --multipliers A,B,C (or none for the whole catalog), not --multiplier")
    else:
        if args.multipliers:
            raise ApproxDSEError("--multipliers needs --sweep; use --multiplier NAME for one multiplier")
        if not args.multiplier and not args.layers:
            raise ApproxDSEError("name a multiplier with --multiplier NAME (or use --sweep)")


def run(args: argparse.Namespace) -> int:
    if args.out and not args.sweep:  # the report file: refused before any training, not after it
        check_writable(args.out)
    if args.kernel_wise or args.budget is not None:
        return _run_kernelwise(args)
    _validate(args)
    import torch

    options: dict[str, Any] = {}
    if args.rank is not None:
        options["rank"] = args.rank
    progress = progress_mode(args.progress)
    if args.sweep:
        names = [n.strip() for n in args.multipliers.split(",") if n.strip()] if args.multipliers else None
        if names is not None and not names:
            raise ApproxDSEError("--multipliers lists no multiplier names")
        for name in names or []:
            resolve_multiplier(name)
        data = load_dataset(args.dataset, args.data_dir)
        return _run_sweep(args, data, names, options, progress)

    default, layers = _read_layers(args.layers) if args.layers else (None, None)
    default = args.multiplier or default
    if default is not None:
        resolve_multiplier(default)
    for name in (layers or {}).values():
        resolve_multiplier(name)
    data = load_dataset(args.dataset, args.data_dir)
    torch.manual_seed(args.seed)

    from approxdse.emulator.training import accuracy_report  # imports torch: see the module docstring

    report = accuracy_report(
        args.network, args.dataset, default, layers=layers, data=data, seed=args.seed, epochs=args.epochs,
        fine_tune_epochs=args.fine_tune, fine_tune_lr=args.fine_tune_lr, backend=args.backend, mode=args.mode,
        calibration=args.calibration, batch_size=args.batch_size, progress=progress, **options,
    )
    estimate = None
    if args.estimate:
        from approxdse.emulator.error_model import format_estimate, network_error_estimate
        from approxdse.emulator.training import trained_float_model

        float_model = trained_float_model(args.network, args.dataset, data=data, seed=args.seed, epochs=args.epochs)
        estimate = network_error_estimate(float_model.model, data, default, layers)
    if args.format == "json":
        out = report.to_dict()
        if estimate is not None:
            out["error_model"] = estimate
        text = json.dumps(_jsonable(out), indent=2)
    else:
        text = format_report(report) + ("" if estimate is None else "\n\n" + format_estimate(estimate))
    write_output(text, args.out)
    return 0


def _run_kernelwise(args: argparse.Namespace) -> int:
    from approxdse.emulator.datasets import load_dataset
    from approxdse.emulator.kernelwise import format_kernelwise, kernelwise_assignment
    from approxdse.networks.torch_models import model_spec

    if not args.kernel_wise:
        raise ApproxDSEError("--budget belongs to --kernel-wise A,B,C (the ladder of multipliers)")
    if args.sweep or args.multiplier or args.layers:
        raise ApproxDSEError("--kernel-wise chooses the multipliers itself; drop --sweep, --multiplier and --layers")
    ladder = [n.strip() for n in args.kernel_wise.split(",") if n.strip()]
    if not ladder:
        raise ApproxDSEError("--kernel-wise lists no multiplier names")
    if args.max_rounds < 1:
        raise ApproxDSEError(f"--max-rounds must be at least 1, got {args.max_rounds}")
    args.network = network_of(args)
    model_spec(args.network)
    data = load_dataset(args.dataset, args.data_dir)
    result = kernelwise_assignment(args.network, ladder, 0.01 if args.budget is None else args.budget, data=data,
                                   seed=args.seed, epochs=args.epochs, backend=args.backend,
                                   max_rounds=args.max_rounds, batch_size=args.batch_size,
                                   progress=show_progress(args))
    text = json.dumps(_jsonable(result.to_dict()), indent=2) if args.format == "json" else format_kernelwise(result)
    write_output(text, args.out)
    return 0


def _run_sweep(args, data, names, options, progress) -> int:
    from approxdse.emulator.training import SWEEP_CSV, SWEEP_PNG, accuracy_sweep  # imports torch (docstring)

    out = Path(args.out) if args.out else Path("accuracy_sweep")
    if out.exists() and not out.is_dir():
        raise ApproxDSEError(f"--out {str(out)!r} exists and is not a directory")
    check_writable(out, folder=True)
    table = accuracy_sweep(
        args.network, args.dataset, names, out_dir=out, data=data, seed=args.seed, epochs=args.epochs,
        fine_tune_epochs=args.fine_tune, backend=args.backend, mode=args.mode, calibration=args.calibration,
        batch_size=args.batch_size, resume=args.resume, progress=progress, **options,
    )
    if args.format == "json":
        print(json.dumps(_jsonable({"csv": str(out / SWEEP_CSV), "plot": str(out / SWEEP_PNG),
                                    "rows": table.to_dict("records")}), indent=2))
        return 0
    cols = ["multiplier", "family", "signed", "relative_energy", "approx_accuracy", "accuracy_drop"]
    if args.fine_tune:
        cols.append("fine_tuned_accuracy")
    shown = table[cols].sort_values("relative_energy", kind="stable")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    failed = table[table["error"].astype(str) != ""]
    for _, row in failed.iterrows():
        print(f"{row['multiplier']}: not evaluated: {row['error']}")
    print(f"wrote {out / SWEEP_CSV} and {out / SWEEP_PNG}")
    return 0


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def format_report(report: Any) -> str:
    """The human-readable table of an :class:`~approxdse.emulator.training.AccuracyReport`."""
    kind = "signed" if report.signed else "unsigned"
    energy = f"{report.relative_energy:.3f}" if report.relative_energy is not None else "unknown"
    lines = [
        f"network {report.network} on {report.dataset} ({report.test_samples} test images), "
        f"float model {'from cache' if report.float_model_cached else f'trained in {report.train_time_s:.1f} s'}",
        f"multiplier {report.multiplier} ({kind}, relative energy {energy}), "
        f"backend {report.backend}"
        + (f" (LUT GEMM kernel {report.cpu_kernel})" if getattr(report, "cpu_kernel", None) else "")
        + f", mode {report.mode}",
        "",
        f"{'':<22}{'top-1':>9}{'time (s)':>16}",
        f"{'float':<22}{100 * report.float_accuracy:>8.2f}%{report.float_time_s:>16.3f}",
        f"{'8-bit exact':<22}{100 * report.exact_8bit_accuracy:>8.2f}%{report.exact_8bit_time_s:>16.3f}",
        f"{'approximate':<22}{100 * report.approx_accuracy:>8.2f}%{report.approx_time_s:>16.3f}",
    ]
    if report.fine_tuned_accuracy is not None:
        label = f"fine-tuned ({report.fine_tune_epochs} ep)"
        lines.append(f"{label:<22}{100 * report.fine_tuned_accuracy:>8.2f}%{report.fine_tune_time_s:>16.3f}")
    lines.append("times: one pass over the test set" + ("; fine-tuned: the fine-tuning itself"
                                                         if report.fine_tuned_accuracy is not None else ""))
    distinct = sorted(set(report.multipliers.values()))
    if len(distinct) > 1:
        lines.append("")
        lines.append("per-layer multipliers: " + ", ".join(f"{k}={v}" for k, v in report.multipliers.items()))
    return "\n".join(lines)
