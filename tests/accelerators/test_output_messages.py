"""Writers say where they wrote: ``energy``/``workload`` with ``--out`` print nothing on
stdout and one line on stderr naming the file (and the plot's)."""
from approxdse import cli


def test_workload_output_names_the_file(tmp_path, capsys):
    out = tmp_path / "w.json"
    assert cli.main(["workload", "lenet5", "--format", "json", "--out", str(out)]) == 0
    io = capsys.readouterr()
    assert io.out == "" and io.err == f"approxdse: json of 5 layers written to {out}\n"
    assert out.read_text().startswith("{")


def test_energy_output_and_plot_name_their_files(tmp_path, capsys):
    out, png = tmp_path / "e.csv", tmp_path / "e.png"
    assert cli.main(["energy", "lenet5", "--format", "csv", "--out", str(out), "--plot", str(png),
                     "--no-progress"]) == 0
    io = capsys.readouterr()
    assert io.out == ""
    assert io.err.splitlines() == [f"approxdse: energy csv written to {out}", f"approxdse: plot written to {png}"]
    assert out.stat().st_size > 0 and png.read_bytes()[:4] == b"\x89PNG"
