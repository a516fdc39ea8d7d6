"""``ChannelMix``: one multiplier per output channel of a layer (kernel-wise approximation).

Every output channel of a conv or fully connected layer performs the same
number of multiplications (``N * C/groups * R * S * P * Q``), so a layer whose
channels use different multipliers spends on multiplication the
channel-weighted mean of their energies per op: that mean is the mix's
``relative_energy``, what the energy model and the predictors price.

>>> from approxdse import multipliers
>>> mix = ChannelMix.of(["u8_exact"] * 3 + ["u8_trunc_2"], multipliers.get)
>>> mix.counts()
{'u8_exact': 3, 'u8_trunc_2': 1}
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import Multiplier


@dataclass(frozen=True)
class ChannelMix:
    """The multipliers of a layer's output channels, in channel order."""

    multipliers: tuple[Multiplier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "multipliers", tuple(self.multipliers))
        if not self.multipliers:
            raise ApproxDSEError("a channel mix needs at least one channel")
        bad = [type(m).__name__ for m in self.multipliers if not isinstance(m, Multiplier)]
        if bad:
            raise ApproxDSEError(f"a channel mix holds Multipliers, got {bad[0]}")
        if len({m.signed for m in self.multipliers}) > 1:
            raise ApproxDSEError("the channels of one layer share a number format: do not mix signed and "
                                 "unsigned multipliers in one layer")

    @classmethod
    def of(cls, specs: Sequence, resolve: Callable[[object], Multiplier]) -> "ChannelMix":
        """A mix from names or Multipliers (``resolve`` turns a name into a Multiplier)."""
        return cls(tuple(s if isinstance(s, Multiplier) else resolve(s) for s in specs))

    @property
    def channels(self) -> int:
        return len(self.multipliers)

    @property
    def signed(self) -> bool:
        return self.multipliers[0].signed

    def counts(self) -> dict[str, int]:
        """Channels per multiplier name (first-seen order)."""
        return dict(Counter(m.name for m in self.multipliers))

    @property
    def name(self) -> str:
        """``u8_exact`` for a uniform mix, else ``mix(u8_exact:12,u8_trunc_2:4)``."""
        counts = self.counts()
        if len(counts) == 1:
            return next(iter(counts))
        return "mix(" + ",".join(f"{n}:{c}" for n, c in counts.items()) + ")"

    @property
    def relative_energy(self) -> float | None:
        """The channel-weighted mean energy per multiplication (None if a multiplier has no figure)."""
        values = [m.relative_energy for m in self.multipliers]
        if any(v is None for v in values):
            return None
        return float(sum(values) / len(values))

    def distinct(self) -> dict[str, list[int]]:
        """Multiplier name -> the channel indices that use it."""
        out: dict[str, list[int]] = {}
        for i, m in enumerate(self.multipliers):
            out.setdefault(m.name, []).append(i)
        return out
