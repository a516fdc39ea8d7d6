"""Reading users' YAML files with one-sentence errors.

Every YAML input (search configs, per-layer multiplier files, Timeloop problem
files...) fails the same way: a missing file or a syntax error becomes an
:class:`~approxdse.core.errors.ApproxDSEError` that names the kind of file, its
path and, for syntax errors, the line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from approxdse.core.errors import ApproxDSEError


def parse_yaml(text: str, what: str, path: str | os.PathLike) -> Any:
    """``yaml.safe_load(text)``; a syntax error names ``what`` (e.g. "search config"), ``path`` and the line."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ApproxDSEError(f"{what} {str(path)!r} is not valid YAML{where}") from None


def load_yaml_file(path: str | os.PathLike, what: str) -> Any:
    """The parsed content of the YAML file at ``path``; missing, unreadable or malformed files raise."""
    file = Path(path)
    if not file.is_file():
        raise ApproxDSEError(f"{what} {str(path)!r} does not exist")
    try:
        text = file.read_text()
    except OSError as exc:
        raise ApproxDSEError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    return parse_yaml(text, what, path)
