"""Built-in and user multipliers by name (bootstrap version: exact multipliers only;
the generated catalog replaces this)."""
from __future__ import annotations

from multipliers.multiplier import Multiplier, exact_lut
from approxdse.errors import UnknownNameError

ALIASES = {"exact": "u8_exact"}


def names() -> list[str]:
    return ["u8_exact", "s8_exact"]


def get(name: str) -> Multiplier:
    if isinstance(name, Multiplier):
        return name
    key = ALIASES.get(name, name)
    if key == "u8_exact":
        return Multiplier("u8_exact", signed=False, lut=exact_lut(False), family="exact")
    if key == "s8_exact":
        return Multiplier("s8_exact", signed=True, lut=exact_lut(True), family="exact")
    raise UnknownNameError(f"unknown multiplier {name!r}; known: {', '.join(names())}")


def catalog():
    import pandas as pd

    return pd.DataFrame([{"name": n, "signed": get(n).signed, "family": "exact", "relative_energy": 1.0} for n in names()])
