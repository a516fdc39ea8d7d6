"""notebooks/02_energy.ipynb runs top to bottom (its last cell checks its own story)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_energy.ipynb"


@pytest.mark.slow  # executes a whole notebook
def test_energy_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit without outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "checks passed" in outputs
    pngs = sorted((tmp_path / "energy_notebook_output").glob("*.png"))
    assert len(pngs) >= 4
