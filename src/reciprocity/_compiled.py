"""Loading the optional compiled (Numba) kernels: ``pip install "reciprocity[numba]"``."""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType


@lru_cache(maxsize=None)
def optional_kernel(module: str) -> ModuleType | None:
    """The kernel module ``module`` (imported once), or None when Numba is not installed (the NumPy engines are
    used then)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
