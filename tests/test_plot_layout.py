"""The written plots fit: every tick label, title and legend lies inside the figure, bar
labels do not overlap, and every data point lies inside its axes' limits. Checked on the
artists of the Figures the plotting functions return (after writing the PNG)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from approxdse.accelerators.estimate import estimate_energy
from approxdse.dse.report import plot_front
from approxdse.networks.workload import Layer, Workload

TOL = 1.0  # pixels


def _inside(box, outer) -> bool:
    return (box.x0 >= outer.x0 - TOL and box.y0 >= outer.y0 - TOL
            and box.x1 <= outer.x1 + TOL and box.y1 <= outer.y1 + TOL)


def _drawn_ticklabels(ax, axis):
    """The tick labels matplotlib draws (those of ticks inside the view range)."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    getter = ax.get_xticklabels if axis == "x" else ax.get_yticklabels
    k = 0 if axis == "x" else 1
    return [t for t in getter() if t.get_text() and lo - 1e-9 <= t.get_position()[k] <= hi + 1e-9]


def assert_fits(fig) -> None:
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        texts = [t for t in (*_drawn_ticklabels(ax, "x"), *_drawn_ticklabels(ax, "y"), ax.title, ax.xaxis.label,
                             ax.yaxis.label) if t.get_visible() and t.get_text()]
        for t in texts:
            assert _inside(t.get_window_extent(r), page), f"{t.get_text()!r} is cut off by the figure's edge"
        if ax.get_legend() is not None:
            assert _inside(ax.get_legend().get_window_extent(r), page), "the legend is cut off"
        xt = sorted((t.get_window_extent(r) for t in _drawn_ticklabels(ax, "x")), key=lambda b: b.x0)
        for a, b in zip(xt, xt[1:]):
            assert a.x1 <= b.x0 + TOL, "x tick labels overlap"
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for coll in ax.collections:  # scatter points
            pts = np.asarray(coll.get_offsets(), dtype=float)
            pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts
            if len(pts):
                assert (pts[:, 0] >= x0).all() and (pts[:, 0] <= x1).all(), "a point lies outside the x range"
                assert (pts[:, 1] >= y0).all() and (pts[:, 1] <= y1).all(), "a point lies outside the y range"
        for patch in ax.patches:  # bars
            bx = patch.get_bbox()
            assert bx.x0 >= x0 - 1e-9 and bx.x1 <= x1 + 1e-9 and bx.y1 <= y1 + 1e-9, "a bar lies outside the axes"


def _workload(n, stem):
    return Workload("w", tuple(Layer(f"{stem}{i}", C=8, M=8, P=4, Q=4, R=3, S=3) for i in range(n)))


@pytest.mark.parametrize("n, stem", [
    (4, "features.denseblock4.conv"),         # few bars, long names: horizontal labels would collide
    (7, "c"),
    (60, "layer4.1.bottleneck.conv"),          # many bars at the widest figure
    (140, "blocks.0.mlp.fc"),                  # more than fit at 9 pt
])
def test_per_layer_energy_plot_labels_fit(tmp_path, n, stem):
    report = estimate_energy(_workload(n, stem), "eyeriss", "exact")
    fig = report.plot(tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert_fits(fig)


def _front_frame():
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"status": "ok", "feasible": True, "exact": rng.random(n) < 0.2,
                       "energy": rng.uniform(1, 10, n), "accuracy": rng.uniform(0.90, 0.99, n)})
    # The cheapest design is on the front with an accuracy far below the bulk (the 10th percentile).
    df.loc[0, ["energy", "accuracy", "exact"]] = [0.5, 0.30, False]
    df.loc[1, ["energy", "accuracy", "exact"]] = [0.8, 0.55, True]
    front = df.sort_values("energy").iloc[:1]
    front = pd.concat([front, df.loc[[df["accuracy"].idxmax()]]])
    summary = {"name": "t", "energy_unit": "uJ",
               "best_exact": {"key": "b", "energy": 0.8, "accuracy": 0.55},
               "best_saving": {"key": "a", "energy": 0.5, "accuracy": 0.30, "energy_saving": 0.4}}
    return df, front, summary


def test_front_plot_keeps_every_front_design_in_range(tmp_path):
    df, front, summary = _front_frame()
    fig = plot_front(df, front, tmp_path / "front.png", summary)
    assert_fits(fig)
    assert fig.axes[0].get_ylim()[0] <= 100 * front["accuracy"].min()
