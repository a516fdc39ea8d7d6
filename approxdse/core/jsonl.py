"""Append-only JSON-lines logs that survive kills: strict JSON out, torn tails repaired.

A run folder's log (e.g. a search's ``candidates.jsonl``) gets one record a line,
appended as results arrive. A kill mid-append leaves a *torn* last line; the next
append would glue a record onto it and both would be lost. :func:`repair_jsonl`
(which :func:`read_jsonl` and :func:`append_jsonl` call first) truncates the file
to its last whole record and says so on stderr.

Records are written as strict JSON (``NaN`` and infinities become ``null``, which
every JSON reader accepts); :func:`read_jsonl` turns ``null`` back into ``NaN`` in
the fields its caller names as numbers.
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from approxdse.core.errors import OutputError, os_error_reason

__all__ = ["append_jsonl", "dumps_record", "json_safe", "read_jsonl", "repair_jsonl"]


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return json_safe(value.item())
        except (TypeError, ValueError):
            return value
    return value


def dumps_record(record: dict) -> str:
    """One record as one line of strict JSON (no trailing newline)."""
    return json.dumps(json_safe(record), allow_nan=False, default=str)


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line.decode("utf-8")), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def repair_jsonl(path: str | os.PathLike, *, quiet: bool = False) -> int:
    """Truncate ``path`` to its last whole record; returns the bytes dropped (0: nothing torn).

    A last line without its newline, or one that is not a JSON record, is a torn
    append: it is cut off, with a note on stderr (unless ``quiet``). Missing file: 0.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return 0
    if not data:
        return 0
    keep = len(data)
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1  # 0 if there is no whole line at all
    else:
        start = data.rfind(b"\n", 0, len(data) - 1) + 1
        if data[start:].strip() and not _parses(data[start:]):
            keep = start
    dropped = len(data) - keep
    if dropped:
        try:
            with open(path, "r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise OutputError(f"cannot repair {path}: {os_error_reason(exc)}") from None
        if not quiet:
            print(f"approxdse: note: {path}: removed a torn last record ({dropped} bytes, left by an "
                  "interrupted run); it will be evaluated again", file=sys.stderr)
    return dropped


def read_jsonl(path: str | os.PathLike, *, nan_fields: Iterable[str] = (), repair: bool = True,
               quiet: bool = False) -> list[dict]:
    """The records of ``path`` (none if it does not exist), after :func:`repair_jsonl`.

    ``null`` in a field of ``nan_fields`` reads back as ``NaN``. A line in the
    middle that is not a JSON record (a hand edit) is skipped with a note.
    """
    path = Path(path)
    if repair:
        repair_jsonl(path, quiet=quiet)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    nan_fields = tuple(nan_fields)
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            if not quiet:
                print(f"approxdse: note: {path}: line {number} is not a JSON record; ignored", file=sys.stderr)
            continue
        for key in nan_fields:
            if key in row and row[key] is None:
                row[key] = math.nan
        rows.append(row)
    return rows


def _ends_whole(path: Path) -> bool:
    """True when ``path`` is missing, empty or ends in a newline (read from its last byte only)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return True
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
    except FileNotFoundError:
        return True


def append_jsonl(path: str | os.PathLike, records: Sequence[dict]) -> None:
    """Append ``records`` to ``path`` as strict JSON lines, flushed to disk (repairs a torn tail first)."""
    path = Path(path)
    if not _ends_whole(path):
        repair_jsonl(path)
    text = "".join(dumps_record(r) + "\n" for r in records)
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_error_reason(exc)}") from None
