"""The summing predictor: energy from the sum of the energy of all multiplications.

Two forms, both fitted per accelerator by least squares on a reference dataset:

* **free** (any network): ``E = a + b * X`` with ``X = sum over layers of
  MACs_l x relative_energy(m_l)`` (pJ; relative energy 1 = exact multiplier).
  This is the paper's summing predictor; it follows the multiplier exactly on
  a fixed network and only roughly across networks.
* **anchored** (the network's exact-multiplier reference energy ``E0`` known):
  ``E = E0 + c * sum over layers of MACs_l x (relative_energy(m_l) - 1)``, where
  ``c`` is the energy of one exact multiplication on this accelerator (pJ),
  fitted on the differences between each network's multipliers and its exact
  row. Exact whenever the reference is linear in the multiplier's energy per op
  and keeps its mapping, which is how approxdse's reference works.

``predict`` uses the anchored form for a network whose exact energy it knows
(``anchors=`` argument, or the training networks, stored by shape key in the
model) and the free form otherwise; ``form="free"``/``"anchored"`` forces one.

>>> # p = SummingPredictor().fit("data/", accelerator="eyeriss")
>>> # p.predict("resnet20", ["u8_exact", "u8_bam_h2_v4"])
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.resolve import workload_key
from approxdse.predictors.base import Assignment, EnergyPredictor, NetworkLike, Query, Timer, normalise
from approxdse.predictors.features import per_layer_relative_energy, relative_energy
from approxdse.predictors.reference import EXACT

FORMS = ("auto", "free", "anchored")


class SummingPredictor(EnergyPredictor):
    """``E = a + b * sum(MACs x relative energy)``, or exact-anchored (see the module docstring).

    Parameters
    ----------
    form: ``auto`` (anchored when the exact energy is known), ``free`` or ``anchored``.
    store_anchors: keep the training networks' exact energies in the model.
    """

    kind = "summing"

    def __init__(self, form: str = "auto", store_anchors: bool = True, accelerator: str | None = None) -> None:
        super().__init__(accelerator)
        if form not in FORMS:
            raise ApproxDSEError(f"summing predictor form must be one of {', '.join(FORMS)}, got {form!r}")
        self.form = form
        self.store_anchors = bool(store_anchors)
        self.a: float | None = None
        self.b: float | None = None
        self.c: float | None = None
        self.anchors: dict[str, float] = {}

    # ------------------------------------------------------------------ fit
    def fit(self, dataset: Any, accelerator: str | None = None) -> "SummingPredictor":
        """Fit ``a``, ``b`` (all rows) and ``c`` (differences to each network's exact row)."""
        with Timer() as t:
            ds, acc = self._dataset_for(dataset, accelerator)
            self.accelerator = acc
            self._record_reference(ds)
            e = ds.energy
            macs = e["network"].map(lambda n: ds.workload(n).macs).to_numpy(dtype=np.float64)
            rel = e["multiplier"].map(relative_energy).to_numpy(dtype=np.float64)
            y = e["total_energy_pJ"].to_numpy(dtype=np.float64)
            x = macs * rel
            if len(y) >= 2 and np.ptp(x) > 0:
                self.b, self.a = (float(v) for v in np.polyfit(x, y, 1))
            else:  # one row, or all X equal: a proportional model
                self.a, self.b = 0.0, float(np.sum(x * y) / np.sum(x * x))
            exact = dict(zip(e.loc[e["multiplier"] == EXACT, "network"], e.loc[e["multiplier"] == EXACT, "total_energy_pJ"]))
            e0 = e["network"].map(exact).to_numpy(dtype=np.float64)
            dx = macs * (rel - 1.0)
            ok = np.isfinite(e0) & (dx != 0)
            if ok.any():
                self.c = float(np.sum(dx[ok] * (y[ok] - e0[ok])) / np.sum(dx[ok] ** 2))
            else:
                self.c = None
            self.anchors = {workload_key(ds.workload(n)): float(v) for n, v in exact.items()} if self.store_anchors else {}
        self.fit_seconds = t.seconds
        return self

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        networks: NetworkLike | Sequence[NetworkLike],
        multipliers: Assignment | Sequence[Assignment] = "u8_exact",
        accelerator: str | None = None,
        anchors: Mapping[str, float] | Sequence[float] | None = None,
    ) -> np.ndarray:
        """Energies (pJ). ``anchors``: exact-multiplier energies by network name/shape key, or one per network."""
        acc = self._check_accelerator(accelerator)
        queries = normalise(networks, multipliers)
        if anchors is not None and not isinstance(anchors, Mapping):
            anchors = list(anchors)
            if len(anchors) != len(queries):
                raise ApproxDSEError(f"got {len(anchors)} anchors for {len(queries)} predictions")
        return self._predict_queries(queries, acc, anchors)

    def _anchor(self, q: Query, i: int, anchors: Any) -> float | None:
        if isinstance(anchors, list):
            return anchors[i]
        key = workload_key(q.workload)
        if isinstance(anchors, Mapping):
            for k in (q.workload.name, key):
                if k in anchors:
                    return float(anchors[k])
        return self.anchors.get(key)

    def _predict_queries(self, queries: Sequence[Query], accelerator: str, anchors: Any = None) -> np.ndarray:
        if self.b is None:
            raise ApproxDSEError("this summing predictor is not fitted yet; call fit() or load a model")
        out = np.empty(len(queries))
        for i, q in enumerate(queries):
            macs = q.layer_macs
            anchor = None if self.form == "free" else self._anchor(q, i, anchors)
            if anchor is not None and self.c is not None:
                out[i] = anchor + self.c * float(macs @ (q.rel - 1.0))
            elif self.form == "anchored":
                raise ApproxDSEError(
                    f"no exact-multiplier energy is known for network {q.workload.name!r}; pass anchors= or use form='auto'"
                )
            else:
                out[i] = self.a + self.b * float(macs @ q.rel)
        return out

    def predict_dataset(self, dataset) -> np.ndarray:
        """Rows of a dataset: anchored on the dataset's own exact rows (in auto/anchored form)."""
        e = dataset.energy
        exact = dict(zip(e.loc[e["multiplier"] == EXACT, "network"], e.loc[e["multiplier"] == EXACT, "total_energy_pJ"]))
        return self.predict_rows(dataset, anchors=exact)

    def predict_rows(self, dataset, anchors: Mapping[str, float] | None = None) -> np.ndarray:
        """Predictions for a dataset's rows; ``anchors`` maps network name -> exact energy."""
        self.check_dataset(dataset)
        e = dataset.energy
        queries = [Query(dataset.workload(n), per_layer_relative_energy(dataset.workload(n), m), m)
                   for n, m in zip(e["network"], e["multiplier"])]
        row_anchors = None
        if anchors is not None and self.form != "free":
            row_anchors = [anchors.get(n) for n in e["network"]]
            if any(a is None for a in row_anchors):
                row_anchors = [a if a is not None else self._anchor(q, i, None)
                               for i, (a, q) in enumerate(zip(row_anchors, queries))]
        out = np.empty(len(queries))
        for i, q in enumerate(queries):
            out[i] = self._predict_queries([q], self.accelerator, None if row_anchors is None else [row_anchors[i]])[0]
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {**self._base_dict(), "form": self.form, "a": self.a, "b": self.b, "c": self.c,
                "anchors": self.anchors, "store_anchors": self.store_anchors,
                "equation": "E = a + b * sum(MACs x rel_energy); anchored: E = E_exact + c * sum(MACs x (rel_energy - 1))"}

    @classmethod
    def from_dict(cls, data: dict) -> "SummingPredictor":
        p = cls(form=data.get("form", "auto"), store_anchors=data.get("store_anchors", True))
        p._load_base(data)
        p.a, p.b = _number(data, "a"), _number(data, "b")
        p.c = None if data.get("c") is None else _number(data, "c")
        anchors = data.get("anchors") or {}
        if not isinstance(anchors, dict):
            raise ValueError(f"field 'anchors' must be a mapping of network keys to energies, got {anchors!r}")
        p.anchors = {str(k): _number(anchors, k, "anchor") for k in anchors}
        return p


def _number(data: dict, key: str, what: str = "field") -> float:
    """``data[key]`` as a finite float, or a ValueError naming the field."""
    import math

    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} {key!r} must be a finite number, got {value!r}")
    return float(value)
