"""Parse thousands of new definitions on two cores: a forked child warms half the cache.

A cold ``plan`` or ``validate`` (a fresh CI runner, a new engine version) parses and
validates every definition, 0.1 ms each: half a second at 5,000 models. Above
:data:`THRESHOLD` unknown files, with a core to spare (two or more, not all kept busy by
other processes: the load average says), this forks once
(after the imports, so the child starts with everything loaded), and the child parses
and validates the first half of the files (reading its blobs from git with its own
``git cat-file``) while this process does the second half. The child sends back what a
parse cache remembers, the plain values by blob id and which blobs are valid
definitions, as one ``marshal`` payload; this process adds them to its cache.

Nothing else changes: :func:`engine.definitions.loading.load` then runs as on a warm
cache, so every result, every problem (a file with one is left to ``load``, which
reads it again and reports it where it is) and their order are those of a single
process. If the child fails in any way its half is simply parsed by ``load``.
"""

from __future__ import annotations

import gc
import marshal
import os
from collections.abc import Mapping, Sequence

from engine.definitions.loading import prepare
from engine.definitions.parse_cache import ParseCache, blob_id

THRESHOLD = 2_000
"""Unknown definitions below which one process is quicker than a fork and a merge."""


def warm(
    cache: ParseCache,
    files: Mapping[str, bytes],
    paths: Sequence[str],
    ids: Mapping[str, str] | None,
    also: Sequence[str] = (),
) -> None:
    """Parse and validate the definitions ``paths`` (unknown to ``cache``) into it.

    ``ids`` holds each path's git blob id when ``files`` reads blobs on demand (a
    :class:`engine.gitrepo.Tree`, whose ``fetch`` then reads ``also`` too, in the same
    git call); for plain bytes it is None and the ids are computed.
    """
    if len(paths) < THRESHOLD or _spare_cores() < 0.5 or not hasattr(os, "fork"):
        _prepare(cache, files, [*paths, *also], ids)
        return
    half = len(paths) // 2
    theirs, mine = paths[:half], [*paths[half:], *also]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its half into a cache of its own, sent back, then gone
        code = 1
        try:
            os.close(read_end)
            gc.disable()  # a short life: nothing to collect that the exit does not free
            found = ParseCache()
            _prepare(found, files, theirs, ids)
            valid = [key for key in found.derived if key.startswith("valid:")]
            payload = marshal.dumps((found.memory, valid))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _prepare(cache, files, mine, ids)
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return  # load parses the child's half itself
    try:
        # from this process's own child, over a pipe no one else holds
        values, valid = marshal.loads(payload)  # noqa: S302
    except (EOFError, ValueError, TypeError):
        return
    for blob, value in values.items():
        cache.adopt(blob, value)
    for key in valid:
        cache.remember(key, True)


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


def _spare_cores() -> float:
    """Cores beyond this process's that nothing else keeps busy (a CI runner: all but one).

    On a machine already running more processes than it has cores, a second process only
    adds its start and the merge to a slower run.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return cores - 1 - max(busy - 1, 0.0)


__all__ = ["THRESHOLD", "warm"]
