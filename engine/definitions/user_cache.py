"""Where the engine keeps what outlives a repository: the user's cache directory.

The estimator catalog built for an unshipped scikit-learn and the key that authenticates
the caches under ``.mlops/cache/`` live there. A module of its own so that reading the
parse cache (which needs the key) does not import the catalog.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MLOPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlops``, else ``~/.cache/mlops``."""
    if os.environ.get("MLOPS_CACHE_DIR"):
        return Path(os.environ["MLOPS_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "mlops"
    return Path.home() / ".cache" / "mlops"


__all__ = ["cache_dir"]
