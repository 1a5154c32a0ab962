"""Where an environment branch's pins are read: the remote's copy, else the local branch.

Apart from :mod:`engine.environments.pins` (which re-exports it) so that a reader can
learn which of many branches exist (one ``git cat-file`` for all) before importing the
pin format: a review before the first promotion has no pin to parse.
"""

from __future__ import annotations


def pin_refs(branch: str) -> tuple[str, str]:
    """Where the pins of ``branch`` are read: the remote's copy, the truth when there is one,
    else the local branch."""
    return f"origin/{branch}", branch


__all__ = ["pin_refs"]
