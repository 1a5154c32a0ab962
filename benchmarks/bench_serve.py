"""Serving and batch scoring, each paired with its bare reference in the same run.

On the breast-cancer example (cancer-rf, promoted to staging in a throwaway repository):

- ``mlops serve`` ready time: start to the first 200 from ``/v2/health/ready`` and to the
  first prediction answered (goal <= 3 s), with its CPU, beside a bare interpreter
  importing scikit-learn, skops, kserve and fastapi (the import floor). Every process
  runs with bytecode caching, as an installed engine does (:func:`installed_env`).
- One-row V1 predictions over a keep-alive loopback connection: p50 and p99, against a
  bare in-process ``predict`` on one row (the goal's reference: p50 <= bare + 3 ms,
  p99 <= 4 x p50); ``predict`` + ``predict_proba`` is printed too. Beside them, in
  alternating rounds of the same run, with each server's CPU per request (robust while
  other work loads the machine): the same ``kserve.Model`` on the same estimator without
  checks or log, a ``kserve.Model`` returning a constant (no scikit-learn: KServe's own
  request path), a raw uvicorn + FastAPI endpoint returning the same JSON (no KServe),
  and the engine's ``PinnedModel.predict`` called in process (the model's work without
  HTTP).
- Throughput of one-row requests from a bounded loopback load generator (threads x
  requests, with a time cap): the engine's server (input checks and prediction logs on)
  against the same ``kserve.Model`` serving the same estimator with neither (goal >= 90%).
- ``mlops predict`` on 1,000,000 rows of Parquet (wall and CPU, start-up included)
  against a bare in-process read + ``predict`` and against a bare script in a fresh
  process (import, skops load, read, predict) (goal <= 1.3x), and the peak memory of
  the scoring process at two chunk sizes (bounded by the chunk, not the file).

Run: ``.venv/bin/python benchmarks/bench_serve.py`` (about five minutes on an idle machine;
``--one-row`` measures only the one-row latencies and throughput).
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import init_repo  # noqa: E402
from tests.func.serving import MLOPS, call, free_port  # noqa: E402

MODEL = "cancer-rf"
ROWS = 1_000_000
ONE_ROW_REQUESTS = 400
LOAD_THREADS, LOAD_REQUESTS, LOAD_CAP_S = 4, 100, 30.0


def run(*args: str, cwd: Path) -> None:
    done = subprocess.run([str(MLOPS), *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def installed_env(pycache: Path) -> dict[str, str]:
    """The environment of a process run as an installed engine runs: with bytecode caching.

    A shell may set ``PYTHONDONTWRITEBYTECODE`` (this machine's does), which makes every
    start compile the engine's modules again; pip-installed code has its bytecode. The
    cache goes to ``pycache`` (nothing is written into the source tree); one untimed run
    fills it.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


ENV: dict[str, str] | None = None  # set by main(): installed_env(...)


def start(cmd: list[str], cwd: Path, port: int) -> tuple[subprocess.Popen, float, float]:
    """Start a server; return it, the wall seconds until it answered ready, and its CPU."""
    started = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    deadline = started + 120
    while time.perf_counter() < deadline:
        try:
            if call(f"http://127.0.0.1:{port}/v2/health/ready").status == 200:
                return process, time.perf_counter() - started, cpu_seconds(process.pid)
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("server not ready in 120 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def first_answer(port: int, row: list[float]) -> float:
    """Seconds from now to the first prediction answered (right after ready)."""
    t0 = time.perf_counter()
    reply = call(f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict", {"instances": [row]})
    assert reply.status == 200, reply.body
    return time.perf_counter() - t0


def one_row_latencies(port: int, row: list[float], n: int) -> list[float]:
    body = json.dumps({"instances": [row]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"}
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", f"/v1/models/{MODEL}:predict", body, headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - t0)
        assert response.status == 200
    conn.close()
    return out


def throughput(port: int, row: list[float]) -> float:
    """Requests per second from LOAD_THREADS keep-alive clients (bounded count and time)."""
    body = json.dumps({"instances": [row]})
    headers = {"content-type": "application/json"}
    done = [0] * LOAD_THREADS
    deadline = time.perf_counter() + LOAD_CAP_S

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(LOAD_REQUESTS):
            if time.perf_counter() > deadline:
                break
            conn.request("POST", f"/v1/models/{MODEL}:predict", body, headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                done[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(LOAD_THREADS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_server(repo: Path, port: int) -> None:
    """The same kserve.Model on the same estimator, with no input checks and no log."""
    from engine.serving.model import PinnedModel
    from engine.serving.pinned import pinned_versions
    from engine.serving.server import bind, run_models

    pinned = pinned_versions(repo, "staging", [MODEL])
    models = [PinnedModel(p, None, checks=False) for p in pinned]
    run_models(models, bind("127.0.0.1", port), host="127.0.0.1", announce=lambda _: None)


CONSTANT = {
    "predictions": [0],
    "probabilities": [[0.1, 0.9]],
    "model_name": MODEL,
    "model_version": "constant",
    "classes": [0, 1],
}


def constant_server(port: int) -> None:
    """A ``kserve.Model`` answering a constant on KServe's ModelServer, run as ``mlops
    serve`` runs it (no scikit-learn, no checks, no log): KServe's own request path."""
    from types import SimpleNamespace

    from engine.serving.server import _own_argv, bind, run_models

    with _own_argv():
        from kserve import Model

    class Constant(Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(MODEL, return_response_headers=True)
            self.pinned = SimpleNamespace(version="constant", slot=None, idle=None, canary=None)
            self.ready = True

        def load(self) -> bool:
            return True

        def predict(self, payload, headers=None, response_headers=None):  # type: ignore[no-untyped-def]
            return dict(CONSTANT)

    run_models([Constant()], bind("127.0.0.1", port), host="127.0.0.1", announce=lambda _: None)


def raw_server(port: int) -> None:
    """A FastAPI app on uvicorn answering the same path with the same JSON (no KServe)."""
    import asyncio

    import uvicorn
    from fastapi import FastAPI, Request, Response

    from engine.serving.server import bind

    app = FastAPI()
    answer = json.dumps(CONSTANT).encode()

    async def predict(request: Request) -> Response:
        json.loads(await request.body())
        return Response(answer, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b'{"ready": true}', media_type="application/json")

    # plain routes (no dependency injection; annotations are strings in this module)
    app.router.add_route("/v1/models/{name}:predict", predict, methods=["POST"])
    app.router.add_route("/v2/health/ready", ready, methods=["GET"])

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    asyncio.run(server.serve(sockets=[bind("127.0.0.1", port)]))


def timed_rounds(
    servers: dict[str, tuple[subprocess.Popen, int]],
    local: dict[str, Callable[[], object]],
    row: list[float],
    rounds: int,
    per_round: int,
) -> dict[str, tuple[list[float], float]]:
    """Latencies (s) and CPU seconds per request of each server and in-process call,
    measured in alternating rounds (the machine is shared: each round sees the same load)."""
    out: dict[str, tuple[list[float], float]] = {}
    cpu: dict[str, float] = {}
    lat: dict[str, list[float]] = {name: [] for name in [*servers, *local]}
    for _ in range(rounds):
        for name, (process, port) in servers.items():
            before = cpu_seconds(process.pid)
            lat[name] += one_row_latencies(port, row, per_round)
            cpu[name] = cpu.get(name, 0.0) + cpu_seconds(process.pid) - before
        for name, call_once in local.items():
            before = time.thread_time()
            for _ in range(per_round):
                t0 = time.perf_counter()
                call_once()
                lat[name].append(time.perf_counter() - t0)
            cpu[name] = cpu.get(name, 0.0) + time.thread_time() - before
    for name, values in lat.items():
        out[name] = (values, cpu[name] / len(values))
    return out


FLOOR = (
    "import resource, time; t = time.perf_counter(); "
    "import sklearn.ensemble, skops.io, kserve, fastapi; "
    "r = resource.getrusage(resource.RUSAGE_SELF); "
    "print(time.perf_counter() - t, r.ru_utime + r.ru_stime)"
)


def import_floor() -> tuple[float, float]:
    """Wall and CPU seconds of a bare interpreter importing what any sklearn KServe server
    imports (scikit-learn, skops, kserve, fastapi): the part of a start nothing can cut."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, text=True, env=ENV)
    _, cpu = (float(v) for v in done.stdout.split())
    return time.perf_counter() - t0, cpu


def peak_rss_mb(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident memory (MB) of one fresh process."""
    script = (
        "import resource, subprocess, sys, time;"
        "t=time.perf_counter();"
        f"r=subprocess.run({cmd!r}, cwd={str(cwd)!r}, capture_output=True);"
        "w=time.perf_counter()-t;"
        "assert r.returncode == 0, r.stderr;"
        "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    wall, cpu, kb = out.stdout.split()
    return float(wall), float(cpu), int(kb) / 1024


BARE_SCRIPT = """
import sys
import pandas as pd
import skops.io as sio
data = open(sys.argv[1], "rb").read()
model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
frame = pd.read_parquet(sys.argv[2])
model.predict(frame)
"""


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(one_row_only: bool = False) -> int:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    from engine.serving.logs import PredictionLogger
    from engine.serving.model import PinnedModel
    from engine.serving.pinned import pinned_versions
    from engine.store import Store

    global ENV
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    with tempfile.TemporaryDirectory() as tmp:
        ENV = installed_env(Path(tmp) / "pycache")
        repo = init_repo(Path(tmp) / "repo")
        run("train", MODEL, cwd=repo)
        run("promote", MODEL, "--to", "staging", cwd=repo)
        (pinned,) = pinned_versions(repo, "staging", [MODEL])
        frame = load_breast_cancer(as_frame=True).frame[pinned.signature.names]
        row = [float(v) for v in frame.iloc[0]]

        one = pd.DataFrame([row], columns=pinned.signature.names)
        bare_both = []
        for _ in range(100):
            t1 = time.perf_counter()
            pinned.estimator.predict(one)
            pinned.estimator.predict_proba(one)
            bare_both.append(time.perf_counter() - t1)

        port = free_port()
        serve_cmd = [
            str(MLOPS),
            "serve",
            "--env",
            "staging",
            "--port",
            str(port),
            "--log-dir",
            str(Path(tmp) / "logs"),
        ]
        stop(start(serve_cmd, repo, port)[0])  # untimed: fills the bytecode cache
        import_floor()
        loads = [os.getloadavg()[0]]
        readies, answers, cpus, floors = [], [], [], []
        for _ in range(0 if one_row_only else 3):  # interleaved with the floor
            process, ready, cpu = start(serve_cmd, repo, port)
            readies.append(ready)
            answers.append(ready + first_answer(port, row))
            cpus.append(cpu)
            stop(process)
            floors.append(import_floor())
        loads.append(os.getloadavg()[0])
        engine, _, _ = start(serve_cmd, repo, port)
        here = [sys.executable, __file__]
        servers = {"ours": (engine, port)}
        try:
            for name, flag in (
                ("bare", "--bare-server"),
                ("constant", "--constant-server"),
                ("raw", "--raw-server"),
            ):
                other = free_port()
                servers[name] = (start([*here, flag, str(repo), str(other)], repo, other)[0], other)
            for _, served_port in servers.values():
                one_row_latencies(served_port, row, 50)  # warm up
            on = PinnedModel(pinned, PredictionLogger(Path(tmp) / "inproc-logs"))
            body = {"instances": [row]}
            local = {
                "predict": lambda: pinned.estimator.predict(one),
                "in-process": lambda: on.predict(body, {}, {}),
            }
            figures = timed_rounds(servers, local, row, 8, ONE_ROW_REQUESTS // 8)
            ours, theirs = [], []
            for _ in range(2):  # interleaved: the machine is shared
                ours.append(throughput(port, row))
                theirs.append(throughput(servers["bare"][1], row))
        finally:
            for process, _ in servers.values():
                stop(process)
        if readies:
            print(
                f"serve ready: median {statistics.median(readies):.2f} s wall of {len(readies)} "
                f"starts (first prediction answered at {statistics.median(answers):.2f} s), "
                f"{statistics.median(cpus):.2f} s CPU at ready (goal <= 3 s wall); importing "
                "sklearn+skops+kserve alone: "
                f"{statistics.median(f[0] for f in floors):.2f} s wall, "
                f"{statistics.median(f[1] for f in floors):.2f} s CPU; load average "
                f"{loads[0]:.1f} -> {loads[1]:.1f}"
            )
        p50 = {name: pct(values, 0.5) * 1e3 for name, (values, _) in figures.items()}
        cpu = {name: per_request * 1e3 for name, (_, per_request) in figures.items()}
        p99 = pct(figures["ours"][0], 0.99) * 1e3
        print(
            f"one row V1 ({ONE_ROW_REQUESTS} requests each, alternating rounds; p50 wall, "
            "CPU per request of the serving process):"
        )
        names = {
            "ours": "mlops serve (checks + log)",
            "bare": "bare kserve.Model, same estimator",
            "constant": "kserve.Model returning a constant",
            "raw": "raw uvicorn+FastAPI, same JSON",
            "predict": "bare in-process predict (goal ref)",
            "in-process": "engine PinnedModel.predict, in process",
        }
        for name, label in names.items():
            print(f"  {label:40s} p50 {p50[name]:6.2f} ms   CPU {cpu[name]:6.2f} ms/request")
        print(
            f"  -> mlops serve p50 {p50['ours']:.2f} ms vs bare predict {p50['predict']:.2f} ms: "
            f"{p50['ours'] - p50['predict']:+.2f} ms (goal <= +3 ms); p99 {p99:.2f} ms, "
            f"p99/p50 {p99 / p50['ours']:.1f} (goal <= 4); bare predict+proba "
            f"{pct(bare_both, 0.5) * 1e3:.2f} ms"
        )
        print(
            f"  -> KServe's request path: {cpu['constant'] - cpu['raw']:+.2f} ms CPU per request "
            f"over raw FastAPI ({p50['constant'] - p50['raw']:+.2f} ms p50); HTTP + KServe around "
            f"the engine's model: {cpu['ours'] - cpu['in-process']:+.2f} ms CPU "
            f"({p50['ours'] - p50['in-process']:+.2f} ms p50)"
        )
        best, ref = max(ours), max(theirs)
        print(
            f"throughput, {LOAD_THREADS} clients x 1-row requests: checks+logs "
            f"{best:.0f} req/s, bare kserve.Model {ref:.0f} req/s -> {best / ref:.0%} "
            "(goal >= 90%)"
        )

        if one_row_only:
            return 0
        # batch: 1,000,000 rows made from the dataset with noise
        rng = np.random.default_rng(0)
        picks = rng.integers(0, len(frame), ROWS)
        big = frame.to_numpy()[picks] * rng.normal(1.0, 0.01, (ROWS, frame.shape[1]))
        data = pd.DataFrame(np.abs(big), columns=frame.columns)
        source = Path(tmp) / "big.parquet"
        data.to_parquet(source, row_group_size=65536)  # as a streaming writer makes it
        size_mb = source.stat().st_size / 2**20
        del big, picks, data
        store = Store.open(".mlops/store", repo)
        model_file = store.get(MODEL, pinned.fingerprint).model_path
        for chunk in (16384, 131072):  # each beside a bare run: the machine is shared
            load = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), self_cpu()
            loaded = pd.read_parquet(source)
            pinned.estimator.predict(loaded)
            bare_wall, bare_cpu = time.perf_counter() - t0, self_cpu() - c0
            pinned.estimator.predict_proba(loaded)
            both_wall = time.perf_counter() - t0
            del loaded
            script_wall, script_cpu, _ = peak_rss_mb(
                [sys.executable, "-c", BARE_SCRIPT, str(model_file), str(source)], repo
            )
            out = Path(tmp) / f"scores-{chunk}.parquet"
            wall, cpu, peak = peak_rss_mb(
                [
                    str(MLOPS),
                    "predict",
                    MODEL,
                    "--env",
                    "staging",
                    "--input",
                    str(source),
                    "--output",
                    str(out),
                    "--chunk-rows",
                    str(chunk),
                ],
                repo,
            )
            print(
                f"batch {ROWS:,} rows ({size_mb:.0f} MB parquet), chunks of {chunk}: "
                f"{wall:.1f} s wall, {cpu:.1f} s CPU (start-up included) vs bare in-process "
                f"read+predict {bare_wall:.1f} s wall, {bare_cpu:.1f} s CPU -> "
                f"{wall / bare_wall:.2f}x wall, {cpu / bare_cpu:.2f}x CPU (goal <= 1.3x; "
                "bare read+predict+proba "
                f"{both_wall:.1f} s wall); peak memory {peak:.0f} MB; load average {load:.1f}"
            )
            print(
                f"  the same against a bare script in a fresh process (import, skops load, "
                f"read, predict): {script_wall:.1f} s wall, {script_cpu:.1f} s CPU -> "
                f"{wall / script_wall:.2f}x wall, {cpu / script_cpu:.2f}x CPU"
            )
        print(
            f"(this process, holding the whole table for the bare reference: peak "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("--bare-server", "--constant-server", "--raw-server"):
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        flag, repo_arg, port_arg = sys.argv[1:]
        if flag == "--bare-server":
            bare_server(Path(repo_arg), int(port_arg))
        elif flag == "--constant-server":
            constant_server(int(port_arg))
        else:
            raw_server(int(port_arg))
        sys.exit(0)
    sys.exit(main(one_row_only=sys.argv[1:] == ["--one-row"]))
