import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.core.yaml_files import load_yaml_file, parse_yaml


def test_reads_a_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb: [x, y]\n")
    assert load_yaml_file(path, "search config") == {"a": 1, "b": ["x", "y"]}


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "none.yaml"
    with pytest.raises(ApproxDSEError, match=r"^layer file '.*none\.yaml' does not exist$"):
        load_yaml_file(path, "layer file")


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [x, y\nc: 2\n")
    with pytest.raises(ApproxDSEError, match=r"^search config '.*bad\.yaml' is not valid YAML at line \d+$"):
        load_yaml_file(path, "search config")
    with pytest.raises(ApproxDSEError, match="problem file 'p.yaml' is not valid YAML"):
        parse_yaml("a: [", "problem file", "p.yaml")
