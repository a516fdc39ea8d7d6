"""Where approxdse keeps the user's files: one home, one layout.

``$APPROXDSE_HOME`` when it is set, else the platform's user data directory
(``platformdirs.user_data_dir("approxdse")``, e.g. ``~/.local/share/approxdse``).
Beneath it:

* ``catalog/``: the user's imported multipliers (``catalog.yaml`` and LUT files);
* ``cache/<kind>/``: things that can be rebuilt at any time (compiled C models and
  kernels, trained-model states, mappings, downloaded-nothing-ever), one folder a kind;
* ``predictors/``: predictor models the user trained and registered.

Deleting ``cache/`` is always safe.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_VARIABLE = "APPROXDSE_HOME"


def home_dir() -> Path:
    """The approxdse home directory (not created)."""
    env = os.environ.get(HOME_VARIABLE)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("approxdse", appauthor=False))


def cache_dir(kind: str) -> Path:
    """``<home>/cache/<kind>`` (not created): a rebuildable cache of one kind."""
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"cache kind must be a plain folder name, got {kind!r}")
    return home_dir() / "cache" / kind
