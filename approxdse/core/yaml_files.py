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


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of the file at ``path``; a missing file, a folder, an unreadable file or
    one that is not UTF-8 text raises one sentence naming ``what`` (e.g. "mapping file") and ``path``."""
    file = Path(path)
    if file.is_dir():
        raise ApproxDSEError(f"{what} {str(path)!r} is a folder, not a file")
    if not file.is_file():
        raise ApproxDSEError(f"{what} {str(path)!r} does not exist")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ApproxDSEError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApproxDSEError(f"{what} {str(path)!r} is not a text file (byte {exc.start} is not UTF-8)") from None


def load_yaml_file(path: str | os.PathLike, what: str) -> Any:
    """The parsed content of the YAML file at ``path``; missing, unreadable or malformed files raise."""
    return parse_yaml(read_text_file(path, what), what, path)
