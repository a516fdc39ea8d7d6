"""Every user YAML file goes through approxdse.core.yaml_files: one sentence naming the file and the line."""
import pytest

from approxdse.core.errors import ApproxDSEError

BAD = "a: [1, 2\nb: 3\n"


def _read_architecture(path):
    from approxdse.accelerators.architecture import load_architecture

    return load_architecture(str(path))


def _read_mapping(path):
    from approxdse.accelerators.architecture import load_architecture
    from approxdse.accelerators.mapping import load_timeloop_mapping
    from approxdse.networks.workload import Layer

    return load_timeloop_mapping(path, Layer("l", C=4, M=4, P=4, Q=4, R=3, S=3), load_architecture("eyeriss"))


def _read_problem(path):
    from approxdse.accelerators.timeloop_stats import read_problem_instance

    return read_problem_instance(path)


def _read_ert(path):
    from approxdse.accelerators.timeloop_stats import read_ert_summary

    return read_ert_summary(path)


@pytest.mark.parametrize("read,what", [
    (_read_architecture, "architecture file"),
    (_read_mapping, "mapping file"),
    (_read_problem, "Timeloop problem file"),
    (_read_ert, "Accelergy ERT summary"),
])
def test_malformed_yaml_is_one_sentence(tmp_path, read, what):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(ApproxDSEError) as info:
        read(path)
    msg = str(info.value)
    assert msg.startswith(f"{what} {str(path)!r} is not valid YAML at line ") and "\n" not in msg
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ApproxDSEError, match=f"{what} .* does not exist"):
        read(missing)


def test_corrupt_user_catalog_entry_is_one_sentence(approxdse_home):
    from approxdse.multipliers import user_catalog

    folder = approxdse_home / "multipliers"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(BAD)
    with pytest.raises(ApproxDSEError) as info:
        user_catalog.load_entry("mine")
    msg = str(info.value)
    assert "user multiplier file" in msg and "mine.yaml" in msg and "not valid YAML at line" in msg and "\n" not in msg
    (folder / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ApproxDSEError, match="is not a mapping"):
        user_catalog.load_entry("list")


def test_a_non_mapping_problem_or_ert_file_is_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n")
    with pytest.raises(ApproxDSEError, match="no problem.instance"):
        _read_problem(path)
    with pytest.raises(ApproxDSEError, match="is not a YAML mapping"):
        _read_ert(path)
