"""notebooks/01_multipliers.ipynb runs top to bottom."""
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_multipliers.ipynb"


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="the notebook imports a C model")
@pytest.mark.slow  # executes a whole notebook
def test_notebook_runs(approxdse_home, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "multipliers," in outputs and "usable by name" in outputs
    assert (approxdse_home / "multipliers" / "demo_c_model.yaml").is_file()
