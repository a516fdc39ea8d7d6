"""notebooks/05_search.ipynb runs top to bottom (tiny budget, the real pipeline)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # executes a whole notebook
def test_search_notebook_executes(tmp_path, approxdse_home):
    nb = nbformat.read(ROOT / "notebooks" / "05_search.ipynb", as_version=4)
    NotebookClient(nb, timeout=170, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "Pareto front" in text
