"""Ready-to-use predictors for the built-in accelerators: shipped, cached, or fitted on the fly.

:func:`default_predictor` returns a predictor for ``eyeriss`` or ``simba``
(or any built-in architecture):

1. a model shipped with approxdse (``predictors/models/<accelerator>_<kind>.json``,
   trained by ``benchmarks/predictors_bench.py --ship``) if it was trained on the
   same architecture file and the same reference-model source as installed now;
2. otherwise a model fitted earlier on this machine, cached under
   ``<home>/cache/predictors`` (:func:`approxdse.core.paths.cache_dir`);
3. otherwise one fitted now: a small reference dataset (``nas:N`` CIFAR-preset
   networks, 20 pseudo-networks of random layer shapes and the zoo's CIFAR ResNets, exact and two approximate
   multipliers) is generated into that cache (about a second per network) and
   the model trained on it and cached.

A shipped or cached model whose reference has changed is never used silently:
it is replaced by a fresh fit.
"""
from __future__ import annotations

import sys
from pathlib import Path

from approxdse.accelerators.reference_version import reference_code_hash
from approxdse.core import paths
from approxdse.core.atomic_files import make_dirs
from approxdse.core.errors import ApproxDSEError
from approxdse.accelerators.architecture import available_architectures
from approxdse.predictors.dataset import architecture_hash, generate_dataset
from approxdse.predictors.io import load_predictor
from approxdse.predictors.learned import LearnedPredictor
from approxdse.predictors.summing import SummingPredictor

KINDS = ("summing", "learned")
#: Networks of the on-the-fly dataset.
ON_THE_FLY_NETWORKS = "nas:{n},layers:20,resnet20,resnet32,resnet56"
ON_THE_FLY_MULTIPLIERS = "u8_exact,u8_bam_h2_v6,u8_trunc_3"


def shipped_dir() -> Path:
    return Path(__file__).with_name("models")


def cache_dir() -> Path:
    """Where default predictors fitted on this machine (and their datasets) are cached."""
    return paths.cache_dir("predictors")


def _current(accelerator: str) -> dict:
    return {"architecture_sha256": architecture_hash(accelerator), "reference_code_sha256": reference_code_hash()}


def _usable(path: Path, current: dict):
    if not path.is_file():
        return None
    try:
        pred = load_predictor(path)
    except ApproxDSEError:
        return None
    info = pred.reference_info
    if all(info.get(k) == v for k, v in current.items()):
        return pred
    return None


def default_predictor(accelerator: str = "eyeriss", kind: str = "summing", networks: int = 60,
                      progress: bool = True):
    """A fitted predictor for a built-in accelerator (see the module docstring).

    ``kind``: ``summing`` (the default: exact-anchored on the networks it was
    fitted on, ``a + b * sum(MACs x relative energy)`` elsewhere) or
    ``learned`` (XGBoost, layer level), far more accurate across networks the
    predictor has not seen, which is what a search over architectures needs.
    """
    if kind not in KINDS:
        raise ApproxDSEError(f"default predictor kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if accelerator not in available_architectures():
        raise ApproxDSEError(
            f"default predictors exist for the built-in accelerators ({', '.join(available_architectures())}), "
            f"not {accelerator!r}; train one with approxdse train-predictor"
        )
    current = _current(accelerator)
    name = f"{accelerator}_{kind}.json"
    for folder in (shipped_dir(), cache_dir()):
        pred = _usable(folder / name, current)
        if pred is not None:
            return pred
    return _fit_on_the_fly(accelerator, kind, networks, progress)


def _fit_on_the_fly(accelerator: str, kind: str, networks: int, progress: bool):
    folder = cache_dir()
    make_dirs(folder)
    tag = _current(accelerator)["reference_code_sha256"][:12]
    data = folder / f"dataset-{accelerator}-{tag}-n{networks}"
    if progress:
        print(f"approxdse: fitting a default {kind} predictor for {accelerator} "
              f"({networks} generated networks through the reference; cached in {folder})", file=sys.stderr)
    generate_dataset(data, accelerator, ON_THE_FLY_NETWORKS.format(n=networks), ON_THE_FLY_MULTIPLIERS,
                     seed=0, progress=progress)
    pred = (LearnedPredictor() if kind == "learned" else SummingPredictor()).fit(data, accelerator)
    pred.save(folder / f"{accelerator}_{kind}.json")
    return pred
