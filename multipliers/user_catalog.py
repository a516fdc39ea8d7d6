"""The user catalog: multipliers imported by the user, stored under the approxdse home.

The folder is :func:`approxdse.core.paths.catalog_dir`: ``<home>/multipliers/``,
the home being ``$APPROXDSE_HOME`` when set, else the platform's user data
directory (e.g. ``~/.local/share/approxdse`` on Linux). Each imported multiplier
is two files there: ``NAME.npy`` (the int32 LUT, in the index convention of
:mod:`multipliers.multiplier`) and ``NAME.yaml`` (signedness, family, figures,
provenance and metrics). Both are written to temporary files and renamed, the
YAML last, so an interrupted import leaves no entry behind.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.core.atomic_files import atomic_write as _atomic_write
from approxdse.core.paths import catalog_dir, home_dir
from approxdse.multipliers.multiplier import Multiplier

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")


def home() -> Path:
    """The approxdse home directory (not created): :func:`approxdse.core.paths.home_dir`."""
    return home_dir()


def user_dir() -> Path:
    """Where imported multipliers live: :func:`approxdse.core.paths.catalog_dir`."""
    return catalog_dir()


def check_name(name: str) -> str:
    """A valid multiplier name for the user catalog (letters, digits, ``_ . + -``)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ApproxDSEError(
            f"invalid multiplier name {name!r}: use 1-100 letters, digits, '_', '.', '+' or '-', starting with a letter or digit"
        )
    return name


def user_names() -> list[str]:
    """Names of the multipliers in the user catalog, sorted."""
    d = user_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml") if (d / f"{p.stem}.npy").is_file())


def entry_of(m: Multiplier) -> dict[str, Any]:
    """The YAML record of a multiplier (metrics included)."""
    return {
        "name": m.name,
        "signed": m.signed,
        "family": m.family,
        "params": dict(m.params),
        "relative_energy": None if m.relative_energy is None else float(m.relative_energy),
        "power_mw": m.power_mw,
        "area_um2": m.area_um2,
        "delay_ns": m.delay_ns,
        "provenance": m.provenance,
        "metrics": {k: round(v, 10) for k, v in m.metrics.as_dict().items()},
    }


def save(m: Multiplier) -> Path:
    """Write ``m`` into the user catalog (overwriting an entry of the same name)."""
    import yaml

    check_name(m.name)
    d = user_dir()
    lut = np.ascontiguousarray(m.lut, dtype=np.int32)
    _atomic_write(d / f"{m.name}.npy", lambda fh: np.save(fh, lut))
    text = yaml.safe_dump(entry_of(m), sort_keys=False)
    _atomic_write(d / f"{m.name}.yaml", lambda fh: fh.write(text.encode()))
    return d / f"{m.name}.yaml"


def _fix(name: str) -> str:
    return (f"re-import it (approxdse multipliers import FILE --name {name} --force) "
            f"or delete it (approxdse multipliers remove {name})")


def load_entry(name: str) -> dict[str, Any]:
    """The YAML record of user multiplier ``name``; a corrupt file is one sentence with the fix."""
    path = user_dir() / f"{name}.yaml"
    try:
        entry = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ApproxDSEError(f"user multiplier {name!r} cannot be read from {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ApproxDSEError(f"user multiplier file {path} is not valid YAML{where}; {_fix(name)}") from None
    except UnicodeDecodeError:
        raise ApproxDSEError(f"user multiplier file {path} is not text; {_fix(name)}") from None
    if not isinstance(entry, dict):
        raise ApproxDSEError(f"user multiplier file {path} is not a mapping; {_fix(name)}")
    return entry


def entries_with_yaml() -> list[str]:
    """Names that have a ``NAME.yaml`` in the user catalog (with or without their LUT file)."""
    d = user_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def missing_lut_error(name: str) -> ApproxDSEError | None:
    """The error for a user entry whose ``.yaml`` exists but whose ``.npy`` LUT is gone, else None."""
    d = user_dir()
    if (d / f"{name}.yaml").is_file() and not (d / f"{name}.npy").is_file():
        return ApproxDSEError(f"user multiplier {name!r} has lost its LUT file {d / (name + '.npy')}; {_fix(name)}")
    return None


def readable_entries(*, warn: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """(name, record) of every usable user multiplier; broken ones are skipped (with a one-line
    warning each on stderr when ``warn``; using one by name gives the error)."""
    import sys

    out = []
    for name in entries_with_yaml():
        problem = missing_lut_error(name)
        entry = None
        if problem is None:
            try:
                entry = load_entry(name)
            except ApproxDSEError as exc:
                problem = exc
        if problem is not None:
            if warn:
                print(f"approxdse: warning: skipping a user multiplier: {problem}", file=sys.stderr)
            continue
        out.append((name, entry))
    return out


def name_clash(name: str, names: list[str] | tuple[str, ...]) -> str | None:
    """The name in ``names`` equal to ``name`` ignoring case, if any."""
    low = name.lower()
    return next((n for n in names if n.lower() == low), None)


def load(name: str) -> Multiplier:
    """The user multiplier ``name`` (which must be in :func:`user_names`)."""
    entry = load_entry(name)
    path = user_dir() / f"{name}.npy"
    try:
        lut = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ApproxDSEError(f"LUT of user multiplier {name!r} cannot be read from {path}: {exc}; {_fix(name)}") from None
    return Multiplier(
        name=name,
        signed=bool(entry.get("signed", False)),
        lut=lut,
        family=entry.get("family", "custom"),
        params=entry.get("params") or {},
        relative_energy=entry.get("relative_energy"),
        power_mw=entry.get("power_mw"),
        area_um2=entry.get("area_um2"),
        delay_ns=entry.get("delay_ns"),
        provenance=entry.get("provenance", ""),
    )


def remove(name: str) -> None:
    """Delete a user multiplier (its YAML first, so a half-removed entry is invisible)."""
    d = user_dir()
    if name not in entries_with_yaml():
        raise ApproxDSEError(f"no user multiplier named {name!r}")
    (d / f"{name}.yaml").unlink(missing_ok=True)
    (d / f"{name}.npy").unlink(missing_ok=True)
