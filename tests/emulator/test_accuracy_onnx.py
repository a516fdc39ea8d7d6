"""``approxdse accuracy`` names what it cannot do with an ONNX model (no converter fits here)."""
from approxdse import cli


def test_accuracy_refuses_onnx_models_in_one_line(capsys):
    assert cli.main(["accuracy", "model.onnx", "--multiplier", "u8_exact"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not ONNX models" in err and "approxdse energy" in err
