"""Reference-energy datasets: generation (parallel, resumable) and loading.

Layout of a dataset directory::

    manifest.json              versions, seed, network specs, accelerators with the
                               SHA-256 of their architecture files, the SHA-256 of the
                               reference model's source, multipliers with their
                               relative energy and LUT hash, the mapper the reference
                               ran (``auto`` unless ``--mapper`` named another) and its
                               factorisation (``exact`` unless ``--factorization``
                               named ``imperfect``)
    energy/part-*.parquet      one row per (network, accelerator, multiplier): total and
                               per-component energy (pJ), MACs, reference seconds
    layers/part-*.parquet      one row per (network, accelerator, layer), exact multiplier:
                               per-layer total and per-component energy
    networks/part-*.parquet    one row per network: name, kind, shape key, workload JSON,
                               genome JSON (generated networks)

A *task* is one (network, accelerator) pair evaluated for every multiplier
(the mapping is found once; the multipliers only change the MAC energy).
Finished tasks are buffered and written every ``chunk_size`` tasks as one
Parquet part in each folder (networks and layers first, energy last, each file
written to a temporary name and renamed), so a killed run loses at most the
chunk in flight. Re-running with the same arguments skips every
(network, accelerator, multiplier) row already present.
"""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from approxdse.accelerators.reference_version import reference_code_hash, reference_version
from approxdse.core.atomic_files import atomic_path, atomic_write_text, make_dirs, remove_stale_temps
from approxdse.core.errors import ApproxDSEError
from approxdse.core.executor import check_workers, make_executor
from approxdse.multipliers.resolve import has_energy, relative_energy_of
from approxdse import multipliers
from approxdse.accelerators import architecture
from approxdse.accelerators.architecture import available_architectures
from approxdse.networks.genome import GENOME_VERSION
from approxdse.networks.resolve import resolve_networks, workload_from_json, workload_to_json
from approxdse.predictors import reference
from approxdse.predictors.reference import EXACT

DATASET_FORMAT = 1
MANIFEST = "manifest.json"
PARTS = ("networks", "layers", "energy")


# --------------------------------------------------------------------------- manifest
def _sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def architecture_hash(accelerator: str) -> str:
    """SHA-256 of the accelerator's architecture YAML file (built-in or a path).

    Falls back to a hash of the parsed architecture when the file cannot be found.
    """
    from importlib import resources

    builtin = getattr(architecture, "_BUILTIN", {})
    try:
        if accelerator in builtin:
            text = resources.files("approxdse.accelerators.data").joinpath(builtin[accelerator]).read_bytes()
            return hashlib.sha256(text).hexdigest()
        if Path(accelerator).is_file():
            return _sha256_file(Path(accelerator))
    except OSError:
        pass
    arch = architecture.load_architecture(accelerator)
    return hashlib.sha256(str(arch.id).encode()).hexdigest()


def _multiplier_record(name: str) -> dict:
    m = multipliers.get(name)
    return {
        "relative_energy": m.relative_energy,
        "signed": m.signed,
        "family": m.family,
        "lut_sha256": hashlib.sha256(m.lut.tobytes()).hexdigest(),
    }


def manifest_mapper(manifest: dict) -> str:
    """The mapper a dataset's reference ran (manifests written before ``--mapper`` existed: ``auto``)."""
    return str(manifest.get("mapper", reference.REFERENCE_MAPPER))


def manifest_factorization(manifest: dict) -> str:
    """The factorisation a dataset's reference searched (manifests written before
    ``--factorization`` existed: ``exact``)."""
    return str(manifest.get("factorization", reference.REFERENCE_FACTORIZATION))


def build_manifest(accelerators: Sequence[str], network_specs: Sequence[str], multiplier_names: Sequence[str], seed: int,
                   mapper: str = reference.REFERENCE_MAPPER,
                   factorization: str = reference.REFERENCE_FACTORIZATION) -> dict:
    import numpy
    import pandas

    return {
        "format": DATASET_FORMAT,
        "reference": reference_version(),
        "reference_code_sha256": reference_code_hash(),
        "genome_version": GENOME_VERSION,
        "seed": int(seed),
        "mapper": reference.check_dataset_mapper(mapper),
        "factorization": reference.check_dataset_factorization(factorization),
        "networks": list(network_specs),
        "accelerators": {a: {"architecture_sha256": architecture_hash(a)} for a in accelerators},
        "multipliers": {m: _multiplier_record(m) for m in multiplier_names},
        "software": {"python": platform.python_version(), "numpy": numpy.__version__, "pandas": pandas.__version__},
    }


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        state = "is a file, not a dataset folder" if Path(directory).exists() else "does not exist"
        raise ApproxDSEError(f"dataset directory {str(directory)!r} {state}")
    if not path.is_file():
        raise ApproxDSEError(f"{str(directory)!r} is not a dataset: it has no {MANIFEST}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApproxDSEError(f"the manifest of dataset {str(directory)!r} is corrupt ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != DATASET_FORMAT:
        raise ApproxDSEError(
            f"dataset {str(directory)!r} has format {data.get('format') if isinstance(data, dict) else '?'}; "
            f"this approxdse reads format {DATASET_FORMAT}"
        )
    return data


def _same_multiplier(prev: dict, rec: dict) -> bool:
    """Manifest records of one multiplier; datasets written before the full digest kept 16 hex digits."""
    a, b = dict(prev), dict(rec)
    da, db = str(a.pop("lut_sha256", "")), str(b.pop("lut_sha256", ""))
    n = min(len(da), len(db))
    return a == b and n >= 16 and da[:n] == db[:n]


def check_compatible(old: dict, new: dict, directory: str | Path) -> dict:
    """Merge a new run's manifest into an existing one, or raise on any mismatch."""
    where = f"dataset {str(directory)!r}"
    for key in ("reference", "reference_code_sha256", "genome_version", "seed"):
        if old.get(key) != new.get(key):
            raise ApproxDSEError(
                f"{where} was made with {key}={old.get(key)!r} but this run has {key}={new.get(key)!r}; "
                "write to a new --out directory"
            )
    for flag, read in (("mapper", manifest_mapper), ("factorization", manifest_factorization)):
        if read(old) != read(new):
            raise ApproxDSEError(
                f"{where} was made with --{flag} {read(old)} but this run has --{flag} {read(new)}; "
                "its energies would mix two references: write to a new --out directory"
            )
    for acc, rec in new["accelerators"].items():
        if acc in old["accelerators"] and old["accelerators"][acc] != rec:
            raise ApproxDSEError(
                f"{where} holds {acc!r} results from different architecture files; write to a new --out directory"
            )
    for name, rec in new["multipliers"].items():
        prev = old["multipliers"].get(name)
        if prev is not None and not _same_multiplier(prev, rec):
            raise ApproxDSEError(
                f"{where} holds results for a different multiplier named {name!r}; write to a new --out directory"
            )
    merged = dict(old)
    merged["mapper"] = manifest_mapper(old)
    merged["factorization"] = manifest_factorization(old)
    merged["accelerators"] = {**old["accelerators"], **new["accelerators"]}
    merged["multipliers"] = {**old["multipliers"], **new["multipliers"]}
    merged["networks"] = list(dict.fromkeys(list(old["networks"]) + list(new["networks"])))
    return merged


# --------------------------------------------------------------------------- tasks
def _evaluate_task(task: dict) -> dict:
    """Worker entry point (process pool or Dask): one (network, accelerator) for its multipliers."""
    workload = workload_from_json(task["workload_json"])
    result = reference.evaluate(workload, task["accelerator"], task["multipliers"], task["network"], task["kind"],
                                mapper=task.get("mapper", reference.REFERENCE_MAPPER),
                                factorization=task.get("factorization", reference.REFERENCE_FACTORIZATION))
    return {"task": task, "rows": result.rows, "layer_rows": result.layer_rows}


@dataclass
class GenerationSummary:
    """What one :func:`generate_dataset` call did."""

    directory: str
    tasks_total: int
    tasks_run: int
    rows_written: int
    rows_skipped: int
    seconds: float
    parts: list[str] = field(default_factory=list)


def existing_rows(directory: str | Path) -> set[tuple[str, str, str]]:
    """(network, accelerator, multiplier) triples already in the dataset."""
    import pandas as pd

    folder = Path(directory) / "energy"
    done: set[tuple[str, str, str]] = set()
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            df = pd.read_parquet(part, columns=["network", "accelerator", "multiplier"])
        except Exception as exc:
            raise ApproxDSEError(f"dataset part {part.name} is unreadable ({type(exc).__name__}); delete it and re-run") from None
        done.update(zip(df["network"], df["accelerator"], df["multiplier"]))
    return done


def existing_layer_tasks(directory: str | Path) -> set[tuple[str, str]]:
    import pandas as pd

    done: set[tuple[str, str]] = set()
    for part in sorted((Path(directory) / "layers").glob("part-*.parquet")):
        df = pd.read_parquet(part, columns=["network", "accelerator"])
        done.update(zip(df["network"], df["accelerator"]))
    return done


def resolve_multiplier_names(spec: str | Sequence[str]) -> list[str]:
    """``all`` -> every catalogued multiplier; otherwise the given names (checked)."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        items = list(spec)
    if not items:
        raise ApproxDSEError("no multipliers given; use --multipliers all or a comma-separated list")
    if items == ["all"]:  # every multiplier the reference can price
        return [n for n in multipliers.names() if has_energy(n)]
    names = []
    for item in items:
        m = multipliers.get(item)  # UnknownNameError lists the catalog
        relative_energy_of(m)  # the reference cannot price a multiplier without energy: refuse before writing
        names.append(m.name)
    return list(dict.fromkeys(names))


def resolve_accelerators(spec: str | Sequence[str]) -> list[str]:
    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    if not items:
        raise ApproxDSEError("no accelerators given; use e.g. --accelerator eyeriss,simba")
    known = list(available_architectures())
    for a in items:
        if a not in known:
            raise ApproxDSEError(f"unknown accelerator {a!r}; known: {', '.join(known)}")
    return list(dict.fromkeys(items))


def generate_dataset(
    out: str | Path,
    accelerators: str | Sequence[str],
    networks: str | Sequence[str],
    multipliers: str | Sequence[str] = "all",
    seed: int = 0,
    workers: int = 1,
    scheduler: Any = None,
    chunk_size: int = 4,
    progress: bool = True,
    max_tasks: int | None = None,
    mapper: str = reference.REFERENCE_MAPPER,
    factorization: str = reference.REFERENCE_FACTORIZATION,
) -> GenerationSummary:
    """Evaluate every (network, accelerator, multiplier) with the reference; resume what exists.

    ``workers`` > 1 runs a local process pool; ``scheduler`` (a ``tcp://host:port``
    address or a ``distributed.Client``) runs the tasks on a Dask cluster instead.
    ``max_tasks`` stops after that many tasks (for tests of resuming). ``mapper``: the
    reference's mapper (``auto``, ``exhaustive`` or ``fast``, recorded in the manifest; a
    dataset is resumed only with the mapper it was made with). ``factorization``: the
    reference's map space (``exact``, the default and the shipped predictors', or
    ``imperfect``, the ``energy`` command's default; recorded and checked the same way).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if not isinstance(seed, int) or seed < 0:
        raise ApproxDSEError(f"--seed must be a non-negative integer, got {seed!r}")
    check_workers(workers)
    reference.check_dataset_mapper(mapper)
    reference.check_dataset_factorization(factorization)
    executor = make_executor(workers, scheduler)  # bad --scheduler: one error before any file is written
    if chunk_size < 1:
        raise ApproxDSEError(f"chunk size must be at least 1, got {chunk_size}")
    t_start = time.perf_counter()
    accs = resolve_accelerators(accelerators)
    mult_names = resolve_multiplier_names(multipliers)
    if EXACT not in mult_names:
        mult_names = [EXACT] + mult_names
    net_specs = [s.strip() for s in networks.split(",") if s.strip()] if isinstance(networks, str) else list(networks)
    entries = resolve_networks(net_specs, seed=seed)

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ApproxDSEError(f"--out {str(out)!r} exists and is not a directory")
    manifest = build_manifest(accs, net_specs, mult_names, seed, mapper, factorization)
    # a run killed mid-write (SIGKILL) leaves its temporary files: this run owns the folder now
    remove_stale_temps(out, MANIFEST)
    for sub in PARTS:
        remove_stale_temps(out / sub, "part-*.parquet")
    if (out / MANIFEST).exists():
        manifest = check_compatible(read_manifest(out), manifest, out)
    elif out.exists() and any(p.name not in PARTS or not p.is_dir() or any(p.iterdir()) for p in out.iterdir()):
        # (empty part folders alone: a run killed before it wrote its manifest)
        raise ApproxDSEError(f"--out {str(out)!r} is a non-empty directory without a dataset manifest")
    manifest.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fresh = not out.exists()
    try:
        atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    except ApproxDSEError:
        if fresh:  # e.g. a full disk: the folder the write made is not left behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    for sub in PARTS:
        make_dirs(out / sub)

    done = existing_rows(out)
    layer_done = existing_layer_tasks(out)
    known_networks = _known_networks(out)
    tasks = []
    skipped = 0
    for entry in entries:
        for acc in accs:
            missing = [m for m in mult_names if (entry.name, acc, m) not in done]
            skipped += len(mult_names) - len(missing)
            if not missing and (entry.name, acc) in layer_done:
                continue
            tasks.append({
                "network": entry.name, "kind": entry.kind, "accelerator": acc,
                "multipliers": missing or [EXACT], "workload_json": workload_to_json(entry.workload),
                "genome_json": entry.genome_json, "key": entry.key,
                "want_rows": bool(missing), "mapper": mapper, "factorization": factorization,
            })
    total_tasks = len(tasks)
    if max_tasks is not None:
        tasks = tasks[:max_tasks]

    run_id = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    summary = GenerationSummary(str(out), total_tasks, 0, 0, skipped, 0.0)
    buffer: list[dict] = []

    def flush() -> None:
        if not buffer:
            return
        seq = len(summary.parts)
        name = f"part-{run_id}-{seq:05d}.parquet"
        nets, layer_rows, rows = [], [], []
        for res in buffer:
            t = res["task"]
            if t["network"] not in known_networks:
                known_networks.add(t["network"])
                nets.append({"network": t["network"], "network_kind": t["kind"], "key": t["key"],
                             "workload_json": t["workload_json"], "genome_json": t["genome_json"]})
            if (t["network"], t["accelerator"]) not in layer_done:
                layer_done.add((t["network"], t["accelerator"]))
                layer_rows += res["layer_rows"]
            if t["want_rows"]:
                rows += [r for r in res["rows"] if r["multiplier"] in set(t["multipliers"])]
        for folder, part in (("networks", nets), ("layers", layer_rows), ("energy", rows)):
            if part:
                with atomic_path(out / folder / name) as tmp:
                    pd.DataFrame(part).to_parquet(tmp, index=False)
        summary.rows_written += len(rows)
        summary.parts.append(name)
        buffer.clear()

    bar = tqdm(total=len(tasks), desc="reference energy", unit="net", disable=not progress)
    try:
        with executor:
            for _, res in executor.run(_evaluate_task, [(t,) for t in tasks],
                                       progress=lambda done, total: bar.update(1)):
                buffer.append(res)
                summary.tasks_run += 1
                if len(buffer) >= chunk_size:
                    flush()
        flush()
    except ApproxDSEError:
        if fresh and not summary.parts:  # e.g. an unreachable --scheduler: a first run that wrote nothing
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t_start
    return summary


def _known_networks(directory: Path) -> set[str]:
    import pandas as pd

    names: set[str] = set()
    for part in sorted((directory / "networks").glob("part-*.parquet")):
        names.update(pd.read_parquet(part, columns=["network"])["network"])
    return names


# --------------------------------------------------------------------------- loading
@dataclass
class Dataset:
    """A loaded dataset: ``energy``, ``layers`` and ``networks`` DataFrames and the manifest."""

    directory: str
    manifest: dict
    energy: Any
    layers: Any
    networks: Any
    _workloads: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: str | Path) -> "Dataset":
        import pandas as pd

        directory = Path(directory)
        manifest = read_manifest(directory)
        frames = {}
        for sub in PARTS:
            parts = sorted((directory / sub).glob("part-*.parquet"))
            dfs = []
            for part in parts:
                try:
                    dfs.append(pd.read_parquet(part))
                except Exception as exc:
                    raise ApproxDSEError(
                        f"dataset {str(directory)!r}: {sub}/{part.name} is unreadable ({type(exc).__name__})"
                    ) from None
            frames[sub] = pd.concat(dfs, ignore_index=True) if dfs else pd.DataFrame()
        if frames["energy"].empty:
            raise ApproxDSEError(f"dataset {str(directory)!r} holds no energy rows yet; run approxdse dataset first")
        energy = frames["energy"].drop_duplicates(["network", "accelerator", "multiplier"], keep="last")
        layers = frames["layers"]
        if not layers.empty:
            layers = layers.drop_duplicates(["network", "accelerator", "layer_index"], keep="last")
        networks = frames["networks"].drop_duplicates("network", keep="last")
        missing = set(energy["network"]) - set(networks["network"])
        if missing:
            raise ApproxDSEError(
                f"dataset {str(directory)!r} is corrupt: {len(missing)} networks have energies but no description"
            )
        if not energy["total_energy_pJ"].map(lambda v: v == v and v not in (float("inf"), float("-inf"))).all():
            raise ApproxDSEError(f"dataset {str(directory)!r} holds NaN or infinite energies")
        return cls(str(directory), manifest, energy.reset_index(drop=True), layers.reset_index(drop=True),
                   networks.reset_index(drop=True))

    @property
    def accelerators(self) -> list[str]:
        return sorted(self.energy["accelerator"].unique())

    def workload(self, network: str):
        """The Workload of a network in this dataset."""
        if network not in self._workloads:
            rec = self.networks.loc[self.networks["network"] == network]
            if rec.empty:
                raise ApproxDSEError(f"dataset {self.directory!r} has no network {network!r}")
            self._workloads[network] = workload_from_json(rec["workload_json"].iloc[0])
        return self._workloads[network]

    def for_accelerator(self, accelerator: str) -> "Dataset":
        """The rows of one accelerator (error if the dataset has none)."""
        if accelerator not in self.accelerators:
            raise ApproxDSEError(
                f"dataset {self.directory!r} has no results for accelerator {accelerator!r} "
                f"(it has {', '.join(self.accelerators)})"
            )
        energy = self.energy[self.energy["accelerator"] == accelerator].reset_index(drop=True)
        layers = self.layers
        if not layers.empty:
            layers = layers[layers["accelerator"] == accelerator].reset_index(drop=True)
        return Dataset(self.directory, self.manifest, energy, layers, self.networks, self._workloads)

    def subset(self, networks: Iterable[str]) -> "Dataset":
        keep = set(networks)
        energy = self.energy[self.energy["network"].isin(keep)].reset_index(drop=True)
        layers = self.layers[self.layers["network"].isin(keep)].reset_index(drop=True) if not self.layers.empty else self.layers
        return Dataset(self.directory, self.manifest, energy, layers, self.networks, self._workloads)

    def split_by_network(self, test_fraction: float = 0.25, seed: int = 0) -> tuple["Dataset", "Dataset"]:
        """Train/test datasets with no network in both (networks shuffled by ``seed``)."""
        import numpy as np

        if not 0 < test_fraction < 1:
            raise ApproxDSEError(f"the test fraction must lie in (0, 1), got {test_fraction}")
        names = sorted(self.energy["network"].unique())
        if len(names) < 2:
            raise ApproxDSEError("a split by network needs at least two networks")
        order = np.random.default_rng(seed).permutation(len(names))
        n_test = min(max(1, int(round(test_fraction * len(names)))), len(names) - 1)
        test = {names[i] for i in order[:n_test]}
        return self.subset(set(names) - test), self.subset(test)

    @property
    def mapper(self) -> str:
        """The mapper the dataset's reference ran (``auto`` for datasets made before ``--mapper``)."""
        return manifest_mapper(self.manifest)

    @property
    def factorization(self) -> str:
        """The factorisation the dataset's reference searched (``exact`` for datasets made before
        ``--factorization``)."""
        return manifest_factorization(self.manifest)

    def architecture_hash(self, accelerator: str) -> str | None:
        rec = self.manifest.get("accelerators", {}).get(accelerator)
        return rec.get("architecture_sha256") if rec else None
