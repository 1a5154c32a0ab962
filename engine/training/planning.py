"""Compute a plan from a repository: the I/O half of :mod:`engine.training.plan`.

Reads the definitions and DVC pointers at two revisions straight from git objects
(no checkout, so it works in a shallow CI clone once the base commit is fetched), loads
and cross-checks them, and hands them to the pure :func:`engine.training.plan.plan`. The
scikit-learn version comes from the installed package's metadata
(:func:`engine.definitions.catalog_format.sklearn_version`), so planning never imports
scikit-learn itself.

A review of two revisions whose definitions and pointers are the same files, blob for
blob, needs no plan at all when that content was planned before without a single problem
(:func:`unchanged`): every model keeps its version and there is nothing to report. That
fact is kept in the parse cache (HMAC-authenticated, under the engine's code key), so the
pull request that changes no definition (a README, code elsewhere) loads no definition,
and neither pydantic nor the formats.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine import gitrepo
from engine.collector import collecting_rarely
from engine.definitions.catalog_format import sklearn_version

if TYPE_CHECKING:
    from engine.definitions.loading import Definitions
    from engine.definitions.parse_cache import ParseCache
    from engine.training.parallel import Follow
    from engine.training.plan import Plan, Snapshot


def read_definitions(
    root: Path, rev: str | None = None, *, save: bool = True, follow: Follow | None = None
) -> tuple[Definitions, Mapping[str, bytes]]:
    """Load the definitions at ``rev`` (git objects) or in the working tree (``None``).

    The files come as :func:`engine.gitrepo.tree` gives them: at a revision, a blob is
    read from git only when asked for (the parse cache knows most definitions by id).
    ``save=False`` leaves writing the parse cache to the caller (:func:`save_cache`
    once at the end, rather than the whole file again after each revision). ``follow``:
    the checks the caller runs next, run ahead on shares of thousands of new files
    (:func:`engine.training.parallel.warm`).
    """
    files = gitrepo.tree(root, rev)
    return _load(root, files, save, follow), files


def _load(
    root: Path, files: Mapping[str, bytes], save: bool = True, follow: Follow | None = None
) -> Definitions:
    """``load`` through the repository's parse cache (only changed files are parsed).

    ``follow`` is what the caller checks next, run ahead on each share of the files when
    thousands of new ones are split between two processes (:mod:`engine.training.parallel`).
    """
    with collecting_rarely(factor=10_000):  # a bounded pass: all but never
        return _load_all(root, files, save, follow)


def _load_all(
    root: Path, files: Mapping[str, bytes], save: bool, follow: Follow | None
) -> Definitions:
    from engine.definitions.loading import load
    from engine.definitions.names import kind_of
    from engine.definitions.parse_cache import blob_id, for_root
    from engine.training.parallel import warm

    cache = for_root(root)
    if isinstance(files, gitrepo.Tree):
        # one git call for what is read next: the definitions the cache does not know,
        # each parsed and validated as it comes (while git reads the next ones), and the
        # DVC pointers and other files; on two processes when there are thousands
        ids: Mapping[str, str] = files.ids
        unknown = [p for p in files if kind_of(p) is not None and not cache.knows(ids[p])]
        others = [p for p in files if kind_of(p) is None]
    else:
        ids = {p: blob_id(files[p]) for p in files if kind_of(p) is not None}
        unknown = [p for p, blob in ids.items() if not cache.knows(blob)]
        others = []
    warm(cache, files, unknown, ids, also=others, follow=follow)
    defs = load(files, cache, ids)
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


def snapshot(
    root: Path,
    rev: str | None,
    sklearn: str | None = None,
    *,
    save: bool = True,
    files: Mapping[str, bytes] | None = None,
) -> Snapshot:
    """The definitions at ``rev`` (git objects) or in the working tree (``None``);
    ``files``: :func:`engine.gitrepo.tree` of it, when read already."""
    from engine.definitions.references import check_references
    from engine.training.plan import Snapshot

    version = sklearn or sklearn_version()
    files = gitrepo.tree(root, rev) if files is None else files
    defs = _load(root, files, save, functools.partial(_fingerprinted, version))
    return Snapshot(defs, files, version, problems=check_references(defs))


def _fingerprinted(
    version: str, cache: ParseCache, files: Mapping[str, bytes], ids: Mapping[str, str] | None
) -> None:
    """What :func:`snapshot` and the plan derive from ``files``, remembered in ``cache``."""
    from engine.definitions.loading import load
    from engine.definitions.references import check_references
    from engine.training.plan import Snapshot, remember_fingerprints

    defs = load(files, cache, ids)
    remember_fingerprints(Snapshot(defs, files, version, problems=check_references(defs)))


def compute_plan(root: Path, base: str, head: str | None) -> Plan:
    """The plan from ``base`` to ``head`` (a revision, or ``None`` for the working tree)."""
    from engine.definitions.parse_cache import for_root
    from engine.training.plan import plan

    version = sklearn_version()
    # one git process for both; a name that is no commit here is explained by resolve
    found = gitrepo.commits(root, [base] if head is None else [base, head])
    base_sha = found[base] or gitrepo.resolve(root, base)
    head_sha = None if head is None else found[head] or gitrepo.resolve(root, head)
    base_files, head_files = gitrepo.tree(root, base_sha), gitrepo.tree(root, head_sha)
    with collecting_rarely(factor=10_000):  # a bounded pass: all but never
        before = base_sklearn(base_files, head_files, version)
        base_side = snapshot(root, base_sha, before, save=False, files=base_files)
        head_side = snapshot(root, head_sha, version, save=False, files=head_files)
        result = plan(base_side, head_side)
        if _clean(result):
            # the head's files plan without a problem: a later review of two revisions
            # holding exactly these files needs no plan (`unchanged`)
            for_root(root).remember(_quiet_key(head_side.files), True)
        save_cache(root)  # with what the checks and fingerprints remembered
    return dataclasses.replace(result, base_commit=base_sha, head_commit=head_sha)


def base_sklearn(base: Mapping[str, bytes], head: Mapping[str, bytes], running: str) -> str:
    """The scikit-learn whose versions the base's models have: the one its workflows pin
    when the head's pin another (the pull request that bumps it: every model's version
    moves, with that reason), else the one running (both sides are what it trains)."""
    before, after = pinned_sklearn(base), pinned_sklearn(head)
    return before if before is not None and after is not None and before != after else running


_PIN = re.compile(r"scikit[-_.]learn\s*==\s*([0-9][0-9A-Za-z.+!]*)", re.IGNORECASE)


def pinned_sklearn(files: Mapping[str, bytes]) -> str | None:
    """The scikit-learn version the workflows among ``files`` install (``scikit-learn==X``,
    as the workflows ``mlops init`` writes pin it), or None: no pin, or several."""
    paths = [path for path in files if path.startswith(gitrepo.WORKFLOWS)]
    fetch = getattr(files, "fetch", None)
    if fetch is not None:
        fetch(paths)  # one git call for all of them
    found = {pin for path in paths for pin in _PIN.findall(files[path].decode("utf-8", "replace"))}
    return found.pop() if len(found) == 1 else None


def unchanged(root: Path, base: str, head: str) -> tuple[str, str] | None:
    """The SHAs of ``base`` and ``head`` when no plan is needed between them, else None.

    That is when both commits hold the same definitions, DVC pointers and workflows
    (same paths, same blobs: then every model has the same version on both sides, the
    workflows pinning the same scikit-learn, so nothing is to train or compare) and a
    plan of exactly those files found no problem before (a fact :func:`compute_plan`
    keeps in the parse cache, under the engine's code and this scikit-learn's version).
    Costs the two tree listings a plan starts with (two git processes for two SHAs), and
    loads nothing: no definition, no pydantic.
    """
    base_sha: str | None = base
    head_sha: str | None = head
    if not (gitrepo.is_full_sha(base) and gitrepo.is_full_sha(head)):  # an event's SHAs
        # are each checked as they are listed; names are resolved first
        found = gitrepo.commits(root, [base, head])  # one git process for both
        base_sha, head_sha = found[base], found[head]
    if base_sha is None or head_sha is None:
        return None  # the plan explains what is missing
    before = gitrepo.commit_tree(root, base_sha)
    after = gitrepo.commit_tree(root, head_sha) if before is not None else None
    if before is None or after is None or before.ids != after.ids or after.links:
        return None  # other files, no such commit, or a link to report (the plan says so)
    from engine.definitions.parse_cache import for_root

    if for_root(root).recall(_quiet_key(after)) is not True:
        return None
    return base_sha, head_sha


def _clean(result: Plan) -> bool:
    """Whether the plan's head side had no problem at all (errors or warnings)."""
    return not result.problems and all(
        not m.problems and m.status != "invalid" for m in result.models
    )


def _quiet_key(files: Mapping[str, bytes]) -> str:
    """The parse cache's key for "these files plan cleanly": every path with its blob id,
    and scikit-learn's version (the datasets it ships are named by it)."""
    from engine.definitions import installed
    from engine.definitions.parse_cache import blob_id

    ids = files.ids if isinstance(files, gitrepo.Tree) else None
    listing = hashlib.sha256(installed.version("scikit-learn").encode() + b"\0")
    for path in sorted(files):
        blob = ids[path] if ids is not None else blob_id(files[path])
        listing.update(f"{path}\0{blob}\n".encode("utf-8", "surrogateescape"))
    for path in getattr(files, "links", ()):  # skipped, yet part of what was planned
        listing.update(f"{path}\0link\n".encode("utf-8", "surrogateescape"))
    return f"quiet:{listing.hexdigest()}"


__all__ = [
    "base_sklearn",
    "compute_plan",
    "pinned_sklearn",
    "read_definitions",
    "save_cache",
    "sklearn_version",
    "snapshot",
    "unchanged",
]
