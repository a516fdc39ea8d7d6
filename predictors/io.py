"""Saving and loading predictors as JSON or UBJSON (by file extension), never pickle.

Learned models embed their trees (XGBoost's own JSON model, or the node
arrays of a HistGradientBoosting ensemble). ``.ubj`` files hold the same object
in Universal Binary JSON; any other extension is JSON. The file format and the
writer live in :mod:`approxdse.predictors.model_files`; this module adds the
reader, which needs the predictor classes.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from approxdse.core.errors import ApproxDSEError
from approxdse.predictors.learned import LearnedPredictor
from approxdse.predictors.model_files import (  # noqa: F401  (re-exported: the file format and the writer)
    FORMAT,
    MODEL_SUFFIXES,
    check_model_path,
    FORMAT_VERSION,
    predictor_to_dict,
    save_predictor,
    ubjson_dumps,
    ubjson_loads,
)
from approxdse.predictors.summing import SummingPredictor


def predictor_from_dict(data: Any, source: str = "model"):
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ApproxDSEError(f"{source} is not an approxdse predictor model")
    if data.get("format_version") != FORMAT_VERSION:
        raise ApproxDSEError(
            f"{source} has model format version {data.get('format_version')}; this approxdse reads {FORMAT_VERSION}"
        )
    kind = data.get("kind")
    try:
        if kind == "summing":
            return SummingPredictor.from_dict(data)
        if kind == "learned":
            return LearnedPredictor.from_dict(data)
    except KeyError as exc:
        raise ApproxDSEError(f"{source} is corrupt (field {exc} is missing)") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ApproxDSEError(f"{source} is corrupt ({exc})") from None
    raise ApproxDSEError(f"{source} holds an unknown predictor kind {kind!r}")


def load_predictor(path: str | os.PathLike):
    """A :class:`~predictors.SummingPredictor` or :class:`~predictors.LearnedPredictor` from a model file."""
    path = Path(path)
    if not path.is_file():
        state = "is a folder, not a model file" if path.is_dir() else "does not exist"
        raise ApproxDSEError(f"predictor model {str(path)!r} {state}")
    raw = path.read_bytes()
    try:
        if path.suffix.lower() == ".ubj":
            data = ubjson_loads(raw)
        else:
            data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise ApproxDSEError(f"predictor model {str(path)!r} is corrupt ({exc})") from None
    return predictor_from_dict(data, source=f"predictor model {str(path)!r}")
