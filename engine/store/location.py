"""Where the store is: ``store.url`` of ``mlops/project.yaml``, unless a job says otherwise.

Two environment variables, set by a workflow (never read from a definition, so a pull
request's files cannot move where a privileged job reads or writes versions):

- ``MLOPS_STORE``: the store to use instead of ``store.url``. The pull-request workflow
  sets it to the local folder ``.mlops/store`` that its jobs hand on with
  ``actions/cache`` and artifacts (they hold no credentials, so they could not write the
  project's store anyway), and so do the ``train`` jobs of the main workflow.
- ``MLOPS_STORE_FROM``: another store whose versions ``mlops train`` (and a push's
  ``mlops event``) copies instead of training them again, when the store lacks them.
  The main workflow's ``register`` job sets it to the folder the ``train`` jobs filled:
  their versions reach the project's store without a second training.

Either is a URL or folder, as ``store.url`` is; empty means unset. Pure apart from reading
the environment it is given (``os.environ`` by default); imports nothing heavy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

STORE_ENV = "MLOPS_STORE"
FROM_ENV = "MLOPS_STORE_FROM"


def store_url(configured: str, environ: Mapping[str, str] | None = None) -> str:
    """The store to open: ``MLOPS_STORE`` when set, else ``configured`` (``store.url``)."""
    env = os.environ if environ is None else environ
    return env.get(STORE_ENV, "").strip() or configured


def seed_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The store to copy missing versions from (``MLOPS_STORE_FROM``), or None."""
    env = os.environ if environ is None else environ
    return env.get(FROM_ENV, "").strip() or None


__all__ = ["FROM_ENV", "STORE_ENV", "seed_url", "store_url"]
