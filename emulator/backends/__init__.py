"""Backend registry: ``reference``, ``cpu`` (numba) and the ``cuda`` plug-in point.

>>> from approxdse.emulator.backends import available_backends, get_backend
>>> "reference" in available_backends()
True
"""
from __future__ import annotations

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.backends.base import Backend, ConvGeometry, wrap_int32
from approxdse.emulator.backends.cpu import CPUBackend
from approxdse.emulator.backends.cuda import CUDABackend
from approxdse.emulator.backends.reference import ReferenceBackend

_REGISTRY: dict[str, type[Backend]] = {}
_INSTANCES: dict[str, Backend] = {}


def register_backend(cls: type[Backend], *, replace: bool = False) -> type[Backend]:
    """Add a backend class under ``cls.name`` (usable as a decorator).

    A GPU backend registers itself as ``"cuda"`` with ``replace=True``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ApproxDSEError(f"{cls!r} is not a Backend subclass")
    if cls.name in _REGISTRY and not replace:
        raise ApproxDSEError(f"a backend named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    _INSTANCES.pop(cls.name, None)
    return cls


for _cls in (ReferenceBackend, CPUBackend, CUDABackend):
    register_backend(_cls)


def registered_backends() -> list[str]:
    """All registered backend names, usable here or not."""
    return list(_REGISTRY)


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine (``auto`` picks among these)."""
    return [name for name, cls in _REGISTRY.items() if cls.is_available()]


def get_backend(name: str = "auto", device_type: str = "cpu") -> Backend:
    """The backend instance for ``name`` (``auto``: the fastest available one for ``device_type``)."""
    if name == "auto":
        if device_type == "cuda" and _REGISTRY.get("cuda", CUDABackend).is_available():
            name = "cuda"
        elif device_type == "cuda":
            raise ApproxDSEError(_REGISTRY.get("cuda", CUDABackend).unavailable_reason())
        else:
            name = "cpu" if _REGISTRY["cpu"].is_available() else "reference"
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ApproxDSEError(f"unknown backend {name!r}; choose auto or one of {', '.join(_REGISTRY)}")
    if not cls.is_available():
        raise ApproxDSEError(cls.unavailable_reason() or f"backend {name!r} cannot run on this machine")
    if name not in _INSTANCES:
        _INSTANCES[name] = cls()
    return _INSTANCES[name]


__all__ = [
    "Backend",
    "ConvGeometry",
    "available_backends",
    "get_backend",
    "register_backend",
    "registered_backends",
    "wrap_int32",
]
