"""Search config validation: readable one-sentence errors, exit status 2 from the CLI."""
from pathlib import Path

import pytest
import yaml

from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import SearchConfig
from search_helpers import small_config, write_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_configs_load_and_validate():
    for path in (ROOT / "examples/search_digits.yaml", ROOT / "examples/search_cifar10.yaml"):
        cfg = SearchConfig.load(path)
        assert cfg.algorithm.budget >= 2
    SearchConfig.load(ROOT / "examples/search_digits.yaml").validate()
    cifar = SearchConfig.load(ROOT / "examples/search_cifar10.yaml")
    assert cifar.space.assignment == "layer" and cifar.training.device == "cuda"


def test_round_trip_through_yaml():
    cfg = SearchConfig.from_dict(small_config())
    again = SearchConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("overrides, message", [
    ({"algoritm": {"name": "nsga2"}}, "unknown key 'algoritm' at the top level"),
    ({"algorithm": {"populaton": 4}}, "unknown key 'populaton' in section 'algorithm'"),
    ({"training": {"epochs": 0}}, "training.epochs must be >= 1"),
    ({"algorithm": {"name": "grid"}}, "algorithm.name must be one of nsga2, random"),
    ({"constraints": {"min_accuracy": 97}}, "constraints.min_accuracy must be <= 1"),
    ({"space": {"assignment": "block"}}, "space.assignment must be one of network, layer"),
])
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ApproxDSEError, match=message):
        SearchConfig.from_dict(small_config(**overrides))


@pytest.mark.parametrize("overrides, message", [
    ({"space": {"network": {"preset": "digits", "min_channels": 64, "max_channels": 8}}},
     "min_channels <= max_channels"),
    ({"space": {"network": {"preset": "digits", "max_chanels": 8}}}, "unknown keys: max_chanels"),
    ({"space": {"multipliers": {"names": ["u8_exact", "u8_no_such"]}}}, "unknown multiplier 'u8_no_such'"),
    ({"space": {"multipliers": {"families": ["quantum"]}}}, "unknown family 'quantum'"),
    ({"constraints": {"max_params": 10}}, "max_params=10 is infeasible"),
    ({"energy": {"predictor": "no/such/predictor.json"}}, "predictor file .* does not exist"),
    ({"space": {"multipliers": {"names": ["u8_exact", "s8_trunc_2"]}}}, "mixes signed and unsigned"),
])
def test_infeasible_or_missing_is_one_clear_error(overrides, message):
    cfg = SearchConfig.from_dict(small_config(**overrides))
    with pytest.raises(ApproxDSEError, match=message):
        cfg.validate()


def test_cli_exits_2_with_one_line(tmp_path, capsys):
    bad = write_config(tmp_path / "bad.yaml", algorithm={"populaton": 4})
    assert main(["search", "run", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("approxdse: error: unknown key 'populaton'") and "\n" not in err
    assert not (tmp_path / "run").exists()
    missing = write_config(tmp_path / "m.yaml", energy={"predictor": "missing.json"})
    assert main(["search", "run", str(missing), "--out", str(tmp_path / "run2")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["search", "run", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    assert main(["search", "run", str(tmp_path / "broken.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: RUN_DIR is required
        main(["search", "report"])
    assert exit_info.value.code == 2 and "RUN_DIR" in capsys.readouterr().err
    assert main(["search", "report", str(tmp_path)]) == 2
    assert "not a search run directory" in capsys.readouterr().err
