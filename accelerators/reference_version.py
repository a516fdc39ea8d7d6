"""The identity of the reference energy model: one source hash, one version string.

Reference energies depend on the model's code (the modules in
:data:`REFERENCE_MODULES`) and on the built-in architecture and energy-table
files (``accelerators/data/*.yaml``). :func:`reference_code_hash` is the
SHA-256 over exactly those bytes; dataset manifests record it
(``reference_code_sha256``) and predictors trained on a dataset carry it, so
energies from a different model, mapper or energy table are never mixed
silently (a changed file means a new hash: shipped predictor models are then
re-trained, ``benchmarks/predictors_bench.py --ship``).

:func:`model_version` (``energy-<12 hex digits of that hash>``) and
:func:`reference_version` (``approxdse <version>, model energy-...``) are the
strings written wherever a version is recorded.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from approxdse import __version__

#: The reference's modules whose source decides the energies, in hashing order.
REFERENCE_MODULES = ("estimate", "mapper", "mapspace", "mapping", "model", "nest_analysis", "nest_kernel",
                     "constraints", "energy_tables", "architecture")


@lru_cache(maxsize=1)
def reference_code_hash() -> str:
    """SHA-256 (hex) over the reference model's source files and built-in architecture files.

    For each module of :data:`REFERENCE_MODULES` its name and its source bytes, then for each
    ``data/*.yaml`` file (by name) its name and bytes.
    """
    digest = hashlib.sha256()
    package = resources.files("approxdse.accelerators")
    for name in REFERENCE_MODULES:
        source = package.joinpath(f"{name}.py")
        if source.is_file():
            digest.update(name.encode())
            digest.update(source.read_bytes())
    data = package.joinpath("data")
    if data.is_dir():
        for entry in sorted(data.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".yml")):
                digest.update(entry.name.encode())
                digest.update(entry.read_bytes())
    return digest.hexdigest()


def model_version() -> str:
    """``energy-<first 12 hex digits of reference_code_hash()>``."""
    return f"energy-{reference_code_hash()[:12]}"


def reference_version() -> str:
    """``approxdse <package version>, model <model_version()>``: the reference a result came from."""
    return f"approxdse {__version__}, model {model_version()}"
