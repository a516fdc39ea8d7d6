"""Shared fixtures: one small real reference dataset per test process."""
import pytest

#: A handful of multipliers spanning the energy range (relative energy 1.0 down to ~0.3).
MULTIPLIERS = "u8_exact,u8_bam_h2_v6,u8_trunc_2,u8_drum_4,u8_mitchell,u8_etm_3,s8_bam_h1_v4"
NETWORKS = "nas-digits:6"


@pytest.fixture(scope="session")
def spec():
    """(network spec, multiplier spec, number of multipliers) of the small dataset."""
    return NETWORKS, MULTIPLIERS, len(MULTIPLIERS.split(","))


@pytest.fixture(scope="session")
def small_dataset_dir(tmp_path_factory):
    """6 generated digits networks x 7 multipliers on eyeriss, through the real reference."""
    from approxdse.predictors.dataset import generate_dataset

    out = tmp_path_factory.mktemp("predictors") / "small"
    generate_dataset(out, "eyeriss", NETWORKS, MULTIPLIERS, seed=0, progress=False, chunk_size=2)
    return out


@pytest.fixture(scope="session")
def small_dataset(small_dataset_dir):
    from approxdse.predictors.dataset import Dataset

    return Dataset.load(small_dataset_dir)
