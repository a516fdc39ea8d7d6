"""Library plots build stand-alone Figures: calling them leaves the user's matplotlib
backend (a notebook's inline backend, or any other) and pyplot's figure list untouched,
and what they save is written atomically."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from approxdse import multipliers  # noqa: E402
from approxdse.accelerators.estimate import compare_multipliers, estimate_energy  # noqa: E402
from approxdse.core.figures import save_figure  # noqa: E402
from approxdse.dse.report import plot_front, plot_hypervolume  # noqa: E402
from approxdse.emulator.plots import plot_accuracy_vs_energy  # noqa: E402
from approxdse.multipliers.catalog import catalog  # noqa: E402
from approxdse.multipliers.plotting import (  # noqa: E402
    error_energy_scatter,
    error_heatmap,
    error_heatmap_figure,
    save_error_heatmap,
)
from approxdse.predictors.compare import Comparison  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
#: A notebook's backend where it is installed, else another non-Agg one.
USER_BACKEND = ("module://matplotlib_inline.backend_inline" if importlib.util.find_spec("matplotlib_inline")
                else "svg")


@pytest.fixture
def user_backend():
    """The backend a user chose before calling the library; restored afterwards."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend(USER_BACKEND)
    chosen = matplotlib.get_backend()
    open_figures = plt.get_fignums()
    yield chosen
    assert plt.get_fignums() == open_figures, "a library plot registered a pyplot figure"
    plt.switch_backend(before)


def _sweep_table() -> pd.DataFrame:
    return pd.DataFrame({
        "multiplier": ["u8_exact", "u8_trunc_3", "s8_exact"], "family": ["exact", "trunc", "exact"],
        "signed": [False, False, True], "relative_energy": [1.0, 0.4, 1.0],
        "approx_accuracy": [0.95, 0.80, 0.94], "fine_tuned_accuracy": [None, 0.9, None],
        "exact_8bit_accuracy": [0.95, 0.95, 0.94], "float_accuracy": [0.96, 0.96, 0.96],
    })


def _search_table() -> pd.DataFrame:
    return pd.DataFrame({"status": ["ok", "ok", "failed"], "feasible": [True, True, False],
                         "energy": [2.0, 1.0, float("nan")], "accuracy": [0.9, 0.8, float("nan")],
                         "exact": [True, False, False]})


def test_plots_return_figures_and_leave_the_backend_alone(user_backend, tmp_path):
    energy = estimate_energy("lenet5", accelerator="eyeriss", multiplier="exact")
    approx = "u8_drum_4" if "u8_drum_4" in multipliers.names() else 0.5
    comparison = compare_multipliers("lenet5", ["exact", approx], accelerator="eyeriss")
    rng = np.random.default_rng(0)
    reference = rng.uniform(1e6, 1e7, 50)
    predictor = Comparison({"predictor": "summing", "accelerator": "eyeriss", "mape_pct": 1.0, "spearman": 0.99},
                           reference, reference * rng.normal(1.0, 0.02, 50), np.arange(50))
    search = _search_table()
    figures = {
        "sweep.png": plot_accuracy_vs_energy(_sweep_table(), tmp_path / "sweep.png", title="t"),
        "front.png": plot_front(search, search.iloc[1:2], tmp_path / "front.png", {"name": "s"}),
        "hv.png": plot_hypervolume(pd.DataFrame({"generation": [0, 1], "hypervolume": [0.1, 0.2]}),
                                   tmp_path / "hv.png"),
        "energy.png": energy.plot(tmp_path / "energy.png"),
        "cmp.png": comparison.plot(tmp_path / "cmp.png"),
        "predictor.png": predictor.plot(tmp_path / "predictor.png"),
        "heatmap_fig": error_heatmap_figure(multipliers.get("u8_exact")),
        "heatmap_ax": error_heatmap(multipliers.get("u8_exact")).figure,
        "scatter_ax": error_energy_scatter(catalog(signed=False)).figure,
    }
    save_error_heatmap(multipliers.get("u8_exact"), tmp_path / "heat.png")
    assert matplotlib.get_backend() == user_backend
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert fig.axes, name
        if name.endswith(".png"):
            assert (tmp_path / name).read_bytes()[:8] == PNG, name
    assert (tmp_path / "heat.png").read_bytes()[:8] == PNG
    # figures stay usable after the call: saving one again in another format works
    save_figure(figures["front.png"], tmp_path / "front.svg")
    assert b"<svg" in (tmp_path / "front.svg").read_bytes()[:400]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_the_library_has_no_global_backend_switch():
    """No ``matplotlib.use`` and no pyplot in library code (tests and notebooks may)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("approxdse", "multipliers", "networks", "accelerators", "predictors", "emulator", "dse"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            if "matplotlib.use(" in text or "import matplotlib.pyplot" in text or "plt.subplots" in text:
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_save_figure_failure_leaves_no_file(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "plot.nosuchformat")
    assert list(tmp_path.iterdir()) == []
