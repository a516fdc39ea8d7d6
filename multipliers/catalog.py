"""Multipliers by name: the built-in catalog, generated names, and the user catalog.

>>> from approxdse import multipliers
>>> m = multipliers.get("u8_bam_h2_v6")
>>> m.family, m.params
('bam', {'h': 2, 'v': 6})
>>> "s8_exact" in multipliers.names()
True

Resolution order of :func:`get`: a :class:`Multiplier` is returned as is; aliases
(``exact`` -> ``u8_exact``); built-in catalog entries (``multipliers/data/catalog.yaml``,
written by ``scripts/build_catalog.py``; LUTs regenerated from family + params
and cached in memory); any other valid generated name (``u8_drum_7``, see
:mod:`multipliers.naming`); then the user catalog (:mod:`multipliers.user_catalog`).
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.multipliers.multiplier import Multiplier
from approxdse.multipliers import user_catalog
from approxdse.multipliers.catalog_build import provenance
from approxdse.multipliers.cost_model import estimate
from approxdse.multipliers.families import family as family_spec
from approxdse.multipliers.families import generate_lut
from approxdse.multipliers.naming import parse_generated_name

if TYPE_CHECKING:
    import pandas as pd

ALIASES = {"exact": "u8_exact", "u8": "u8_exact", "s8": "s8_exact"}

#: Columns of :func:`catalog` (plus ``params`` and ``source``).
CATALOG_COLUMNS = (
    "name", "signed", "family", "params", "relative_energy", "mae_pct", "wce_pct", "mre_pct", "ep_pct",
    "wcre_pct", "mae", "wce", "mse", "bias", "std", "power_mw", "area_um2", "delay_ns", "energy_calibrated", "source",
)


@lru_cache(maxsize=1)
def builtin_document() -> dict[str, Any]:
    """The parsed built-in catalog YAML."""
    import yaml

    text = resources.files("approxdse.multipliers.data").joinpath("catalog.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


@lru_cache(maxsize=1)
def _builtin_entries() -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in builtin_document()["multipliers"]}


def builtin_names() -> list[str]:
    """Names of the built-in multipliers, in catalog order."""
    return list(_builtin_entries())


def names(*, signed: bool | None = None, include_user: bool = True) -> list[str]:
    """Names of the built-in multipliers (catalog order), then the user's (sorted).

    ``signed=True``/``False`` keeps only that signedness.
    """
    out = [n for n, e in _builtin_entries().items() if signed is None or e["signed"] == signed]
    if include_user:
        for n, entry in user_catalog.readable_entries():
            if n in _builtin_entries():
                continue
            if signed is None or bool(entry.get("signed")) == signed:
                out.append(n)
    return out


@lru_cache(maxsize=256)
def _generated(name: str) -> Multiplier:
    entry = _builtin_entries().get(name)
    if entry is not None:
        family, signed, params = entry["family"], entry["signed"], entry["params"] or {}
        rel, power, area, prov = entry["relative_energy"], entry["power_mw"], entry["area_um2"], entry["provenance"]
    else:
        family, signed, params = parse_generated_name(name)  # type: ignore[misc]
        cost = estimate(family, signed, params)
        rel, power, area, prov = cost.relative_energy, cost.power_mw, cost.area_um2, provenance(family)
    return Multiplier(
        name=name,
        signed=signed,
        lut=generate_lut(family, signed, params),
        family=family,
        params=params,
        relative_energy=rel,
        power_mw=power,
        area_um2=area,
        delay_ns=None,
        provenance=prov,
    )


def is_reserved_exactly(name: str) -> bool:
    """True for a built-in, alias or generated name spelled exactly so."""
    from approxdse.multipliers.naming import parse_generated_name

    return name in ALIASES or name in _builtin_entries() or parse_generated_name(name) is not None


def is_reserved(name: str) -> bool:
    """True for names the user catalog may not take (built-ins, aliases, generated names)."""
    if name in ALIASES or name in _builtin_entries() or parse_generated_name(name) is not None:
        return True
    low = name.lower()  # names are unique ignoring case: U8_DRUM_4 would shadow u8_drum_4 on some file systems
    if low != name:
        return is_reserved(low) or any(n.lower() == low for n in (*ALIASES, *_builtin_entries()))
    return False


def get(name: str | Multiplier) -> Multiplier:
    """The multiplier called ``name`` (or ``name`` itself if it is a :class:`Multiplier`).

    Raises :class:`~approxdse.core.errors.UnknownNameError` with close matches when the
    name is unknown.
    """
    if isinstance(name, Multiplier):
        return name
    if not isinstance(name, str):
        raise ApproxDSEError(f"a multiplier is given by name or as a Multiplier, got {type(name).__name__}")
    key = ALIASES.get(name, name)
    if key in _builtin_entries():
        return _generated(key)
    parsed = parse_generated_name(key)
    if parsed is not None:
        family_spec(parsed[0]).check(parsed[2])  # one-sentence error for bad parameters
        return _generated(key)
    if key in user_catalog.user_names():
        return user_catalog.load(key)
    lost = user_catalog.missing_lut_error(key)
    if lost is not None:
        raise lost
    known = names() + list(ALIASES)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `approxdse multipliers list` to see them"
    raise UnknownNameError(f"unknown multiplier {name!r}{hint}")


def _row(entry: dict[str, Any], source: str) -> dict[str, Any]:
    row = {k: entry.get(k) for k in CATALOG_COLUMNS if k not in ("source",)}
    row.update(entry.get("metrics") or {})
    row["energy_calibrated"] = entry.get("energy_calibrated", False)
    row["source"] = source
    return {k: row.get(k) for k in CATALOG_COLUMNS}


def catalog(*, signed: bool | None = None, include_user: bool = True) -> "pd.DataFrame":
    """All multipliers with their metrics and energy, one row each (built-ins first)."""
    import pandas as pd

    rows = [_row(e, "builtin") for e in _builtin_entries().values() if signed is None or e["signed"] == signed]
    if include_user:
        for n, entry in user_catalog.readable_entries(warn=True):
            if n in _builtin_entries():
                continue
            if signed is None or bool(entry.get("signed")) == signed:
                rows.append(_row({**entry, "name": n}, "user"))
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))
