"""Accelergy-style energy tables: energy per action of each component.

An *energy reference table* (ERT, Accelergy's term) gives every storage level
its energy per **vector** access (one access moves ``width`` bits: a block of
``width / datawidth`` words) for the actions ``read``, ``write`` (a fill from
the parent level) and ``update`` (a partial sum written back by a child), and
the MAC its energy per compute, split into the multiplier and the adder.

Built-in architectures carry the ERT values Timeloop/Accelergy produced for
the same designs (cited in their YAML files). User architectures may leave a
component's ``energy`` out; it is then estimated here from primitives:

* multiplier and adder: Accelergy's library plug-in tables (Aladdin, a 32-bit
  adder 0.21 pJ and a 32x32 multiplier 12.68 pJ per operation at a 1 ns cycle;
  source: Accelergy-Project/accelergy-library-plug-in, commit e649eb1,
  ``aladdin_adder.csv`` / ``aladdin_multiplier.csv``), scaled linearly in the
  width (the multiplier in ``width_a * width_b``), as the plug-in does;
* register files (``regfile``): the exercises' ``smartbuffer_RF`` compound
  component (Accelergy-Project/timeloop-accelergy-exercises, commit 2d55108,
  ``_components/smartbuffer_RF.yaml`` + ``regfile.yaml``): a register array of
  at least 32 bits x 64 entries built from Aladdin registers (0.009 pJ per bit
  read) and one comparator per entry (0.02947 pJ), scaled by
  ``width/memory_width * (depth/memory_depth)**0.78``, plus an address
  generator (the original's NeuroSim adder, not tabulated publicly, is replaced
  by an Aladdin adder of ``log2(depth)`` bits);
* SRAM: CACTI's figures are not tabulated, so an SRAM is scaled from the
  CACTI-derived anchor (a rough estimate: the Simba global buffer, 2048 x 256 bit
  at 45 nm, comes out 27 % low for reads and 52 % low for writes) of the current Eyeriss global buffer (16384 x 64 bit,
  32 banks, 65 nm: read 59.4555 pJ, write 49.7147 pJ per 64-bit access) by
  ``width`` linearly and ``depth**0.78`` (the library plug-in's depth rule);
* DRAM: pJ per bit by type (Accelergy's CACTI plug-in table: LPDDR4 8 pJ/bit,
  DDR3 70 pJ/bit, GDDR5 14 pJ/bit, HBM2 3.9 pJ/bit).

Technology scaling uses Stillmaker & Baas (Integration 2017) energy factors as
Accelergy's library plug-in applies them. The plug-in scales its tables from a
40 nm base (so a "45 nm" table entry becomes x1.2652 at 45 nm): we reproduce
that convention, which is what makes the exercises' MAC 1.2440 + 0.1648 pJ at
65 nm and 1.0027 + 0.1329 pJ at 45 nm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from approxdse.core.errors import ApproxDSEError

#: Energy scale factor from the 40 nm table base to each node (Stillmaker-Baas,
#: as applied by Accelergy's library plug-in: 40->45 nm x1.2652, 40->65 nm
#: x1.5697, 45->32 nm x0.6593).
TECH_SCALE_FROM_40NM: dict[int, float] = {
    32: 1.2652 * 0.6593,
    40: 1.0,
    45: 1.2652,
    65: 1.5697,
}

#: Aladdin primitives (library plug-in e649eb1), pJ per action at the 40 nm base, 1 ns cycle.
ADDER_32BIT_PJ = 0.21
MULTIPLIER_32X32_PJ = 12.68
REGISTER_READ_PER_BIT_PJ = 0.009
REGISTER_WRITE_PER_BIT_PJ = 0.0
COMPARATOR_32BIT_PJ = 0.02947

#: DRAM energy per bit by type (Accelergy CACTI plug-in table).
DRAM_PJ_PER_BIT: dict[str, float] = {"LPDDR4": 8.0, "DDR3": 70.0, "GDDR5": 14.0, "HBM2": 3.9}

#: SRAM anchor: the current Eyeriss shared_glb (CACTI via Accelergy, 65 nm).
SRAM_ANCHOR = {"depth": 16384, "width": 64, "node": 65, "read": 59.4555, "write": 49.7147}
#: Depth exponent of the library plug-in (energy ~ depth**0.78).
DEPTH_EXPONENT = 0.78


@dataclass(frozen=True)
class ActionEnergy:
    """Energy (pJ) per vector access of one storage component."""

    read: float
    write: float
    update: float

    def as_dict(self) -> dict[str, float]:
        return {"read": self.read, "write": self.write, "update": self.update}


@dataclass(frozen=True)
class ComputeEnergy:
    """Energy (pJ) per MAC of the exact design, split as Accelergy's ``intmac`` does."""

    multiplier: float
    adder: float

    @property
    def mac(self) -> float:
        return self.multiplier + self.adder


def parse_technology(technology: str | int | float) -> int:
    """``"65nm"`` / ``65`` -> 65; raises ApproxDSEError for an unsupported node."""
    text = str(technology).strip().lower().removesuffix("nm").strip()
    try:
        node = int(float(text))
    except ValueError:
        raise ApproxDSEError(f"technology {technology!r} is not a node like '45nm'") from None
    if node not in TECH_SCALE_FROM_40NM:
        supported = ", ".join(f"{n}nm" for n in sorted(TECH_SCALE_FROM_40NM))
        raise ApproxDSEError(f"technology {technology!r} has no scaling factor; supported: {supported}")
    return node


def tech_scale(node_from: int, node_to: int) -> float:
    """Energy factor from one node to another (Stillmaker-Baas)."""
    return TECH_SCALE_FROM_40NM[node_to] / TECH_SCALE_FROM_40NM[node_from]


def multiplier_energy(width_a: int, width_b: int, node: int) -> float:
    """pJ per multiplication of an exact ``width_a x width_b`` integer multiplier."""
    return MULTIPLIER_32X32_PJ * (width_a * width_b) / (32 * 32) * TECH_SCALE_FROM_40NM[node]


def adder_energy(width: int, node: int) -> float:
    """pJ per addition of a ``width``-bit integer adder."""
    return ADDER_32BIT_PJ * width / 32 * TECH_SCALE_FROM_40NM[node]


def mac_energy(multiplier_width: int, adder_width: int, node: int) -> ComputeEnergy:
    return ComputeEnergy(multiplier_energy(multiplier_width, multiplier_width, node), adder_energy(adder_width, node))


def regfile_energy(depth: int, width: int, node: int) -> ActionEnergy:
    """Estimated energy per access of a ``smartbuffer_RF``-style register file.

    Register array (``max(32, width)`` bits x ``max(64, depth)`` entries: the bits
    read plus one 32-bit-table comparator per entry), scaled by
    ``width/memory_width * (depth/memory_depth)**0.78``, plus one address
    generator: an adder of ``ceil(log2(depth))`` bits. Against the ERTs of the
    exercises' designs this is within 1.5 % for reads of every Eyeriss and Simba
    register file and within 5 % for writes.
    """
    mem_width, mem_depth = max(32, width), max(64, depth)
    comparators = mem_depth * COMPARATOR_32BIT_PJ
    scale = (width / mem_width) * (depth / mem_depth) ** DEPTH_EXPONENT * TECH_SCALE_FROM_40NM[node]
    address = adder_energy(max(1, math.ceil(math.log2(depth))) if depth > 1 else 1, node)
    read = (mem_width * REGISTER_READ_PER_BIT_PJ + comparators) * scale + address
    write = (mem_width * REGISTER_WRITE_PER_BIT_PJ + comparators) * scale + address
    return ActionEnergy(read, write, write)


def sram_energy(depth: int, width: int, node: int) -> ActionEnergy:
    """Estimated energy per access of an SRAM, scaled from the CACTI anchor."""
    a = SRAM_ANCHOR
    scale = (width / a["width"]) * (depth / a["depth"]) ** DEPTH_EXPONENT * tech_scale(a["node"], node)
    return ActionEnergy(a["read"] * scale, a["write"] * scale, a["write"] * scale)


def dram_energy(dram_type: str, width: int) -> ActionEnergy:
    """Energy per ``width``-bit DRAM access."""
    key = str(dram_type).upper()
    if key not in DRAM_PJ_PER_BIT:
        raise ApproxDSEError(f"unknown DRAM type {dram_type!r}; known: {', '.join(DRAM_PJ_PER_BIT)}")
    e = DRAM_PJ_PER_BIT[key] * width
    return ActionEnergy(e, e, e)


def estimate_storage_energy(cls: str, depth: int | None, width: int, node: int, dram_type: str = "LPDDR4") -> ActionEnergy:
    """Primitive-based estimate for a storage component of class DRAM, SRAM or regfile."""
    if cls == "DRAM":
        return dram_energy(dram_type, width)
    if depth is None:
        raise ApproxDSEError(f"a {cls} needs a depth to estimate its energy")
    if cls == "SRAM":
        return sram_energy(depth, width, node)
    if cls == "regfile":
        return regfile_energy(depth, width, node)
    raise ApproxDSEError(f"unknown storage class {cls!r}; known: DRAM, SRAM, regfile")
