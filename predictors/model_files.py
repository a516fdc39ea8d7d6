"""The predictor model file: a JSON or UBJSON object (by file extension), never pickle.

A model file is one object::

    {"format": "approxdse-predictor", "format_version": 1, "approxdse": "0.1.0",
     "kind": "summing" | "learned", "accelerator": "eyeriss", "reference_info": {...}, ...}

This module writes it (and holds the small UBJSON codec); reading it back into a
predictor class is :mod:`approxdse.predictors.io`'s job, which knows the kinds.
Files are written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from approxdse import __version__
from approxdse.core.atomic_files import atomic_write_bytes, check_writable
from approxdse.core.jsonl import json_safe
from approxdse.core.errors import ApproxDSEError

FORMAT = "approxdse-predictor"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------- UBJSON codec
def ubjson_dumps(obj: Any) -> bytes:
    """Encode JSON-like data (dict, list, str, int, float, bool, None) as UBJSON (draft 12)."""
    out = bytearray()

    def length(n: int) -> None:
        out.extend(b"L" + struct.pack(">q", n))

    def enc(v: Any) -> None:
        if v is None:
            out.extend(b"Z")
        elif v is True:
            out.extend(b"T")
        elif v is False:
            out.extend(b"F")
        elif isinstance(v, int):
            if -(1 << 63) <= v < (1 << 63):
                out.extend(b"L" + struct.pack(">q", v))
            else:
                s = str(v).encode()
                out.extend(b"H")
                length(len(s))
                out.extend(s)
        elif isinstance(v, float):
            out.extend(b"D" + struct.pack(">d", v))
        elif isinstance(v, str):
            s = v.encode("utf-8")
            out.extend(b"S")
            length(len(s))
            out.extend(s)
        elif isinstance(v, dict):
            out.extend(b"{")
            for k, item in v.items():
                s = str(k).encode("utf-8")
                length(len(s))
                out.extend(s)
                enc(item)
            out.extend(b"}")
        elif isinstance(v, (list, tuple)):
            out.extend(b"[")
            for item in v:
                enc(item)
            out.extend(b"]")
        else:
            raise TypeError(f"cannot encode {type(v).__name__} as UBJSON")

    enc(obj)
    return bytes(out)


_INT_FORMATS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}


def ubjson_loads(data: bytes) -> Any:
    """Decode UBJSON (the subset :func:`ubjson_dumps` writes, plus all integer and float markers)."""
    view = memoryview(data)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(view):
            raise ValueError("truncated UBJSON data")
        chunk = bytes(view[pos:pos + n])
        pos += n
        return chunk

    def read_int(marker: bytes) -> int:
        fmt = _INT_FORMATS.get(marker)
        if fmt is None:
            raise ValueError(f"bad UBJSON length marker {marker!r}")
        return struct.unpack(fmt, take(struct.calcsize(fmt)))[0]

    def dec(marker: bytes | None = None) -> Any:
        m = marker or take(1)
        if m == b"Z":
            return None
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m in _INT_FORMATS:
            return read_int(m)
        if m == b"d":
            return struct.unpack(">f", take(4))[0]
        if m == b"D":
            return struct.unpack(">d", take(8))[0]
        if m in (b"S", b"H"):
            s = take(read_int(take(1))).decode("utf-8")
            return int(s) if m == b"H" else s
        if m == b"C":
            return take(1).decode("ascii")
        if m == b"[":
            items = []
            while True:
                nxt = take(1)
                if nxt == b"]":
                    return items
                items.append(dec(nxt))
        if m == b"{":
            obj = {}
            while True:
                nxt = take(1)
                if nxt == b"}":
                    return obj
                key = take(read_int(nxt)).decode("utf-8")
                obj[key] = dec()
        raise ValueError(f"unknown UBJSON marker {m!r}")

    value = dec()
    if pos != len(view):
        raise ValueError("trailing bytes after the UBJSON value")
    return value


# --------------------------------------------------------------------------- predictors
def predictor_to_dict(predictor) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "approxdse": __version__, **predictor.to_dict()}


#: Model file suffixes: JSON and UBJSON (never pickle).
MODEL_SUFFIXES = (".json", ".ubj")


def check_model_path(path: str | os.PathLike) -> Path:
    """Refuse a model file name that is not ``.json``/``.ubj`` or cannot be written (one sentence)."""
    path = Path(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ApproxDSEError(
            f"predictor model file {str(path)!r} must end in .json (JSON) or .ubj (UBJSON); "
            f"approxdse never writes pickles or other formats"
        )
    return check_writable(path)


def save_predictor(predictor, path: str | os.PathLike) -> Path:
    """Write a fitted predictor to ``path`` (``.ubj``: UBJSON, ``.json``: JSON; other suffixes refused)."""
    path = check_model_path(path)
    data = json_safe(predictor_to_dict(predictor))  # JSON has no NaN/inf: stored as None
    if path.suffix.lower() == ".ubj":
        payload = ubjson_dumps(data)
    else:
        payload = json.dumps(data, separators=(",", ":")).encode()
    if path.parent and not path.parent.exists():
        raise ApproxDSEError(f"cannot write {str(path)!r}: its folder does not exist")
    return atomic_write_bytes(path, payload)
