"""One hash of the reference sources and one version string, wherever they are recorded."""
import hashlib
import json
from pathlib import Path

import approxdse
from approxdse import accelerators
from approxdse.accelerators import estimate
from approxdse.accelerators.reference_version import (
    REFERENCE_MODULES,
    model_version,
    reference_code_hash,
    reference_version,
)
from approxdse.predictors import defaults
from approxdse.predictors.dataset import build_manifest, generate_dataset

PACKAGE = Path(estimate.__file__).parent


def test_the_hash_covers_the_model_sources_and_architecture_files():
    digest = hashlib.sha256()
    for name in REFERENCE_MODULES:
        digest.update(name.encode() + (PACKAGE / f"{name}.py").read_bytes())
    for path in sorted((PACKAGE / "data").glob("*.yaml"), key=lambda p: p.name):
        digest.update(path.name.encode() + path.read_bytes())
    assert reference_code_hash() == digest.hexdigest()
    assert {"estimate", "mapper", "model", "energy_tables", "architecture"} <= set(REFERENCE_MODULES)


def test_the_hash_changes_with_a_source_file(monkeypatch, tmp_path):
    """A changed model file is a different reference (so stale datasets and predictors are refused)."""
    import shutil

    from approxdse.accelerators import reference_version as rv

    before = reference_code_hash()
    copy = tmp_path / "accelerators"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "mapper.py").write_text((copy / "mapper.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(rv.resources, "files", lambda package: copy)
    rv.reference_code_hash.cache_clear()
    try:
        assert rv.reference_code_hash() != before
    finally:
        rv.reference_code_hash.cache_clear()


def test_every_record_uses_the_same_strings(tmp_path):
    assert model_version() == f"energy-{reference_code_hash()[:12]}" == estimate.MODEL_VERSION
    assert reference_version() == f"approxdse {approxdse.__version__}, model {model_version()}"
    assert accelerators.reference_code_hash is reference_code_hash
    manifest = build_manifest(["eyeriss"], ["lenet5"], ["u8_exact"], 0)
    assert manifest["reference"] == reference_version()
    assert manifest["reference_code_sha256"] == reference_code_hash()
    assert defaults._current("eyeriss")["reference_code_sha256"] == reference_code_hash()
    # a predictor trained on a dataset carries the dataset's reference identity
    from approxdse.predictors.summing import SummingPredictor

    generate_dataset(tmp_path / "d", "eyeriss", "lenet5", "u8_exact,u8_trunc_2", progress=False)
    pred = SummingPredictor().fit(tmp_path / "d", "eyeriss")
    pred.save(tmp_path / "p.json")
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["approxdse"] == approxdse.__version__
    assert saved["reference_info"]["reference"] == reference_version()
    assert saved["reference_info"]["reference_code_sha256"] == reference_code_hash()
