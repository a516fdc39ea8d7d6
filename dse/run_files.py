"""The files of a search run folder and how they are written (atomically).

``candidates.jsonl`` (the evaluation log), ``checkpoint.json``, ``config.yaml``,
and tables as Parquet + CSV. The run (:mod:`approxdse.dse.run`) writes them and
the report (:mod:`approxdse.dse.report`) reads them, so they live below both.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from approxdse.core.atomic_files import atomic_path
from approxdse.core.atomic_files import atomic_write_text as write_atomic
from approxdse.core.errors import ApproxDSEError
from approxdse.core.jsonl import read_jsonl

LOG = "candidates.jsonl"
CHECKPOINT = "checkpoint.json"
CONFIG = "config.yaml"
#: Fields of a log row that are numbers and may be NaN (written as JSON ``null``).
NAN_FIELDS = ("energy", "reference_energy", "predictor_error", "accuracy", "error", "float_accuracy",
              "time_s", "train_s", "eval_s", "predicted_output_error", "screen_s")


#: Fields without which a log record is not a candidate row (a hand edit, another tool's line).
ROW_KEYS = ("generation", "index", "key", "status")


def read_log(run_dir: str | Path) -> list[dict]:
    """The rows of ``RUN_DIR/candidates.jsonl`` (torn tail repaired, ``null`` -> NaN in number fields);
    JSON records that are not candidate rows are skipped with one note."""
    path = Path(run_dir) / LOG
    rows = read_jsonl(path, nan_fields=NAN_FIELDS)
    kept = [r for r in rows if isinstance(r, dict) and all(k in r for k in ROW_KEYS)
            and isinstance(r["generation"], int) and isinstance(r["index"], int)]
    if len(kept) < len(rows):
        print(f"approxdse: note: {path}: {len(rows) - len(kept)} record(s) lack the fields of a candidate row "
              f"({', '.join(ROW_KEYS)}); ignored", file=sys.stderr)
    return kept


def read_checkpoint(run_dir: str | Path) -> dict:
    """``RUN_DIR/checkpoint.json`` ({} if absent); a corrupt one is one sentence with the fix."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        reason = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ApproxDSEError(
            f"{path} is corrupt ({reason}); delete it and run `approxdse search resume {run_dir}` "
            f"(the evaluations in {LOG} are kept) or `approxdse search report {run_dir}`"
        ) from None
    if not isinstance(data, dict):
        raise ApproxDSEError(f"{path} is corrupt (not a JSON object); delete it and resume or report again")
    return data

__all__ = ["CHECKPOINT", "CONFIG", "LOG", "NAN_FIELDS", "read_checkpoint", "read_log", "write_atomic", "write_table"]


def write_table(df, stem: Path) -> None:
    """``df`` as ``stem.parquet`` and ``stem.csv``, each written atomically."""
    for suffix, writer in ((".parquet", lambda p: df.to_parquet(p, index=False)),
                           (".csv", lambda p: df.to_csv(p, index=False))):
        with atomic_path(stem.with_suffix(suffix)) as tmp:
            writer(tmp)
