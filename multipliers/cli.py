"""``approxdse multipliers``: browse, inspect, import and export 8-bit multipliers.

    approxdse multipliers list [--signed|--unsigned] [--family F] [--sort KEY] [--format table|csv|json]
                               [--out FILE]
    approxdse multipliers show NAME [--format table|json|csv] [--plot FILE.png] [--out FILE]
    approxdse multipliers import FILE --name NAME [--power-mw P] [--relative-energy E]
                                 [--area-um2 A] [--delay-ns D] [--signed|--unsigned] [--function F] [--force] [--timeout S]
    approxdse multipliers import-dir PATH [--version master|v2022] [--force] [--dry-run]
    approxdse multipliers export NAME FILE          (.npy, .bin TFApprox layout, .txt)
    approxdse multipliers remove NAME               (user multipliers only)

``--format`` and ``--out`` are the shared options of :mod:`approxdse.core.cli_options`.
Heavy imports stay inside the handlers so ``approxdse --help`` is instant.
"""
from __future__ import annotations

import argparse
import sys

from approxdse.core.atomic_files import check_writable
from approxdse.core.cli_options import format_option, out_option, write_output
from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers import user_catalog
from approxdse.multipliers.catalog import catalog
from approxdse.multipliers.importing import import_multiplier
from approxdse.multipliers.lut_io import write_lut
from approxdse.multipliers.plotting import save_error_heatmap
from approxdse.multipliers.user_catalog import user_dir

FORMATS = ("table", "csv", "json")

#: Columns of ``list`` (table/CSV; JSON has these and more).
LIST_COLUMNS = ("name", "signed", "family", "mae_pct", "wce_pct", "mre_pct", "ep_pct", "relative_energy")
JSON_KEYS = (
    "name", "signed", "family", "params", "mae_pct", "wce_pct", "mre_pct", "ep_pct", "wcre_pct", "mse",
    "bias", "std", "relative_energy", "power_mw", "area_um2", "delay_ns", "energy_calibrated", "source",
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "multipliers",
        help="browse, inspect, import and export 8-bit approximate multipliers",
        description="The multiplier library: built-in generated multipliers (exact, BAM, truncation, DRUM, "
        "Mitchell, ETM, underdesigned, RoBA; unsigned u8_* and signed s8_*) and your imported ones.",
    )
    sub = p.add_subparsers(dest="multipliers_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    ls = sub.add_parser("list", help="list multipliers with their error metrics and energy",
                        parents=[format_option(FORMATS), out_option("write the list here instead of stdout")])
    sign = ls.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_true", default=None, help="only signed multipliers")
    sign.add_argument("--unsigned", dest="signed", action="store_false", help="only unsigned multipliers")
    ls.add_argument("--family", metavar="F", help="only this family (exact, bam, trunc, drum, mitchell, etm, ...)")
    ls.add_argument("--sort", metavar="KEY", default=None,
                    help="sort by this column (e.g. relative_energy, mae_pct, mre_pct, name); "
                    "--sort=-KEY or --reverse for descending")
    ls.add_argument("--reverse", action="store_true", help="sort in descending order")
    ls.set_defaults(func=run_list)

    show = sub.add_parser("show", help="metrics, energy and provenance of one multiplier",
                          parents=[format_option(FORMATS), out_option("write the description here instead of stdout")])
    show.add_argument("name", metavar="NAME")
    show.add_argument("--plot", metavar="FILE.png", help="write a heat-map of the error matrix")
    show.set_defaults(func=run_show)

    imp = sub.add_parser("import", help="import a C model (.c) or a LUT (.npy, .bin, .txt) into the user catalog")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--name", required=True, metavar="NAME", help="name to use wherever a multiplier is named")
    imp.add_argument("--power-mw", type=float, metavar="P", help="power in mW at 45 nm (overrides the C header)")
    imp.add_argument("--relative-energy", type=float, metavar="E", help="energy per multiplication, exact = 1.0")
    imp.add_argument("--area-um2", type=float, metavar="A")
    imp.add_argument("--delay-ns", type=float, metavar="D")
    isign = imp.add_mutually_exclusive_group()
    isign.add_argument("--signed", dest="signed", action="store_true", default=None,
                       help="operands are two's complement (-128..127)")
    isign.add_argument("--unsigned", dest="signed", action="store_false", help="operands are 0..255")
    imp.add_argument("--function", metavar="F", help="the C function to use when the file defines several")
    imp.add_argument("--force", action="store_true", help="replace a user multiplier of the same name")
    imp.add_argument("--timeout", type=float, metavar="S", default=None,
                     help="seconds a C model may run (default $APPROXDSE_C_MODEL_TIMEOUT or 30)")
    imp.set_defaults(func=run_import)

    imd = sub.add_parser(
        "import-dir", help="import every 8x8 multiplier C model of an EvoApproxLib checkout",
        description="Import the 8x8 multipliers (mul8u_*.c, mul8s_*.c) of an EvoApproxLib checkout or folder "
        "under their own names, with power/area/delay from the C headers or meta.json. The library version "
        "(master or v2022) is detected from the circuits' names and fingerprints (MAE, WCE, power) and "
        "recorded with every LUT; a circuit whose fingerprint differs from that version's published one, "
        "and a signed circuit declared with unsigned C types, is warned about.")
    imd.add_argument("path", metavar="PATH")
    imd.add_argument("--version", dest="library_version", choices=("master", "v2022"),
                     help="the checkout's EvoApproxLib version (default: detected)")
    imd.add_argument("--force", action="store_true", help="replace user multipliers of the same names")
    imd.add_argument("--dry-run", action="store_true", help="load and check everything, store nothing")
    imd.set_defaults(func=run_import_dir)

    exp = sub.add_parser("export", help="write a multiplier's LUT (.npy, .bin TFApprox layout, .txt)")
    exp.add_argument("name", metavar="NAME")
    exp.add_argument("file", metavar="FILE")
    exp.set_defaults(func=run_export)

    rm = sub.add_parser("remove", help="delete a user multiplier")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=run_remove)


def _clean(value):
    import math

    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _records(df, keys) -> list[dict]:
    return [{k: _clean(row.get(k)) for k in keys} for row in df.to_dict(orient="records")]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _table(rows: list[dict], keys) -> str:
    cells = [[str(k) for k in keys]] + [[_fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    import json

    df = catalog(signed=args.signed)
    if args.family:
        known = sorted(set(df["family"]))
        if args.family not in known:
            raise ApproxDSEError(f"no multipliers of family {args.family!r}; families present: {', '.join(known)}")
        df = df[df["family"] == args.family]
    if args.sort:
        key = args.sort.lstrip("-")
        if key not in df.columns:
            raise ApproxDSEError(f"cannot sort by {key!r}; choose one of: {', '.join(c for c in df.columns if c != 'params')}")
        descending = args.sort.startswith("-") or args.reverse
        df = df.sort_values(key, ascending=not descending, kind="stable", na_position="last")
    elif args.reverse:
        df = df.iloc[::-1]
    if args.format == "json":
        text = json.dumps(_records(df, JSON_KEYS), indent=1)
    elif args.format == "csv":
        text = df.drop(columns=["params"]).to_csv(index=False)
    else:
        columns = LIST_COLUMNS + (("source",) if (df["source"] != "builtin").any() else ())
        text = (_table(_records(df, columns), columns) + "\n"
                + f"{len(df)} multipliers (energy relative to the exact multiplier; % metrics as in EvoApproxLib)")
    write_output(text, args.out)
    return 0


def _describe(m) -> dict:
    met = m.metrics.as_dict()
    return {
        "name": m.name,
        "signed": m.signed,
        "family": m.family,
        "params": dict(m.params),
        **{k: met[k] for k in ("mae_pct", "wce_pct", "mre_pct", "ep_pct", "wcre_pct", "mae", "wce", "mse", "bias", "std")},
        "relative_energy": m.relative_energy,
        "power_mw": m.power_mw,
        "area_um2": m.area_um2,
        "delay_ns": m.delay_ns,
        "provenance": m.provenance,
    }


def run_show(args: argparse.Namespace) -> int:
    import json

    if args.plot:
        check_writable(args.plot)
    m = multipliers.get(args.name)
    info = _describe(m)
    if args.plot:
        save_error_heatmap(m, args.plot)
    if args.format == "json":
        text = json.dumps(info, indent=1)
    elif args.format == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(info))
        w.writeheader()
        w.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in info.items()})
        text = buf.getvalue()
    else:
        width = max(len(k) for k in info)
        text = "\n".join(f"{k.ljust(width)}  {_fmt(v)}" for k, v in info.items())
    write_output(text, args.out)
    if args.plot:
        print(f"error heat-map written to {args.plot}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    m = import_multiplier(
        args.file, args.name, force=args.force, signed=args.signed, function=args.function,
        power_mw=args.power_mw, area_um2=args.area_um2, delay_ns=args.delay_ns,
        relative_energy=args.relative_energy, **({} if args.timeout is None else {"timeout": args.timeout}),
    )
    met = m.metrics
    energy = "unknown (give --power-mw or --relative-energy)" if m.relative_energy is None else f"{m.relative_energy:.4g}"
    print(
        f"imported {m.name} ({'signed' if m.signed else 'unsigned'}) into {user_dir()}: "
        f"MAE {met.mae_pct:.4g}%, WCE {met.wce_pct:.4g}%, MRE {met.mre_pct:.4g}%, EP {met.ep_pct:.4g}%, "
        f"relative energy {energy}"
    )
    return 0


def run_import_dir(args: argparse.Namespace) -> int:
    from approxdse.multipliers.evoapprox_dir import import_dir
    from approxdse.multipliers.user_catalog import user_dir

    report = import_dir(args.path, version=args.library_version, force=args.force, dry_run=args.dry_run)
    rows = []
    for c in report.circuits:
        fp = c.fingerprint
        rows.append({
            "name": c.name, "signed": None if c.multiplier is None else c.multiplier.signed,
            "mae_pct": None if fp is None else fp.mae_pct, "wce_pct": None if fp is None else fp.wce_pct,
            "power_mw": None if fp is None else fp.power_mw,
            "matches": ",".join(c.matches) or "-", "status": c.status + (" (unsigned C types)" if c.unsigned_c_types else ""),
        })
    for message in report.warnings:
        print(f"approxdse: warning: {message}", file=sys.stderr)
    done = len(report.imported)
    where = "checked (dry run, nothing stored)" if args.dry_run else f"into {user_dir()}"
    write_output(_table(rows, ("name", "signed", "mae_pct", "wce_pct", "power_mw", "matches", "status"))
                 + f"\nEvoApproxLib {report.version}, {report.version_source}: {done} of {len(report.circuits)} "
                 f"multipliers {'would be imported' if args.dry_run else 'imported'} {where}", None)
    return 0 if all(c.status != "failed" for c in report.circuits) else 1


def run_export(args: argparse.Namespace) -> int:
    check_writable(args.file)
    m = multipliers.get(args.name)
    path = write_lut(m, args.file)
    print(f"wrote the LUT of {m.name} to {path}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    user_catalog.remove(args.name)
    print(f"removed user multiplier {args.name}")
    return 0
