"""Compute a plan from a repository: the I/O half of :mod:`engine.training.plan`.

Reads the definitions and DVC pointers at two revisions straight from git objects
(no checkout, so it works in a shallow CI clone once the base commit is fetched), loads
and cross-checks them, and hands them to the pure :func:`engine.training.plan.plan`. The
scikit-learn version comes from the installed package's metadata, so planning never
imports scikit-learn itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from engine import gitrepo
from engine.collector import collecting_rarely
from engine.definitions.loading import Definitions, load
from engine.definitions.names import kind_of
from engine.training.plan import Plan, Snapshot, plan


def read_definitions(
    root: Path, rev: str | None = None, *, save: bool = True
) -> tuple[Definitions, Mapping[str, bytes]]:
    """Load the definitions at ``rev`` (git objects) or in the working tree (``None``).

    The files come as :func:`engine.gitrepo.tree` gives them: at a revision, a blob is
    read from git only when asked for (the parse cache knows most definitions by id).
    ``save=False`` leaves writing the parse cache to the caller (:func:`save_cache`
    once at the end, rather than the whole file again after each revision).
    """
    files = gitrepo.tree(root, rev)
    return _load(root, files, save), files


def _load(root: Path, files: Mapping[str, bytes], save: bool = True) -> Definitions:
    """``load`` through the repository's parse cache (only changed files are parsed)."""
    with collecting_rarely(factor=10_000):  # a bounded pass: all but never
        return _load_all(root, files, save)


def _load_all(root: Path, files: Mapping[str, bytes], save: bool) -> Definitions:
    from engine.definitions.parse_cache import for_root

    cache = for_root(root)
    if isinstance(files, gitrepo.Tree):
        # one git call for what is read next: the DVC pointers and other files, and the
        # definitions the cache does not know
        files.fetch(p for p in files if kind_of(p) is None or not cache.knows(files.ids[p]))
    defs = load(files, cache)
    if save:
        cache.save()
    if any(p.rule == "import-path" for p in defs.problems):
        # A bare class name: name the import path it means, as `mlops validate` does
        # (the catalog is read only then, so planning stays cheap).
        from engine.definitions.catalog import default_catalog
        from engine.definitions.estimators import suggest_import_paths

        defs.problems = suggest_import_paths(defs.problems, default_catalog())
    return defs


def save_cache(root: Path) -> None:
    """Write the parse cache of ``root`` with the facts this process added to it."""
    from engine.definitions.parse_cache import for_root

    for_root(root).save()


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it."""
    return metadata.version("scikit-learn")


def snapshot(
    root: Path, rev: str | None, sklearn: str | None = None, *, save: bool = True
) -> Snapshot:
    """The definitions at ``rev`` (git objects) or in the working tree (``None``)."""
    from engine.definitions.references import check_references

    files = gitrepo.tree(root, rev)
    defs = _load(root, files, save)
    return Snapshot(defs, files, sklearn or sklearn_version(), problems=check_references(defs))


def compute_plan(root: Path, base: str, head: str | None) -> Plan:
    """The plan from ``base`` to ``head`` (a revision, or ``None`` for the working tree)."""
    version = sklearn_version()
    # one git process for both; a name that is no commit here is explained by resolve
    found = gitrepo.commits(root, [base] if head is None else [base, head])
    base_sha = found[base] or gitrepo.resolve(root, base)
    head_sha = None if head is None else found[head] or gitrepo.resolve(root, head)
    with collecting_rarely(factor=10_000):  # a bounded pass: all but never
        base_side = snapshot(root, base_sha, version, save=False)
        result = plan(base_side, snapshot(root, head_sha, version, save=False))
        save_cache(root)  # with what the checks and fingerprints remembered
    return dataclasses.replace(result, base_commit=base_sha, head_commit=head_sha)


__all__ = ["compute_plan", "read_definitions", "save_cache", "sklearn_version", "snapshot"]
