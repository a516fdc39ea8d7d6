"""Training checkpoints: ``torch.save`` through a temporary file and a rename, and
loading with ``torch.load(..., weights_only=True)`` (never a pickle of arbitrary objects).

A checkpoint is a plain ``state_dict`` or a dict of them (with plain numbers and
lists beside), as :mod:`approxdse.emulator.epochs` writes after every epoch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from approxdse.core.atomic_files import atomic_path
from approxdse.core.errors import ApproxDSEError

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` (a state_dict or a dict of them) atomically: temp file + rename."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> Any:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ApproxDSEError(f"checkpoint {str(path)!r} does not exist") from None
    except Exception as exc:  # corrupt, truncated or not a weights-only file
        raise ApproxDSEError(f"checkpoint {str(path)!r} cannot be read as weights: {exc}") from None

