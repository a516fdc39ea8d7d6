"""Energy reports: per-layer and per-component reference energy of a network.

An :class:`EnergyReport` holds one :class:`LayerReport` per layer (energy in pJ by
component, MACs, cycles, utilisation, the mapping as a readable loop nest) and
gives the network totals, a pandas DataFrame, a plain-text table, JSON, CSV and
a stacked-bar breakdown plot (a :class:`matplotlib.figure.Figure`). :class:`MultiplierComparison` puts several reports
of the same network and accelerator side by side (one per multiplier).

Components are whatever the energy model reports (for the built-in designs:
``DRAM``, the global buffer, the PE buffers, the network-on-chip if modelled,
``multiplier`` and ``adder``); their order is kept as the model gives it.
pandas and matplotlib are imported only by the methods that need them.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from approxdse.core.atomic_files import atomic_write_bytes, atomic_write_text
from approxdse.core.figures import new_figure, save_figure
from approxdse.networks.workload import Layer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Per-layer keys of the JSON report (a public interface: keep).
JSON_LAYER_KEYS = ("name", "C", "M", "P", "Q", "R", "S", "N", "stride", "groups", "macs", "energy_pJ",
                   "components", "cycles", "utilization", "multiplier", "relative_energy", "mapping")


def format_count(n: float) -> str:
    """``1814073344`` -> ``1.81 G``; ``416520`` -> ``416.5 k``."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}" if n / scale < 100 else f"{n / scale:,.1f} {unit}"
    return f"{n:g} "


def write_atomic(path: str | Path, text: str | None = None, data: bytes | None = None) -> Path:
    """Write ``text`` (or bytes ``data``) to ``path`` atomically (see :mod:`approxdse.core.atomic_files`)."""
    return atomic_write_bytes(path, data) if data is not None else atomic_write_text(path, text or "")


@dataclass(frozen=True)
class LayerReport:
    """The reference energy of one layer."""

    layer: Layer
    energy_pJ: float
    components: dict[str, float]
    cycles: int
    utilization: float
    multiplier: str
    relative_energy: float
    mapping: str = ""  # the mapping as a loop nest (``Mapping.to_text()``)

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def macs(self) -> int:
        return self.layer.macs

    @property
    def pJ_per_mac(self) -> float:
        return self.energy_pJ / self.macs

    def to_dict(self, mapping: bool = True) -> dict:
        layer = self.layer
        d = {
            "name": layer.name, "C": layer.C, "M": layer.M, "P": layer.P, "Q": layer.Q, "R": layer.R,
            "S": layer.S, "N": layer.N, "stride": layer.stride, "groups": layer.groups, "kind": layer.kind,
            "macs": layer.macs, "energy_pJ": self.energy_pJ, "components": dict(self.components),
            "cycles": int(self.cycles), "utilization": self.utilization, "multiplier": self.multiplier,
            "relative_energy": self.relative_energy,
        }
        if layer.stride_w != layer.stride_h:
            d["stride_w"] = layer.stride_w
        if mapping:
            d["mapping"] = self.mapping
        return d


@dataclass(frozen=True)
class EnergyReport:
    """The reference energy of a network on an accelerator with a given multiplier."""

    network: str
    accelerator: str
    multiplier: str  # the default multiplier (layers may override: see ``LayerReport.multiplier``)
    objective: str
    layers: tuple[LayerReport, ...]
    input_shape: tuple[int, ...] | None = None
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)  # e.g. mapper statistics

    # ---------------------------------------------------------------- totals
    @property
    def energy_pJ(self) -> float:
        return float(sum(r.energy_pJ for r in self.layers))

    @property
    def energy_uJ(self) -> float:
        return self.energy_pJ * 1e-6

    @property
    def macs(self) -> int:
        return int(sum(r.macs for r in self.layers))

    @property
    def cycles(self) -> int:
        """Layers run one after another: the sum of their cycles."""
        return int(sum(r.cycles for r in self.layers))

    @property
    def utilization(self) -> float:
        """Cycle-weighted mean utilisation of the MAC array."""
        cycles = self.cycles
        if cycles == 0:
            return 0.0
        return float(sum(r.utilization * r.cycles for r in self.layers) / cycles)

    @property
    def pJ_per_mac(self) -> float:
        return self.energy_pJ / self.macs

    @property
    def component_names(self) -> list[str]:
        names: list[str] = []
        for r in self.layers:
            for c in r.components:
                if c not in names:
                    names.append(c)
        return names

    @property
    def components(self) -> dict[str, float]:
        """Network energy per component (pJ)."""
        return {c: float(sum(r.components.get(c, 0.0) for r in self.layers)) for c in self.component_names}

    @property
    def multipliers(self) -> list[str]:
        """The multipliers used, in order of first use."""
        seen: list[str] = []
        for r in self.layers:
            if r.multiplier not in seen:
                seen.append(r.multiplier)
        return seen

    def layer(self, name: str) -> LayerReport:
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(name)

    def totals(self) -> dict:
        return {"energy_pJ": self.energy_pJ, "energy_uJ": self.energy_uJ, "macs": self.macs,
                "cycles": self.cycles, "utilization": self.utilization, "pJ_per_mac": self.pJ_per_mac,
                "components": self.components}

    # ---------------------------------------------------------------- exports
    def to_dict(self, mapping: bool = True) -> dict:
        return {
            "network": self.network, "accelerator": self.accelerator, "multiplier": self.multiplier,
            "objective": self.objective,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "totals": self.totals(),
            "layers": [r.to_dict(mapping=mapping) for r in self.layers],
            "wall_s": self.wall_s,
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_json(self, path: str | Path | None = None, *, mapping: bool = True, indent: int | None = 1) -> str:
        """The report as JSON (``totals`` and one object per layer); written to ``path`` if given."""
        text = json.dumps(self.to_dict(mapping=mapping), indent=indent)
        if path is not None:
            write_atomic(path, text)
        return text

    def _csv_rows(self) -> tuple[list[str], list[list]]:
        comps = self.component_names
        header = ["name", "C", "M", "P", "Q", "R", "S", "N", "stride", "groups", "macs", "multiplier",
                  "relative_energy", "energy_pJ", *[f"{c}_pJ" for c in comps], "cycles", "utilization"]
        rows = []
        for r in self.layers:
            L = r.layer
            rows.append([L.name, L.C, L.M, L.P, L.Q, L.R, L.S, L.N, L.stride, L.groups, L.macs, r.multiplier,
                         r.relative_energy, r.energy_pJ, *[r.components.get(c, 0.0) for c in comps],
                         r.cycles, r.utilization])
        total = self.components
        rows.append(["TOTAL", "", "", "", "", "", "", "", "", "", self.macs, self.multiplier, "",
                     self.energy_pJ, *[total[c] for c in comps], self.cycles, self.utilization])
        return header, rows

    def to_csv(self, path: str | Path | None = None) -> str:
        """One row per layer (components in ``<component>_pJ`` columns) and a ``TOTAL`` row."""
        header, rows = self._csv_rows()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        text = buf.getvalue()
        if path is not None:
            write_atomic(path, text)
        return text

    def to_dataframe(self):
        """One row per layer: shape, MACs, energy (pJ), one column per component, cycles, utilisation."""
        import pandas as pd

        header, rows = self._csv_rows()
        df = pd.DataFrame(rows[:-1], columns=header)
        return df.set_index("name")

    def by_component(self):
        """Network energy per component: a DataFrame with ``energy_pJ``, ``share`` and ``pJ_per_mac``."""
        import pandas as pd

        comps = self.components
        total = self.energy_pJ
        df = pd.DataFrame({"energy_pJ": comps})
        df["share"] = df["energy_pJ"] / total if total else 0.0
        df["pJ_per_mac"] = df["energy_pJ"] / self.macs
        df.index.name = "component"
        return df

    # ---------------------------------------------------------------- text
    def header(self) -> str:
        mults = self.multipliers
        mult = f"multiplier {mults[0]}" if len(mults) == 1 else f"{len(mults)} multipliers ({', '.join(mults)})"
        rel = {r.multiplier: r.relative_energy for r in self.layers}
        rel_text = f" (relative energy {rel[mults[0]]:.3f})" if len(mults) == 1 else ""
        shape = f" input {'x'.join(map(str, self.input_shape))}" if self.input_shape else ""
        return (f"{self.network}{shape} on {self.accelerator}, {mult}{rel_text}, "
                f"mapper objective {self.objective}")

    def component_table(self) -> str:
        """Per-component totals as aligned text."""
        comps = self.components
        total = self.energy_pJ
        width = max([len(c) for c in comps] + [9])
        lines = [f"{'component':<{width}}  {'energy (uJ)':>12}  {'share':>7}  {'pJ/MAC':>8}"]
        for c, e in comps.items():
            lines.append(f"{c:<{width}}  {e * 1e-6:12.3f}  {e / total * 100 if total else 0:6.1f}%  "
                         f"{e / self.macs:8.4f}")
        lines.append(f"{'total':<{width}}  {total * 1e-6:12.3f}  {100.0:6.1f}%  {self.pJ_per_mac:8.4f}")
        return "\n".join(lines)

    def layer_table(self) -> str:
        """One line per layer: shape, MACs, energy, pJ/MAC, cycles, utilisation, main components."""
        comps = self.component_names
        short = {c: c[:14] for c in comps}
        nw = max([len(r.name) for r in self.layers] + [5])
        head = (f"{'layer':<{nw}}  {'shape':<30} {'MMACs':>9} {'uJ':>10} {'pJ/MAC':>7} {'cycles':>11} {'util':>5}"
                + "".join(f" {short[c]:>{max(10, len(short[c]))}}" for c in comps))
        lines = [head]
        for r in self.layers:
            mult = "" if len(self.multipliers) == 1 else f"  [{r.multiplier}]"
            lines.append(
                f"{r.name:<{nw}}  {r.layer.describe():<30} {r.macs / 1e6:9.2f} {r.energy_pJ * 1e-6:10.3f} "
                f"{r.pJ_per_mac:7.3f} {r.cycles:11d} {r.utilization:5.2f}"
                + "".join(f" {r.components.get(c, 0.0) * 1e-6:{max(10, len(short[c]))}.3f}" for c in comps)
                + mult)
        return "\n".join(lines) + "\n(component columns in uJ)"

    def table(self, per_layer: bool = False) -> str:
        """The report as text: header, per-layer lines if asked, per-component totals, summary line."""
        parts = [self.header()]
        if per_layer:
            parts += ["", self.layer_table()]
        parts += ["", self.component_table(), "",
                  f"{len(self.layers)} layers, {format_count(self.macs)}MACs, {self.energy_uJ:,.2f} uJ, "
                  f"{self.cycles:,} cycles, utilisation {self.utilization:.2f}, computed in {self.wall_s:.2f} s"]
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.table()

    # ---------------------------------------------------------------- plot
    def plot(self, path: str | Path | None = None, *, title: str | None = None) -> "Figure":
        """A stacked-bar Figure: energy per layer, stacked by component (uJ); also written
        to ``path`` (PNG, atomically) when given."""
        labels = [r.name for r in self.layers]
        comps = self.component_names
        values = {c: [r.components.get(c, 0.0) * 1e-6 for r in self.layers] for c in comps}
        return _stacked_bars(path, labels, comps, values, title or self.header(), ylabel="energy (uJ)")


def _stacked_bars(path, labels, comps, values, title, ylabel) -> "Figure":
    """A stacked-bar Figure (one bar per label, stacked by component); written to ``path``
    atomically as PNG when ``path`` is given."""
    from matplotlib import colormaps

    width = max(6.5, min(24.0, 0.35 * len(labels) + 4.5))
    fig = new_figure((width, 4.5), dpi=110)
    ax = fig.subplots()
    bottom = [0.0] * len(labels)
    cmap = colormaps["tab10" if len(comps) <= 10 else "tab20"]
    for i, c in enumerate(comps):
        ax.bar(range(len(labels)), values[c], bottom=bottom, label=c, color=cmap(i % cmap.N))
        bottom = [b + v for b, v in zip(bottom, values[c])]
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90 if len(labels) > 6 else 0, fontsize=7 if len(labels) > 20 else 9)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, format="png")
    return fig


@dataclass(frozen=True)
class MultiplierComparison:
    """Reports of one network and accelerator with different multipliers."""

    reports: tuple[EnergyReport, ...]

    @property
    def baseline(self) -> EnergyReport:
        """The first report (savings are relative to it)."""
        return self.reports[0]

    def rows(self) -> list[dict]:
        base = self.baseline.energy_pJ
        out = []
        for rep in self.reports:
            comps = rep.components
            rel = rep.layers[0].relative_energy if len(rep.multipliers) == 1 else None
            out.append({"multiplier": rep.multiplier, "relative_energy": rel, "energy_pJ": rep.energy_pJ,
                        "multiplier_pJ": comps.get("multiplier", 0.0), "pJ_per_mac": rep.pJ_per_mac,
                        "saving_vs_first": 1.0 - rep.energy_pJ / base if base else 0.0,
                        "components": comps})
        return out

    def to_dataframe(self):
        import pandas as pd

        rows = [{k: v for k, v in r.items() if k != "components"} for r in self.rows()]
        return pd.DataFrame(rows).set_index("multiplier")

    def to_dict(self, mapping: bool = False) -> dict:
        return {"network": self.baseline.network, "accelerator": self.baseline.accelerator,
                "objective": self.baseline.objective, "comparison": self.rows(),
                "reports": [r.to_dict(mapping=mapping) for r in self.reports]}

    def to_json(self, path: str | Path | None = None, *, mapping: bool = False) -> str:
        text = json.dumps(self.to_dict(mapping=mapping), indent=1)
        if path is not None:
            write_atomic(path, text)
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        rows = self.rows()
        comps: list[str] = []
        for r in rows:
            comps += [c for c in r["components"] if c not in comps]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["multiplier", "relative_energy", "energy_pJ", *[f"{c}_pJ" for c in comps],
                         "pJ_per_mac", "saving_vs_first"])
        for r in rows:
            writer.writerow([r["multiplier"], r["relative_energy"], r["energy_pJ"],
                             *[r["components"].get(c, 0.0) for c in comps], r["pJ_per_mac"], r["saving_vs_first"]])
        text = buf.getvalue()
        if path is not None:
            write_atomic(path, text)
        return text

    def table(self) -> str:
        b = self.baseline
        lines = [f"{b.network} on {b.accelerator}, mapper objective {b.objective}: {format_count(b.macs)}MACs", ""]
        w = max(len(r.multiplier) for r in self.reports)
        w = max(w, 10)
        lines.append(f"{'multiplier':<{w}}  {'rel. energy':>11}  {'total (uJ)':>11}  {'multiplier (uJ)':>15}  "
                     f"{'pJ/MAC':>7}  {'saving':>7}")
        for r in self.rows():
            rel = f"{r['relative_energy']:.3f}" if r["relative_energy"] is not None else "mixed"
            lines.append(f"{r['multiplier']:<{w}}  {rel:>11}  {r['energy_pJ'] * 1e-6:11.3f}  "
                         f"{r['multiplier_pJ'] * 1e-6:15.3f}  {r['pJ_per_mac']:7.4f}  "
                         f"{r['saving_vs_first'] * 100:6.2f}%")
        lines.append(f"(saving relative to {b.multiplier})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self, path: str | Path | None = None, *, title: str | None = None) -> "Figure":
        """A stacked-bar Figure: network energy per multiplier, stacked by component (uJ);
        also written to ``path`` (PNG, atomically) when given."""
        labels = [r.multiplier for r in self.reports]
        comps: list[str] = []
        for r in self.reports:
            comps += [c for c in r.component_names if c not in comps]
        values = {c: [r.components.get(c, 0.0) * 1e-6 for r in self.reports] for c in comps}
        b = self.baseline
        return _stacked_bars(path, labels, comps, values, title or f"{b.network} on {b.accelerator}",
                             ylabel="energy (uJ)")
