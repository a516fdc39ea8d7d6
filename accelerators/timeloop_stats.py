"""Readers for Timeloop outputs: ``stats.txt`` and problem instances, used to validate the model.

:func:`read_stats` returns, per storage level and tensor, the per-instance
scalar reads / fills / updates, utilised instances and energy, plus the
per-component fJ/MAC summary and cycles.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer


@dataclass
class TimeloopStats:
    """The parts of a Timeloop ``stats.txt`` the validation compares."""

    levels: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    level_energy_pJ: dict[str, float] = field(default_factory=dict)
    fj_per_compute: dict[str, float] = field(default_factory=dict)
    computes: int = 0
    cycles: int = 0
    utilization: float = 0.0
    energy_uJ: float = 0.0

    def component_energy_pJ(self, name: str) -> float:
        """Energy of a component (pJ) from the fJ/Compute summary."""
        return self.fj_per_compute[name] * self.computes / 1000.0


def read_stats(path: str | Path) -> TimeloopStats:
    text = Path(path).read_text()
    st = TimeloopStats()
    body = text.split("\nNetworks")[0]
    for chunk in re.split(r"\nLevel \d+\n-+\n", body)[1:]:
        m = re.search(r"=== (\S+) ===", chunk)
        if not m:
            continue
        name = m.group(1)
        for ds in re.finditer(r"(?m)^    (Weights|Inputs|Outputs):\n((?:        .*\n?)+)", chunk):
            vals = {}
            for key, label in (("reads", r"Scalar reads \(per-instance\)"), ("fills", r"Scalar fills \(per-instance\)"),
                               ("updates", r"Scalar updates \(per-instance\)"),
                               ("instances", r"Utilized instances \(max\)"), ("energy", r"Energy \(total\)"),
                               ("capacity", r"Utilized capacity")):
                mm = re.search(label + r"\s*:\s*([\d.eE+-]+)", ds.group(2))
                if mm:
                    vals[key] = float(mm.group(1))
            st.levels[(name, ds.group(1))] = vals
            st.level_energy_pJ[name] = st.level_energy_pJ.get(name, 0.0) + vals.get("energy", 0.0)
    summ = text.split("Summary Stats")[-1]
    for key, attr, cast in (("Computes", "computes", int), ("MACCs", "computes", int), ("Cycles", "cycles", int),
                            ("Utilization", "utilization", float)):
        mm = re.search(rf"\n{key}\s*[:=]\s*([\d.eE+-]+)", summ)
        if mm:
            setattr(st, attr, cast(float(mm.group(1))))
    mm = re.search(r"Energy:\s*([\d.eE+-]+) uJ", summ)
    if mm:
        st.energy_uJ = float(mm.group(1))
    # Timeloop v3 prints fJ/Compute; older versions pJ/MACC
    unit, scale = ("fJ/Compute", 1.0) if "fJ/Compute" in summ else ("pJ/MACC", 1000.0)
    for line in summ.split(unit)[-1].splitlines():
        mm = re.match(r"\s+(\S.*?)\s+=\s+([\d.eE+-]+)\s*$", line)
        if mm and "<==>" not in mm.group(1):
            st.fj_per_compute[mm.group(1).strip()] = float(mm.group(2)) * scale
    if not st.levels:
        raise ApproxDSEError(f"{path}: no storage levels found; is it a Timeloop stats.txt?")
    return st


def read_problem_instance(path: str | Path) -> dict[str, int]:
    """The ``problem.instance`` mapping of a Timeloop problem / parsed-processed-input file."""
    doc = yaml.safe_load(Path(path).read_text())
    inst = doc.get("problem", {}).get("instance")
    if inst is None:
        raise ApproxDSEError(f"{path}: no problem.instance")
    return {k: int(v) for k, v in inst.items() if isinstance(v, (int, float))}


def layer_from_problem(path: str | Path, name: str | None = None):
    """A :class:`~approxdse.networks.workload.Layer` from a Timeloop ``problem.instance`` (CNN-layer shape)."""
    inst = read_problem_instance(path)
    return Layer(name or Path(path).stem, C=inst["C"], M=inst["M"], P=inst["P"], Q=inst["Q"], R=inst["R"],
                 S=inst["S"], N=inst.get("N", 1), stride_h=inst.get("Hstride", 1), stride_w=inst.get("Wstride", 1),
                 dilation_h=inst.get("Hdilation", 1), dilation_w=inst.get("Wdilation", 1))


def read_ert_summary(path: str | Path) -> dict[str, dict[str, float]]:
    """``{component: {action: pJ}}`` from an Accelergy ``ERT_summary.yaml`` (v0.4, ``energy`` per action).

    Component names drop their hierarchy and instance range
    (``system_top_level.shared_glb[1..1]`` -> ``shared_glb``).
    """
    doc = yaml.safe_load(Path(path).read_text())
    out: dict[str, dict[str, float]] = {}
    for entry in doc.get("ERT_summary", {}).get("table_summary", []):
        name = re.sub(r"\[[^\]]*\]$", "", str(entry["name"])).split(".")[-1]
        acts = {}
        for a in entry.get("actions", []):
            e = a.get("energy", a.get("max_energy"))
            if e is not None:
                acts[str(a["name"])] = float(e)
        out[name] = acts
    if not out:
        raise ApproxDSEError(f"{path}: no ERT_summary table")
    return out
