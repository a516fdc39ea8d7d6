"""The files of a search run folder and how they are written (atomically).

``candidates.jsonl`` (the evaluation log), ``checkpoint.json``, ``config.yaml``,
and tables as Parquet + CSV. The run (:mod:`approxdse.dse.run`) writes them and
the report (:mod:`approxdse.dse.report`) reads them, so they live below both.
"""
from __future__ import annotations

from pathlib import Path

from approxdse.core.atomic_files import atomic_path
from approxdse.core.atomic_files import atomic_write_text as write_atomic

LOG = "candidates.jsonl"
CHECKPOINT = "checkpoint.json"
CONFIG = "config.yaml"

__all__ = ["CHECKPOINT", "CONFIG", "LOG", "write_atomic", "write_table"]


def write_table(df, stem: Path) -> None:
    """``df`` as ``stem.parquet`` and ``stem.csv``, each written atomically."""
    for suffix, writer in ((".parquet", lambda p: df.to_parquet(p, index=False)),
                           (".csv", lambda p: df.to_csv(p, index=False))):
        with atomic_path(stem.with_suffix(suffix)) as tmp:
            writer(tmp)
