"""The cyclic garbage collector, made to run rarely where a pass would free nothing.

Used by the CLI around the pull-request events (mostly start-up), by planning around
its pass over every definition and by training around importing its libraries; one
mechanism, so a pause inside a pause is one pause. Training's forked workers leave the
heap they inherit to the parent (:func:`frozen_for_children`).
At exit, the interpreter's teardown skips its final full collection
(:func:`skip_the_last_collection`).
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

_paused_from: tuple[int, int, int] | None = None
"""The collector's thresholds before :func:`collecting_rarely`, while it lasts."""
_fork_hook = False


def _end_pause_in_child() -> None:
    """A forked child (a training worker) collects as usual."""
    if _paused_from is not None:
        gc.set_threshold(*_paused_from)


@contextmanager
def collecting_rarely(factor: int = 100) -> Iterator[None]:
    """Collect ``factor`` times more rarely inside the block.

    Starting a command up, or loading thousands of definitions, allocates a few hundred
    thousand objects that all live on (modules, classes, pydantic's validators, parsed
    entries), and the collector examines each of them a couple of times for nothing.
    Inside the block the youngest generation's threshold is raised: collections still
    happen (memory stays bounded however long the work), only rarely. The thresholds come
    back with the end of the block, and at once in a forked child. A collector found off,
    or paused already, is left as it is.

    What the block allocated is then handed to the oldest generation as it is (see
    :func:`_to_the_oldest`): restoring the thresholds with hundreds of thousands of young
    objects pending would make the next allocation examine them all at once (0.15 s after
    a plan over 5,000 models), and promote them towards a full collection soon after.
    """
    global _fork_hook, _paused_from
    saved = gc.get_threshold()
    if _paused_from is not None or not gc.isenabled() or not saved[0]:
        yield
        return
    if not _fork_hook:
        os.register_at_fork(after_in_child=_end_pause_in_child)
        _fork_hook = True
    _paused_from = saved
    gc.set_threshold(saved[0] * factor, saved[1], saved[2])
    try:
        yield
    finally:
        _to_the_oldest()
        gc.set_threshold(*saved)
        _paused_from = None


def _to_the_oldest() -> None:
    """Move every tracked object to the oldest generation, without a collection pass.

    ``gc.freeze`` moves them all to the permanent generation (and empties the youngest
    one's count), ``gc.unfreeze`` back to the oldest, where the next full collection
    examines them as usual: a cycle made inside the block is still freed then. Both are
    constant-time list splices. Skipped when objects are frozen already (a fork server
    that froze its heap for its children): unfreezing would hand those back too.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextmanager
def frozen_for_children() -> Iterator[None]:
    """Hide every object allocated so far from the collector while forked children run.

    A forked training worker inherits the parent's heap: the engine, pandas, scikit-learn
    and scipy, several hundred thousand objects. Its first full collection would examine
    them all (0.1-0.3 s of a worker's CPU, to free nothing it made) and, since the
    collector's bookkeeping lives in each object's header, write to every page that holds
    one: the pages it shares with the parent are copied (copy-on-write), in time and memory.
    ``gc.freeze`` moves them to the permanent generation, which no collection examines; a
    worker still collects what it allocates itself. At the end of the block they go back
    to the oldest generation (``gc.unfreeze``: a list splice, no collection), so a cycle
    among them is freed by the parent's next full collection as before. Left as it is
    when objects are frozen already (a fork server that froze its heap for its children):
    unfreezing would hand those back too.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def skip_the_last_collection() -> None:
    """At exit, let the interpreter's teardown skip its full garbage collection.

    A command is one process: everything it imported (pydantic, github3, ...) is freed by
    the operating system anyway, and the final collection over all of it cost about as much
    as the whole work of a no-op event. Registered after the other ``atexit`` handlers,
    ``gc.freeze`` runs first (last in, first out); they still run after it (freezing only
    hides objects from the collector: logging's flush and temporary folders' cleanup are
    explicit). What only a collection would finalize (a cycle holding an unclosed file)
    is not: the engine closes its files with ``with``. Once per process (tests run many
    commands in one).
    """
    global _frozen_at_exit
    if not _frozen_at_exit:
        atexit.register(gc.freeze)
        _frozen_at_exit = True


_frozen_at_exit = False


__all__ = ["collecting_rarely", "frozen_for_children", "skip_the_last_collection"]
