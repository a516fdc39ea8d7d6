"""Fingerprints of source code that change only when its behaviour can.

Datasets and shipped predictor models record which reference-model code made
their energies. Hashing the raw files would call them stale after any edit of an
import line, a docstring or a comment; :func:`code_fingerprint` hashes the
syntax tree without imports, docstrings, comments or layout instead.
"""
from __future__ import annotations

import ast

__all__ = ["code_fingerprint"]


def code_fingerprint(source: bytes | str) -> bytes:
    """A canonical dump of ``source``'s syntax tree minus imports and docstrings."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        kept = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))
                and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                         and isinstance(n.value.value, str))]
        node.body = kept or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False).encode()
