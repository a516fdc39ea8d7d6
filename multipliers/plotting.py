"""Plots of multipliers: the error matrix heat-map, and error against energy for a catalog."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from approxdse.core.atomic_files import atomic_path
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import Multiplier

if TYPE_CHECKING:
    import pandas as pd


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def error_heatmap(m: Multiplier, ax: Any = None) -> Any:
    """Draw ``lut - exact`` of ``m`` on ``ax`` (rows = first operand); returns the axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
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


def save_error_heatmap(m: Multiplier, path: str | os.PathLike) -> Path:
    """Write the error heat-map of ``m`` to ``path`` (PNG, or any suffix matplotlib knows)."""
    plt = _pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 5))
    try:
        error_heatmap(m, ax)
        fig.tight_layout()
        suffix = path.suffix.lstrip(".").lower() or "png"
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=120, format=suffix)
        except ValueError as exc:
            raise ApproxDSEError(f"cannot write a plot to {path}: {exc}") from None
    finally:
        plt.close(fig)
    return path


def error_energy_scatter(df: "pd.DataFrame", metric: str = "mre_pct", ax: Any = None) -> Any:
    """Scatter ``metric`` against relative energy for a :func:`multipliers.catalog` frame, by family."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    df = df[df["relative_energy"].notna()]
    for fam, part in df.groupby("family"):
        ax.scatter(part["relative_energy"], part[metric].clip(lower=1e-4), label=fam, s=22)
    ax.set_yscale("log")
    ax.set_xlabel("energy per multiplication (exact = 1)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return ax
