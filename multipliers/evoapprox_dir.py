"""Import a whole EvoApproxLib checkout: every 8x8 multiplier C model in its folder layout.

``import_dir(path)`` walks a checkout (or any folder of it) for the C models of
8x8 multipliers (``mul8u_*.c``, ``mul8s_*.c``; EvoApproxLib keeps them under
``multiplers/8x8_unsigned/pareto_pwr_*/`` and ``multiplers/8x8_signed/...``, the
same circuit often in several Pareto folders), loads each with
:func:`approxdse.multipliers.c_model.load_c_model` and stores it in the user
catalog under its EvoApproxLib name.

Figures: power, area and delay come from the file's header comments
(``// PDK45_PWR = 0.0041 mW``), else from a ``meta.json`` in the tree (the
library's index: nested ``datasets`` whose ``instances`` carry ``name`` and
``params`` ``pwr``/``area``/``delay``), at the checkout's root or in a folder.

Versions: EvoApproxLib's names are not stable across its branches (``mul8s_1KV8``
is the exact signed multiplier on master but an approximate one on v2022;
``mul8u_17C8`` has MAE 7.41% on master and 0.56% on v2022). Each circuit's
*fingerprint* (MAE%, WCE% of its LUT, power) is compared with the published
rows of both branches (:func:`published`, a copy of the table in
``data/evoapproxlib_mul8_pdk45.csv``; source ehw-fit/evoapproxlib, master
d321f7f and v2022 187ff57, parsed from the circuits' headers). The checkout's
version is the branch most of its circuits match by name and fingerprint (names
found in one branch only count too); ``version=`` overrides it. Every stored
LUT records ``library_version``, its ``fingerprint`` and ``matches`` (the
branches whose row of that name it matches) in its ``params``; a circuit whose
fingerprint differs from the detected version's row of its name is warned
about, naming the branch it does match.

Signed circuits declared with unsigned C types (EvoApproxLib issue #4: e.g.
``uint16_t mul8s_1L2N(uint8_t A, uint8_t B)`` on v2022) are flagged
(``params["unsigned_c_types"] = True`` and a warning) and loaded as signed: the
operands are passed as their two's-complement bit patterns and the low 16 bits
of the result read as ``int16``.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers import user_catalog
from approxdse.multipliers.c_model import find_functions, header_figures, load_c_model
from approxdse.multipliers.catalog import is_reserved
from approxdse.multipliers.multiplier import Multiplier

#: The branches of the published table.
VERSIONS = ("master", "v2022")
#: File names of 8x8 multiplier C models.
_NAME_RE = re.compile(r"^mul8([us])_[A-Za-z0-9_]+\.c$")
_HEADER_RE = {
    "mae_pct": re.compile(r"//\s*MAE%\s*=\s*([0-9.eE+-]+)"),
    "wce_pct": re.compile(r"//\s*WCE%\s*=\s*([0-9.eE+-]+)"),
}
#: Fingerprints agree when each figure is within this relative or absolute difference
#: (the published figures carry two or three significant digits).
REL_TOL, MAE_ABS_TOL, POWER_ABS_TOL = 0.05, 5e-5, 5e-4


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a circuit across versions: MAE%, WCE% and power (mW, None if unknown)."""

    mae_pct: float
    wce_pct: float
    power_mw: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"mae_pct": round(self.mae_pct, 6), "wce_pct": round(self.wce_pct, 6),
                "power_mw": self.power_mw}

    def matches(self, other: "Fingerprint") -> bool:
        def close(a, b, abs_tol):
            return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=abs_tol)

        if not close(self.mae_pct, other.mae_pct, MAE_ABS_TOL) or not close(self.wce_pct, other.wce_pct, MAE_ABS_TOL):
            return False
        if self.power_mw is not None and other.power_mw is not None:
            return close(self.power_mw, other.power_mw, POWER_ABS_TOL)
        return True

    def describe(self) -> str:
        power = "power unknown" if self.power_mw is None else f"{self.power_mw:g} mW"
        return f"MAE {self.mae_pct:.4g}%, WCE {self.wce_pct:.4g}%, {power}"


@lru_cache(maxsize=1)
def published() -> dict[str, dict[str, Fingerprint]]:
    """``{version: {name: Fingerprint}}`` from the packaged EvoApproxLib table."""
    text = resources.files("approxdse.multipliers.data").joinpath("evoapproxlib_mul8_pdk45.csv").read_text()
    out: dict[str, dict[str, Fingerprint]] = {v: {} for v in VERSIONS}
    for row in csv.DictReader(text.splitlines()):
        out.setdefault(row["branch"], {})[row["name"]] = Fingerprint(
            float(row["mae_pct"]), float(row["wce_pct"]), float(row["power_mW"]))
    return out


@dataclass(frozen=True)
class FoundCircuit:
    """One C model found in the tree (the first of its name; ``copies`` counts the others)."""

    name: str
    path: Path
    signed: bool
    copies: int = 1


@dataclass
class ImportedCircuit:
    """The outcome for one circuit."""

    name: str
    path: Path
    multiplier: Multiplier | None = None
    fingerprint: Fingerprint | None = None
    matches: tuple[str, ...] = ()
    unsigned_c_types: bool = False
    status: str = "imported"  # imported, replaced, exists (skipped), failed
    message: str = ""


@dataclass
class DirImport:
    """What :func:`import_dir` did: the version it used and one entry per circuit."""

    root: Path
    version: str  # master, v2022 or unknown
    version_source: str  # "given", "detected (k of n circuits)" or "undetermined"
    circuits: list[ImportedCircuit] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def imported(self) -> list[ImportedCircuit]:
        return [c for c in self.circuits if c.status in ("imported", "replaced")]


def find_circuits(root: str | os.PathLike) -> list[FoundCircuit]:
    """The 8x8 multiplier C models under ``root``, one per name, in sorted path order.

    A name found in several folders must have the same content everywhere (it
    is the same circuit in several Pareto sets); otherwise it is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise ApproxDSEError(f"{root} is not a folder")
    first: dict[str, tuple[Path, str]] = {}
    copies: dict[str, int] = {}
    for path in sorted(p for p in root.rglob("mul8*.c") if p.is_file() and _NAME_RE.match(p.name)):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        name = path.stem
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if name in first:
            if first[name][1] != digest:
                raise ApproxDSEError(
                    f"{name} has different C models in {first[name][0].relative_to(root)} and "
                    f"{path.relative_to(root)}; import one of them with approxdse multipliers import")
            copies[name] += 1
            continue
        first[name] = (path, digest)
        copies[name] = 1
    if not first:
        raise ApproxDSEError(f"no 8x8 multiplier C models (mul8u_*.c, mul8s_*.c) under {root}")
    return [FoundCircuit(n, p, _NAME_RE.match(p.name)[1] == "s" or "8x8_signed" in p.parts, copies[n])
            for n, (p, _) in sorted(first.items(), key=lambda kv: kv[1][0])]


def _instances(node: Any) -> Iterable[dict]:
    if isinstance(node, dict):
        if isinstance(node.get("instances"), list):
            yield from (i for i in node["instances"] if isinstance(i, dict))
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _instances(value)
    elif isinstance(node, list):
        for value in node:
            yield from _instances(value)


def meta_figures(root: str | os.PathLike) -> dict[str, dict[str, float]]:
    """``{name: {"power_mw", "area_um2", "delay_ns"}}`` from every ``meta.json`` under ``root``."""
    out: dict[str, dict[str, float]] = {}
    keys = {"pwr": "power_mw", "area": "area_um2", "delay": "delay_ns"}
    for path in sorted(Path(root).rglob("meta.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ApproxDSEError(f"cannot read {path}: {exc}") from None
        for inst in _instances(data):
            params = inst.get("params")
            if not isinstance(inst.get("name"), str) or not isinstance(params, dict):
                continue
            figures = {}
            for key, target in keys.items():
                try:
                    figures[target] = float(params[key])
                except (KeyError, TypeError, ValueError):
                    pass
            out.setdefault(inst["name"], figures)
    return out


def header_fingerprint(source: str) -> dict[str, float]:
    """MAE% and WCE% as the file's header states them (absent keys left out)."""
    return header_figures(source, _HEADER_RE)


def detect_version(fingerprints: dict[str, Fingerprint]) -> tuple[str, str]:
    """The branch most circuits agree with by name and fingerprint: (version, how)."""
    table = published()
    votes = {v: 0 for v in VERSIONS}
    for name, fp in fingerprints.items():
        for v in VERSIONS:
            row = table.get(v, {}).get(name)
            if row is not None and fp.matches(row):
                votes[v] += 1
    best = max(VERSIONS, key=lambda v: votes[v])
    if votes[best] == 0 or list(votes.values()).count(votes[best]) > 1:
        return "unknown", "undetermined (no branch matches more of its circuits)"
    return best, f"detected ({votes[best]} of {len(fingerprints)} circuits match {best}; " + \
        ", ".join(f"{v}: {n}" for v, n in votes.items()) + ")"


def import_dir(root: str | os.PathLike, *, version: str | None = None, force: bool = False,
               dry_run: bool = False) -> DirImport:
    """Import every 8x8 multiplier C model under ``root`` into the user catalog.

    Names already in the user catalog are skipped unless ``force``; built-in
    names are refused. ``dry_run`` loads and checks everything but stores nothing.
    A circuit that does not compile is reported (status ``failed``) and the
    others are still imported.
    """
    if version is not None and version not in VERSIONS:
        raise ApproxDSEError(f"unknown EvoApproxLib version {version!r}; use one of {', '.join(VERSIONS)}")
    root = Path(root)
    found = find_circuits(root)
    meta = meta_figures(root)
    existing = set(user_catalog.user_names())
    results: list[ImportedCircuit] = []
    for c in found:
        user_catalog.check_name(c.name)
        if is_reserved(c.name):
            results.append(ImportedCircuit(c.name, c.path, status="failed",
                                           message=f"{c.name} is a built-in multiplier name"))
            continue
        source = c.path.read_text(errors="replace")
        functions = [f for f in find_functions(source) if f.name == c.name] or find_functions(source)
        unsigned_types = c.signed and bool(functions) and functions[0].signature in ("u8", "u64")
        figures = {k: v for k, v in meta.get(c.name, {}).items()}
        figures.update(header_figures(source))  # the header wins over meta.json
        try:
            m = load_c_model(c.path, c.name, signed=c.signed,
                             function=functions[0].name if functions else None,
                             power_mw=figures.get("power_mw"), area_um2=figures.get("area_um2"),
                             delay_ns=figures.get("delay_ns"))
        except ApproxDSEError as exc:
            results.append(ImportedCircuit(c.name, c.path, status="failed", message=str(exc)))
            continue
        met = m.metrics
        fp = Fingerprint(float(met.mae_pct), float(met.wce_pct), m.power_mw)
        results.append(ImportedCircuit(c.name, c.path, multiplier=m, fingerprint=fp,
                                       unsigned_c_types=unsigned_types))

    loaded = {r.name: r.fingerprint for r in results if r.fingerprint is not None}
    if version is not None:
        used, how = version, "given"
    else:
        used, how = detect_version(loaded)
    report = DirImport(root, used, how, results)
    table = published()
    for r in results:
        if r.fingerprint is None:
            report.warnings.append(f"{r.name}: not imported: {r.message}")
            continue
        r.matches = tuple(v for v in VERSIONS if r.name in table.get(v, {}) and r.fingerprint.matches(table[v][r.name]))
        row = table.get(used, {}).get(r.name)
        if row is not None and used not in r.matches:
            other = f"; it matches {', '.join(r.matches)}'s {r.name}" if r.matches else ""
            report.warnings.append(
                f"{r.name}: its fingerprint ({r.fingerprint.describe()}) differs from EvoApproxLib "
                f"{used}'s {r.name} ({row.describe()}){other}")
        header = header_fingerprint(r.path.read_text(errors="replace"))
        if "mae_pct" in header and not math.isclose(header["mae_pct"], r.fingerprint.mae_pct,
                                                     rel_tol=REL_TOL, abs_tol=MAE_ABS_TOL):
            report.warnings.append(
                f"{r.name}: its header states MAE {header['mae_pct']:g}% but its C model computes "
                f"{r.fingerprint.mae_pct:.4g}%")
        if r.unsigned_c_types:
            report.warnings.append(
                f"{r.name} is signed but its C function takes unsigned types (EvoApproxLib issue #4); "
                "loaded as signed: operands passed as two's-complement bit patterns, the result read as int16")
        params = dict(r.multiplier.params)
        params.update(library="EvoApproxLib", library_version=used, fingerprint=r.fingerprint.as_dict(),
                      matches=list(r.matches))
        if r.unsigned_c_types:
            params["unsigned_c_types"] = True
        r.multiplier = replace(
            r.multiplier, family="evoapproxlib", params=params,
            provenance=f"EvoApproxLib {used} C model {r.path.relative_to(root)} (function {params.get('function')})")
        if r.name in existing and not force:
            r.status, r.message = "exists", "already in the user catalog (--force replaces it)"
            continue
        r.status = "replaced" if r.name in existing else "imported"
        if not dry_run:
            user_catalog.save(r.multiplier)
    return report
