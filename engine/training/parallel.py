"""Work through thousands of new definitions on two cores: a forked child warms half the cache.

A cold ``plan`` or ``validate`` (a fresh CI runner, a new engine version) parses,
validates and cross-checks every definition, and a plan fingerprints every model: about
0.2 ms a model, a second at 5,000. Above :data:`THRESHOLD` unknown files, with a core to
spare (:func:`spare`: neither the last minute's load nor this instant's runnable tasks
keep it busy), this forks once and splits the new *model* files in two shares. Each
process parses and validates its share and every other new definition (datasets, feature
sets and the project file, which every model's checks need), then runs ``follow`` (the
caller's own checks: cross-references, estimators, fingerprints) on a view of the files
in which the other share's models do not exist. When those other definitions are not few
(more than a quarter as many as the models) or there is nothing to follow, each process
parses and validates half of all the files instead, and the checks are left to the
caller. The child reads its blobs from git with its own ``git cat-file`` and sends back
what it added to the parse cache, the plain values by blob id and the derived facts
(validity, clean checks, fingerprints, dumps), as one ``marshal`` payload; this process
adds them to its cache.

Nothing else changes: the caller then loads and checks *all* the files as on a warm
cache, so every result, every problem (a file with one is left to the caller, which reads
it again and reports it where it is) and their order are those of a single process: the
facts are the same functions of the same blobs whichever process computed them, and
only clean results are remembered. If the child fails in any way its share is simply
done by the caller; if no process can be forked, this one does everything.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
from collections.abc import Callable, Iterator, Mapping, Sequence

from engine.definitions.loading import prepare
from engine.definitions.names import kind_of
from engine.definitions.parse_cache import ParseCache, blob_id

THRESHOLD = 2_000
"""Unknown definitions below which one process is quicker than a fork and a merge."""

Follow = Callable[[ParseCache, Mapping[str, bytes], "Mapping[str, str] | None"], object]
"""Checks that remember their results in the cache: ``follow(cache, files, ids)``."""


def warm(
    cache: ParseCache,
    files: Mapping[str, bytes],
    paths: Sequence[str],
    ids: Mapping[str, str] | None,
    also: Sequence[str] = (),
    follow: Follow | None = None,
) -> None:
    """Parse and validate the definitions ``paths`` (unknown to ``cache``) into it.

    ``ids`` holds each path's git blob id when ``files`` reads blobs on demand (a
    :class:`engine.gitrepo.Tree`, whose ``fetch`` then reads ``also`` too, in the same
    git call); for plain bytes it is None and the ids are computed. ``follow`` runs only
    when the work is split, each process on its share.
    """
    if len(paths) < THRESHOLD or _spare_cores() < 0.5 or not hasattr(os, "fork"):
        _prepare(cache, files, [*paths, *also], ids)
        return
    models = [p for p in paths if kind_of(p) == "model"]
    shared = [p for p in paths if kind_of(p) != "model"]
    if follow is not None and len(shared) * 4 <= len(models):
        # every model's checks need its dataset and feature set: both processes read
        # those (few) and each follows its share of the models
        half = len(models) // 2
        theirs, mine = models[:half], models[half:]
        own, other = [*theirs, *shared], [*mine, *shared]
    else:  # no checks to run ahead, or mostly datasets: each parses half of everything
        follow, half = None, len(paths) // 2
        theirs, mine = list(paths[:half]), list(paths[half:])
        own, other = theirs, mine
    import engine.definitions.formats  # noqa: F401  # imported once, the child inherits it

    parses, facts = set(cache.memory), set(cache.derived)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to spare (a limit, memory): one does it all
        os.close(read_end)
        os.close(write_end)
        _prepare(cache, files, [*paths, *also], ids)
        return
    if pid == 0:  # the child: its share into the cache, what it added sent back, then gone
        code = 1
        try:
            os.close(read_end)
            gc.disable()  # a short life: nothing to collect that the exit does not free
            _share(cache, files, [*own, *also], ids, follow, hide=mine)
            payload = marshal.dumps(
                (
                    {b: v for b, v in cache.memory.items() if b not in parses},
                    {k: v for k, v in cache.derived.items() if k not in facts},
                )
            )
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _share(cache, files, [*other, *also], ids, follow, hide=theirs)
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return  # the caller does the child's share itself
    try:
        # from this process's own child, over a pipe no one else holds
        values, derived = marshal.loads(payload)  # noqa: S302
    except (EOFError, ValueError, TypeError):
        return
    for blob, value in values.items():
        cache.adopt(blob, value)
    for key, fact in derived.items():
        cache.remember(key, fact)


def _share(
    cache: ParseCache,
    files: Mapping[str, bytes],
    paths: Sequence[str],
    ids: Mapping[str, str] | None,
    follow: Follow | None,
    hide: Sequence[str],
) -> None:
    _prepare(cache, files, paths, ids)
    if follow is not None:
        with contextlib.suppress(Exception):  # ahead of time only: the caller does it anyway
            follow(cache, Without(files, hide), ids)


def _prepare(
    cache: ParseCache,
    files: Mapping[str, bytes],
    paths: Sequence[str],
    ids: Mapping[str, str] | None,
) -> None:
    fetch = getattr(files, "fetch", None)
    if ids is not None and fetch is not None:
        # each blob parsed as git writes it, while git reads the next ones
        fetch(paths, lambda path, data: prepare(cache, path, data, ids[path]))
        return
    for path in paths:
        data = files[path]
        prepare(cache, path, data, ids[path] if ids is not None else blob_id(data))


class Without(Mapping[str, bytes]):
    """``files`` in which the paths ``hidden`` do not exist (its ``ids``, ``links`` and
    ``fetch``, if it has them, pass through)."""

    def __init__(self, files: Mapping[str, bytes], hidden: Sequence[str]) -> None:
        self.files, self.hidden = files, frozenset(hidden)
        for name in ("ids", "links", "fetch"):
            if hasattr(files, name):
                setattr(self, name, getattr(files, name))

    def __getitem__(self, path: str) -> bytes:
        if path in self.hidden:
            raise KeyError(path)
        return self.files[path]

    def __contains__(self, path: object) -> bool:
        return path not in self.hidden and path in self.files

    def __iter__(self) -> Iterator[str]:
        return (path for path in self.files if path not in self.hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _spare_cores() -> float:
    """Cores beyond this process's that nothing else keeps busy (a CI runner: all but one).

    On a machine already running more processes than it has cores, a second process only
    adds its start and the merge to a slower run. Busy is what the last minute's load
    average says and what runs this instant (Linux's count of runnable tasks): the
    average lags behind a job that has just started.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return spare(cores, *_load())


def _load() -> tuple[float, int]:
    """The last minute's load average and the tasks runnable now (this one among them),
    both from Linux's ``/proc/loadavg``; elsewhere the load average alone."""
    try:
        with open("/proc/loadavg", encoding="ascii") as stats:
            fields = stats.read().split()
        return float(fields[0]), int(fields[3].partition("/")[0])
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0], 1
    except OSError:
        return 0.0, 1


def spare(cores: int, average: float, running: int) -> float:
    """The spare cores of :func:`_spare_cores`: ``cores`` less this process and the others
    busy on average (the load average less this process) or now (``running`` counts this
    process too)."""
    return cores - 1 - max(average - 1, running - 1, 0.0)


__all__ = ["THRESHOLD", "Follow", "Without", "spare", "warm"]
