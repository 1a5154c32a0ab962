"""Run each training in its own worker process, under its time and memory budget.

A model definition is data from a pull request, and a valid one can still ask for hours
of work or gigabytes of memory (``n_estimators: 100000000``). So every training runs in
a forked child process, in a process group of its own:

- memory: the child caps its address space (``RLIMIT_AS``) at what it already maps plus
  the budget's ``memory_mb``, so an allocation beyond it raises ``MemoryError`` inside
  the fit, which :func:`engine.training.train.run` reports as that model's failure;
- time: the parent waits until the budget's ``seconds`` have passed, then kills the
  child's whole group (its own workers included) and reports the model as failed.

A child that dies or is killed stores nothing: the store writes a version in one step at
the end (``Store.writer``). Up to ``workers`` children fit at once; the parent only
waits, so a slow model never holds up the others' results. A child tells the parent when
its model is fitted (:data:`SAVING`), and its saving then overlaps the next child's fit:
up to ``workers`` more children may be saving.

Everything a training imports (the libraries, each job's estimator and step classes, its
data reader, skops) is imported once by the parent before the first child starts
(:func:`engine.training.train.preload`), so every child inherits it instead of importing
it again; and the children's garbage collector leaves that inherited heap alone
(:func:`engine.collector.frozen_for_children`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from engine.collector import frozen_for_children
from engine.training.train import Outcome, TrainJob, preload, run

BUDGET_HINT = "budget: in mlops/project.yaml (the ceiling) or in the model's file"


@dataclass
class _Running:
    job: TrainJob
    process: Any  # multiprocessing.Process (typed loosely: the fork context's class)
    reader: Connection
    started: float
    deadline: float
    saving: bool = False
    """Fitted and saving: no longer holds one of the ``workers`` fitting slots."""


SAVING = "fitted, saving"
"""What a child sends before its outcome once its model is fitted."""


def run_all(
    jobs: Sequence[TrainJob], workers: int, progress: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Train every job in a worker process, at most ``workers`` at once, each on budget."""
    context = multiprocessing.get_context("fork")
    for job in jobs:
        # imported once here, not once per worker: the libraries and each job's estimator
        # and step classes (each forked worker inherits them)
        preload(job)
    with frozen_for_children():  # the workers leave the heap they inherit alone
        return _run(context, list(jobs), max(1, workers), progress)


def _run(
    context: Any, pending: list[TrainJob], slots: int, progress: Callable[[Outcome], None] | None
) -> list[Outcome]:
    running: list[_Running] = []
    done: list[Outcome] = []
    while pending or running:
        while pending and sum(not r.saving for r in running) < slots and len(running) < 2 * slots:
            running.append(_start(context, pending.pop(0)))
        now = time.monotonic()
        soonest = min(r.deadline for r in running)
        # The pipe too: a child blocks on a large answer until the parent reads it.
        ready = [r.process.sentinel for r in running] + [r.reader for r in running]
        wait(ready, timeout=max(0.0, soonest - now))
        for item in list(running):
            outcome = _collect(item)
            if outcome is not None:
                running.remove(item)
                done.append(outcome)
                if progress:
                    progress(outcome)
    return done


def _start(context: Any, job: TrainJob) -> _Running:
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, writer), daemon=False)
    started = time.monotonic()
    process.start()
    writer.close()
    return _Running(job, process, reader, started, started + job.budget.seconds)


def _collect(item: _Running) -> Outcome | None:
    """The job's outcome once its child has finished or run out of time; else None."""
    name, budget = item.job.model.name, item.job.budget
    while item.reader.poll():
        try:
            message: Outcome | str = item.reader.recv()
        except EOFError:  # the child died before it could answer
            item.process.join()
            message = _died(item)
        if message == SAVING:
            item.saving = True
            continue
        assert isinstance(message, Outcome)
        item.process.join()
        item.reader.close()
        return message
    if not item.process.is_alive():
        item.process.join()
        item.reader.close()
        return _died(item)
    if time.monotonic() < item.deadline:
        return None
    _kill(item.process)
    item.reader.close()
    return _failed(
        item,
        f"training took longer than its budget of {budget.seconds:g}s and was stopped; "
        f"nothing was stored. Make {name} cheaper, or raise {BUDGET_HINT} (seconds)",
    )


def _died(item: _Running) -> Outcome:
    """A worker that ended without an answer: a native library aborted, or memory ran out."""
    return _failed(
        item,
        f"training stopped: its worker exited ({_exit(item)}) without a result; nothing was "
        f"stored. If it ran out of memory, its budget is {item.job.budget.memory_mb} MB "
        f"({BUDGET_HINT}, memory_mb)",
    )


def _failed(item: _Running, reason: str) -> Outcome:
    seconds = time.monotonic() - item.started
    return Outcome(
        item.job.model.name, item.job.fingerprint, "failed", reason=reason, seconds=seconds
    )


def _exit(item: _Running) -> str:
    code = item.process.exitcode
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _kill(process: Any) -> None:
    """Kill the child and every process it started (its group), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.kill()
    process.join()


def _child(job: TrainJob, writer: Connection) -> None:
    """The worker: its own process group, the memory cap, the training, the answer."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    preload(job)  # inherited from the parent: nothing left to import
    cap_memory(job.budget.memory_mb)
    writer.send(run(job, on_fitted=lambda: writer.send(SAVING)))
    writer.close()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cap_memory(megabytes: int) -> bool:
    """Cap this process's address space at what it maps now plus ``megabytes``.

    Relative to the current size, because a Python with NumPy and scikit-learn loaded
    already maps hundreds of megabytes (thread stacks, shared libraries) that a fit does
    not use. Returns False where the size can't be read (no ``/proc``): no cap there.
    """
    import resource

    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    limit = pages * os.sysconf("SC_PAGE_SIZE") + megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return True


__all__ = ["BUDGET_HINT", "SAVING", "cap_memory", "run_all", "usable_cpus"]
