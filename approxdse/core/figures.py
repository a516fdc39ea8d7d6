"""Figures without pyplot: library plots build a :class:`matplotlib.figure.Figure`
object and save it atomically, never touching pyplot's global state or the
matplotlib backend (a notebook's inline backend stays as the user set it).

matplotlib is imported only when a figure is made, so importing a module that
plots stays cheap.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from approxdse.core.atomic_files import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float] = (7.0, 4.5), dpi: int = 120) -> "Figure":
    """A fresh, stand-alone :class:`~matplotlib.figure.Figure` (not registered with pyplot,
    so it is garbage-collected like any object and needs no ``plt.close``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def save_figure(fig: "Figure", path: str | os.PathLike, *, format: str | None = None, **savefig_kwargs) -> Path:
    """Write ``fig`` to ``path`` atomically (a temporary file beside it, then a rename).

    The format is ``format``, else ``path``'s suffix (``.png``, ``.pdf``, ``.svg`` ...),
    else PNG. Returns ``path``.
    """
    path = Path(path)
    fmt = format or path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kwargs)
    return path
