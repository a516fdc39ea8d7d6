"""Names of generated multipliers: ``<u8|s8>_<family>[_<params>]``.

=================  ======================================  ==================
family             name                                    example
=================  ======================================  ==================
exact              ``u8_exact``                            ``s8_exact``
bam (h, v)         ``u8_bam_h<h>_v<v>``                    ``u8_bam_h2_v6``
trunc (t)          ``u8_trunc_<t>``                        ``s8_trunc_3``
drum (k)           ``u8_drum_<k>``                         ``u8_drum_4``
mitchell           ``u8_mitchell``                         ``s8_mitchell``
etm (m)            ``u8_etm_<m>``                          ``u8_etm_4``
kulkarni           ``u8_kulkarni``                         ``s8_kulkarni``
roba               ``u8_roba``                             ``u8_roba``
=================  ======================================  ==================

Any valid parameter works by name (``u8_drum_7`` is built on request), whether
or not it is in the shipped catalog.
"""
from __future__ import annotations

import re
from typing import Mapping

from approxdse.multipliers.families import FAMILIES

_PATTERNS = {
    "exact": re.compile(r"^(u8|s8)_exact$"),
    "bam": re.compile(r"^(u8|s8)_bam_h(\d+)_v(\d+)$"),
    "trunc": re.compile(r"^(u8|s8)_trunc_(\d+)$"),
    "drum": re.compile(r"^(u8|s8)_drum_(\d+)$"),
    "mitchell": re.compile(r"^(u8|s8)_mitchell$"),
    "etm": re.compile(r"^(u8|s8)_etm_(\d+)$"),
    "kulkarni": re.compile(r"^(u8|s8)_kulkarni$"),
    "roba": re.compile(r"^(u8|s8)_roba$"),
}


def generated_name(family: str, signed: bool, params: Mapping[str, int] | None = None) -> str:
    """The canonical name of a generated multiplier."""
    p = FAMILIES[family].check(dict(params or {}))
    prefix = "s8" if signed else "u8"
    if family == "bam":
        return f"{prefix}_bam_h{p['h']}_v{p['v']}"
    if p:
        return f"{prefix}_{family}_" + "_".join(str(v) for v in p.values())
    return f"{prefix}_{family}"


def parse_generated_name(name: str) -> tuple[str, bool, dict[str, int]] | None:
    """``u8_bam_h2_v6`` -> (``bam``, False, {h: 2, v: 6}); None if not a generated name."""
    for family, pattern in _PATTERNS.items():
        m = pattern.match(name)
        if m:
            keys = list(FAMILIES[family].params)
            return family, m[1] == "s8", {k: int(v) for k, v in zip(keys, m.groups()[1:])}
    return None
