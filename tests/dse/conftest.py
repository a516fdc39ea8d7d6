"""Make ``search_helpers`` (next to this file) importable under pytest's importlib import mode."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
