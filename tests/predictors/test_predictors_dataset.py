"""Dataset generation through the real reference: layout, manifest, resume, Dask, bad input."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.predictors.dataset import Dataset, generate_dataset, read_manifest
from approxdse.predictors.reference import EXACT, reference_energy



def _sorted_energy(ds):
    cols = ["network", "accelerator", "multiplier", "total_energy_pJ"]
    return ds.energy[cols].sort_values(cols[:3]).reset_index(drop=True)


def test_layout_manifest_and_values(spec, small_dataset, small_dataset_dir):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    ds = small_dataset
    assert len(ds.energy) == 6 * N_MULT
    assert ds.energy.groupby("network").size().eq(N_MULT).all()
    m = read_manifest(small_dataset_dir)
    assert m["seed"] == 0 and m["networks"] == [NETWORKS]
    assert len(m["accelerators"]["eyeriss"]["architecture_sha256"]) == 64
    assert set(m["multipliers"]) == set(MULTIPLIERS.split(","))
    # the whole SHA-256 of each LUT (issue 14: it had 16 hex digits)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["lut_sha256"]) for r in m["multipliers"].values()), m["multipliers"]
    assert m["reference"].startswith("approxdse")
    # components add up to the total
    comp = [c for c in ds.energy.columns if c.startswith("energy_") and c.endswith("_pJ")]
    assert "energy_multiplier_pJ" in comp
    np.testing.assert_allclose(ds.energy[comp].sum(axis=1), ds.energy["total_energy_pJ"], rtol=1e-9)
    # derived rows equal a direct reference call
    row = ds.energy[ds.energy["multiplier"] == "u8_drum_4"].iloc[0]
    direct = reference_energy(ds.workload(row["network"]), "eyeriss", "u8_drum_4")
    assert row["total_energy_pJ"] == pytest.approx(direct.energy_pJ, rel=1e-9)
    # layers of the exact multiplier add up to the network's exact energy
    exact = ds.energy[ds.energy["multiplier"] == EXACT].set_index("network")["total_energy_pJ"]
    per_layer = ds.layers.groupby("network")["total_energy_pJ"].sum()
    np.testing.assert_allclose(per_layer[exact.index], exact, rtol=1e-9)
    for name in ds.networks["network"]:
        assert len(ds.layers[ds.layers["network"] == name]) == len(ds.workload(name).layers)


def test_resume_after_partial_run_skips_finished_rows(spec, tmp_path, small_dataset):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    out = tmp_path / "resume"
    first = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False, chunk_size=1, max_tasks=2)
    assert first.tasks_run == 2 and first.rows_written == 2 * N_MULT
    second = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False, chunk_size=1)
    assert second.tasks_run == 4 and second.rows_skipped == 2 * N_MULT
    third = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False)
    assert third.tasks_run == 0 and third.rows_written == 0
    resumed = Dataset.load(out)
    pd.testing.assert_frame_equal(_sorted_energy(resumed), _sorted_energy(small_dataset))
    # adding a multiplier later computes only its rows
    fourth = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS + ",u8_trunc_4", seed=0, progress=False)
    assert fourth.rows_written == 6 and fourth.rows_skipped == 6 * N_MULT


def test_dask_local_cluster_gives_the_same_rows(spec, tmp_path, small_dataset):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    from distributed import Client, LocalCluster

    # processes=False: two thread workers in this process (no extra interpreters on a 2-core box);
    # the tasks still go through the scheduler by its tcp address like a remote cluster.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        summary = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False,
                                   scheduler=cluster.scheduler_address, chunk_size=3)
        assert summary.tasks_run == 6
        with Client(cluster) as client:
            again = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False, scheduler=client)
            assert again.tasks_run == 0
    pd.testing.assert_frame_equal(_sorted_energy(Dataset.load(out)), _sorted_energy(small_dataset))


def test_manifest_mismatch_refused(spec, tmp_path, small_dataset_dir):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    out = tmp_path / "copy"
    shutil.copytree(small_dataset_dir, out)
    with pytest.raises(ApproxDSEError, match="seed"):
        generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=1, progress=False)
    m = json.loads((out / "manifest.json").read_text())
    m["accelerators"]["eyeriss"]["architecture_sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ApproxDSEError, match="architecture"):
        generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False)
    original = read_manifest(small_dataset_dir)["accelerators"]["eyeriss"]
    m["accelerators"]["eyeriss"]["architecture_sha256"] = original["architecture_sha256"]
    m["reference_code_sha256"] = "1" * 64
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ApproxDSEError, match="reference_code_sha256"):
        generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False)
    m["reference"] = "approxdse 0.0.1"
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ApproxDSEError, match="reference"):
        generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False)


def test_bad_directories(spec, tmp_path, small_dataset_dir):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    with pytest.raises(ApproxDSEError, match="does not exist"):
        Dataset.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ApproxDSEError, match="no manifest"):
        Dataset.load(tmp_path / "empty")
    broken = tmp_path / "broken"
    shutil.copytree(small_dataset_dir, broken)
    part = sorted((broken / "energy").glob("part-*.parquet"))[0]
    part.write_bytes(b"not parquet at all")
    with pytest.raises(ApproxDSEError, match="unreadable"):
        Dataset.load(broken)
    (broken / "manifest.json").write_text("{ not json")
    with pytest.raises(ApproxDSEError, match="corrupt"):
        Dataset.load(broken)
    noenergy = tmp_path / "noenergy"
    shutil.copytree(small_dataset_dir, noenergy)
    for p in (noenergy / "energy").glob("*.parquet"):
        p.unlink()
    with pytest.raises(ApproxDSEError, match="no energy rows"):
        Dataset.load(noenergy)
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "x.txt").write_text("x")
    with pytest.raises(ApproxDSEError, match="non-empty"):
        generate_dataset(tmp_path / "stuff", "eyeriss", NETWORKS, "u8_exact", progress=False)


@pytest.mark.parametrize("kwargs,match", [
    (dict(accelerators="tpu"), "unknown accelerator"),
    (dict(networks="nas:x"), "count"),
    (dict(networks="bogus"), "unknown network"),
    (dict(multipliers="u8_nonexistent"), "unknown multiplier"),
    (dict(workers=0), "workers"),
    (dict(scheduler="localhost"), "tcp://"),
    (dict(mapper="greedy"), "unknown mapper 'greedy' for a dataset; choose one of auto, exhaustive, fast"),
    (dict(factorization="padded"), "unknown factorization 'padded' for a dataset; choose one of exact, imperfect"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = dict(accelerators="eyeriss", networks="nas-digits:1", multipliers="u8_exact", progress=False)
    args.update(kwargs)
    with pytest.raises(ApproxDSEError, match=match):
        generate_dataset(tmp_path / "bad", **args)


def test_split_by_network_has_no_overlap(small_dataset):
    train, test = small_dataset.split_by_network(0.34, seed=3)
    a, b = set(train.energy["network"]), set(test.energy["network"])
    assert a and b and not (a & b) and a | b == set(small_dataset.energy["network"])


def test_a_fast_mapper_dataset_says_so_and_is_never_mixed_with_auto(tmp_path, small_dataset_dir):
    from approxdse.accelerators.estimate import estimate_energy
    from approxdse.predictors.summing import SummingPredictor

    out = tmp_path / "fast"
    generate_dataset(out, "eyeriss", "nas-digits:2", "u8_exact,u8_trunc_2", seed=0, progress=False, mapper="fast")
    ds = Dataset.load(out)
    assert read_manifest(out)["mapper"] == "fast" and ds.mapper == "fast"
    # the rows are the reference with the fast mapper, not auto's
    for name in ds.networks["network"]:
        row = ds.energy[(ds.energy["network"] == name) & (ds.energy["multiplier"] == EXACT)].iloc[0]
        want = estimate_energy(ds.workload(name), accelerator="eyeriss", multiplier=EXACT, progress=False,
                               factorization="exact", mapper="fast")
        assert row["total_energy_pJ"] == pytest.approx(want.energy_pJ, rel=1e-12)
        assert {m["mapper"] for m in want.extra["mappers"].values()} == {"fast"}
    # auto starts from the fast search's result: never above it, and below it on one of these networks
    fast_e = ds.energy[ds.energy["multiplier"] == EXACT].set_index("network")["total_energy_pJ"]
    auto_e = {n: reference_energy(ds.workload(n), "eyeriss").energy_pJ for n in fast_e.index}
    assert all(fast_e[n] >= auto_e[n] * (1 - 1e-12) for n in fast_e.index)
    assert any(fast_e[n] > auto_e[n] * (1 + 1e-6) for n in fast_e.index)
    with pytest.raises(ApproxDSEError, match="--mapper fast but this run has --mapper auto"):
        generate_dataset(out, "eyeriss", "nas-digits:2", "u8_exact", seed=0, progress=False)
    # a predictor learns which mapper's reference it saw and refuses the other one's rows
    auto_pred = SummingPredictor().fit(Dataset.load(small_dataset_dir), "eyeriss")
    assert auto_pred.reference_info["mapper"] == "auto"
    with pytest.raises(ApproxDSEError, match="made with --mapper fast"):
        auto_pred.predict_dataset(ds.for_accelerator("eyeriss"))
    fast_pred = SummingPredictor().fit(ds, "eyeriss")
    assert fast_pred.reference_info["mapper"] == "fast"
    assert np.isfinite(fast_pred.predict_dataset(ds.for_accelerator("eyeriss"))).all()


@pytest.mark.parametrize("key,default,other", [("mapper", "auto", "exhaustive"),
                                               ("factorization", "exact", "imperfect")])
def test_manifests_from_before_an_option_read_as_its_default(spec, tmp_path, small_dataset_dir, key, default, other):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    out = tmp_path / "old"
    shutil.copytree(small_dataset_dir, out)
    m = json.loads((out / "manifest.json").read_text())
    del m[key]
    (out / "manifest.json").write_text(json.dumps(m))
    assert getattr(Dataset.load(out), key) == default
    again = generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False)
    assert again.tasks_run == 0 and read_manifest(out)[key] == default
    with pytest.raises(ApproxDSEError, match=f"--{key} {default} but this run has --{key} {other}"):
        generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False, **{key: other})
    got = Dataset.load(out).energy.sort_values(["network", "multiplier"]).reset_index(drop=True)
    want = Dataset.load(small_dataset_dir).energy.sort_values(["network", "multiplier"]).reset_index(drop=True)
    assert len(got) == len(want)
    pd.testing.assert_series_equal(got["total_energy_pJ"], want["total_energy_pJ"])


def test_an_imperfect_dataset_learns_the_imperfect_reference_and_is_never_mixed_with_exact(tmp_path,
                                                                                          small_dataset_dir):
    from approxdse.predictors.summing import SummingPredictor
    from approxdse.predictors.reference import reference_total

    out = tmp_path / "imperfect"
    # layers:1's first layer is a 740-channel 5x5 conv (740 = 4 x 5 x 37): partial last tiles pay there
    generate_dataset(out, "eyeriss-2022", "layers:1", "u8_exact,u8_trunc_2", seed=0, progress=False,
                     factorization="imperfect")
    ds = Dataset.load(out)
    assert read_manifest(out)["factorization"] == "imperfect" and ds.factorization == "imperfect"
    assert read_manifest(small_dataset_dir)["factorization"] == "exact"
    (name,) = ds.networks["network"]
    row = ds.energy[(ds.energy["network"] == name) & (ds.energy["multiplier"] == EXACT)].iloc[0]
    imperfect = reference_total(ds.workload(name), "eyeriss-2022", factorization="imperfect")
    exact = reference_total(ds.workload(name), "eyeriss-2022")
    assert row["total_energy_pJ"] == pytest.approx(imperfect, rel=1e-12)
    assert imperfect < 0.9 * exact
    with pytest.raises(ApproxDSEError, match="--factorization imperfect but this run has --factorization exact"):
        generate_dataset(out, "eyeriss-2022", "layers:1", "u8_exact", seed=0, progress=False)
    # a predictor learns which map space its reference searched and refuses the other one's rows
    pred = SummingPredictor().fit(ds, "eyeriss-2022")
    assert pred.reference_info["factorization"] == "imperfect" and pred.factorization == "imperfect"
    exact_pred = SummingPredictor().fit(Dataset.load(small_dataset_dir), "eyeriss")
    assert exact_pred.factorization == "exact"
    exact_pred.accelerator = "eyeriss-2022"
    exact_pred.reference_info["architecture_sha256"] = None
    with pytest.raises(ApproxDSEError, match="made with --factorization imperfect, but this predictor was "
                                             "trained on a --factorization exact dataset"):
        exact_pred.predict_dataset(ds.for_accelerator("eyeriss-2022"))
    # models saved before predictors recorded it learned the exact reference
    del exact_pred.reference_info["factorization"]
    assert exact_pred.factorization == "exact"

