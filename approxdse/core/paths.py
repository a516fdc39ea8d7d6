"""Where approxdse keeps the user's files: one home, one layout.

``$APPROXDSE_HOME`` when it is set, else the platform's user data directory
(``platformdirs.user_data_dir("approxdse")``, e.g. ``~/.local/share/approxdse``).
Beneath it:

* ``multipliers/``: the user catalog, the multipliers the user imported
  (``NAME.npy`` LUT + ``NAME.yaml`` record each; :func:`catalog_dir`);
* ``cache/<kind>/``: things that can be rebuilt at any time, one folder a kind
  (:func:`cache_dir`). The kinds in use:

  - ``c_models``: LUTs computed from C behavioural models, keyed by source hash;
  - ``kernels``: the compiled native LUT-GEMM kernel;
  - ``models``: float models trained by the emulator (``models/float/``);
  - ``predictors``: default predictors fitted on this machine and their datasets.

Deleting ``cache/`` is always safe; deleting ``multipliers/`` forgets the
imported multipliers.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_VARIABLE = "APPROXDSE_HOME"
#: The folders of :func:`cache_dir` approxdse itself uses.
CACHE_KINDS = ("c_models", "kernels", "models", "predictors")


def home_dir() -> Path:
    """The approxdse home directory (not created)."""
    env = os.environ.get(HOME_VARIABLE)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("approxdse", appauthor=False))


def catalog_dir() -> Path:
    """``<home>/multipliers``: the user catalog of imported multipliers (not created)."""
    return home_dir() / "multipliers"


def cache_dir(kind: str) -> Path:
    """``<home>/cache/<kind>`` (not created): a rebuildable cache of one kind."""
    if not isinstance(kind, str) or not kind or "/" in kind or os.sep in kind or kind.startswith("."):
        raise ValueError(f"cache kind must be a plain folder name, got {kind!r}")
    return home_dir() / "cache" / kind
