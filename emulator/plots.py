"""Figures of the emulator's results, as :class:`matplotlib.figure.Figure` objects
(no pyplot state, no backend switch): the accuracy-vs-energy scatter of a sweep."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from approxdse.core.figures import new_figure, save_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_accuracy_vs_energy"]


def plot_accuracy_vs_energy(table: "pd.DataFrame", path: str | os.PathLike | None = None, *,
                            title: str = "") -> "Figure":
    """Scatter of approximate top-1 accuracy against relative multiplication energy (one point
    per multiplier, colour = family, marker = signedness, hollow = after fine-tuning), with the
    float and 8-bit exact accuracies as reference lines, from an
    :func:`~approxdse.emulator.sweep.accuracy_sweep` table.

    Returns the Figure; with ``path`` it is also written there atomically (PNG, or the
    format ``path``'s suffix names)."""
    from matplotlib import colormaps

    ok = table[table["approx_accuracy"].notna() & table["relative_energy"].notna()]
    fig = new_figure((7, 4.5), dpi=120)
    ax = fig.subplots()
    families = sorted(ok["family"].astype(str).unique()) if len(ok) else []
    colours = colormaps["tab10"]
    for i, fam in enumerate(families):
        for signed, marker in ((False, "o"), (True, "s")):
            sel = ok[(ok["family"].astype(str) == fam) & (ok["signed"].astype(bool) == signed)]
            if not len(sel):
                continue
            label = f"{fam} ({'signed' if signed else 'unsigned'})"
            ax.scatter(sel["relative_energy"], 100 * sel["approx_accuracy"], marker=marker,
                       color=colours(i % 10), label=label, s=28, zorder=3)
            if "fine_tuned_accuracy" in sel and sel["fine_tuned_accuracy"].notna().any():
                ft = sel[sel["fine_tuned_accuracy"].notna()]
                ax.scatter(ft["relative_energy"], 100 * ft["fine_tuned_accuracy"].astype(float), marker=marker,
                           facecolors="none", edgecolors=colours(i % 10), s=36, zorder=3)
    if len(table) and table["float_accuracy"].notna().any():
        ax.axhline(100 * float(table["float_accuracy"].dropna().iloc[0]), color="k", ls="--", lw=1, label="float")
    exact = table["exact_8bit_accuracy"].dropna() if "exact_8bit_accuracy" in table else []
    if len(exact):
        ax.axhline(100 * float(exact.max()), color="grey", ls=":", lw=1, label="8-bit exact")
    ax.set_xlabel("multiplication energy relative to the exact multiplier")
    ax.set_ylabel("top-1 accuracy (%)")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
