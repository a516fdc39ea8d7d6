"""Plots of multipliers: the error matrix heat-map, and error against energy for a catalog.

Each drawing function draws on the ``ax`` it is given (so it composes into your own
figure) or, without one, on a new stand-alone :class:`matplotlib.figure.Figure`
(reach it as ``ax.figure``). Nothing here touches pyplot or the matplotlib backend.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.core.figures import new_figure, save_figure
from approxdse.multipliers.multiplier import Multiplier

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def error_heatmap(m: Multiplier, ax: Any = None) -> Any:
    """Draw ``lut - exact`` of ``m`` on ``ax`` (rows = first operand); returns the axes."""
    if ax is None:
        ax = new_figure((6, 5), dpi=120).subplots()
    err = m.error_matrix
    lim = max(1, int(np.abs(err).max()))
    v = m.operands
    extent = (v[0] - 0.5, v[-1] + 0.5, v[-1] + 0.5, v[0] - 0.5)
    im = ax.imshow(err, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent, interpolation="nearest")
    ax.set_xlabel("second operand (weight)")
    ax.set_ylabel("first operand (activation)")
    met = m.metrics
    ax.set_title(f"{m.name}: error (MAE {met.mae_pct:.3g}%, WCE {met.wce_pct:.3g}%, MRE {met.mre_pct:.3g}%)", fontsize=9)
    ax.figure.colorbar(im, ax=ax, label="approximate - exact")
    return ax


def error_heatmap_figure(m: Multiplier) -> "Figure":
    """The error heat-map of ``m`` as a stand-alone Figure."""
    fig = new_figure((6, 5), dpi=120)
    error_heatmap(m, fig.subplots())
    fig.tight_layout()
    return fig


def save_error_heatmap(m: Multiplier, path: str | os.PathLike) -> Path:
    """Write the error heat-map of ``m`` to ``path`` atomically (PNG, or any suffix matplotlib knows)."""
    path = Path(path)
    fig = error_heatmap_figure(m)
    try:
        return save_figure(fig, path)
    except ValueError as exc:
        raise ApproxDSEError(f"cannot write a plot to {path}: {exc}") from None


def error_energy_scatter(df: "pd.DataFrame", metric: str = "mre_pct", ax: Any = None) -> Any:
    """Scatter ``metric`` against relative energy for a :func:`multipliers.catalog` frame, by family."""
    if ax is None:
        ax = new_figure((7, 4.5), dpi=120).subplots()
    df = df[df["relative_energy"].notna()]
    for fam, part in df.groupby("family"):
        ax.scatter(part["relative_energy"], part[metric].clip(lower=1e-4), label=fam, s=22)
    ax.set_yscale("log")
    ax.set_xlabel("energy per multiplication (exact = 1)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return ax
