"""The probe runner: starts one fresh worker subprocess per framework, enforces its time
limit (killing its whole process group), gathers the streamed results and compares the
two frameworks' eager outputs. Imports no framework, so the web process can use it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.decision.probe_document import SCHEMA, ProbeRunDocument
from probes import weights
from probes.plan import FRAMEWORKS, MODELS, MODES, VARIANTS, WorkerConfig

PARITY_TOLERANCE = 1e-4


@dataclass
class Progress:
    """What is running and how far the run is: steps are (framework, model, variant)."""

    total: int
    done: int = 0
    current: str = "starting"

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "done": self.done, "current": self.current}


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Collected:
    measurements: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    finished: bool = False


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def run_probes(
    models: list[str] | None = None,
    frameworks: list[str] | None = None,
    mode: str = "quick",
    threads: int | None = None,
    timeout_s: float = 900.0,
    on_progress: ProgressCallback | None = None,
    fault: dict[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> ProbeRunDocument:
    """Run the probes and return the probe-run document; failures are recorded, not raised."""
    models = list(models or MODELS)
    frameworks = list(frameworks or FRAMEWORKS)
    threads = threads or default_threads()
    plan = MODES[mode]
    progress = Progress(total=sum(len(VARIANTS[f]) * len(models) for f in frameworks))
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    collected: dict[str, _Collected] = {}
    # A private directory per run: weights, exported artifacts and compiler caches
    # never sit at a predictable path, and nothing is reused between runs.
    with tempfile.TemporaryDirectory(prefix="advisor-probe-") as tmp:
        weights_path = Path(tmp) / "weights.npz"
        weights.save(weights_path)
        for framework in frameworks:
            if cancel is not None and cancel.is_set():
                break
            workdir = Path(tmp) / framework
            workdir.mkdir()
            config = WorkerConfig(
                framework=framework, models=tuple(models), variants=VARIANTS[framework],
                mode=mode, threads=threads, weights_path=str(weights_path), workdir=str(workdir),
                parity_tolerance=PARITY_TOLERANCE, fault=(fault or {}).get(framework),
            )
            collected[framework] = _run_worker(config, timeout_s, progress, on_progress, cancel)
    measurements = [m for c in collected.values() for m in c.measurements]
    failures = [f for c in collected.values() for f in c.failures]
    _compare_outputs(collected, models, measurements, failures)
    status = "failed" if not measurements else ("partial" if failures else "succeeded")
    document = {
        "schema": SCHEMA,
        "status": status,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "duration_s": round(time.perf_counter() - t0, 3),
        "settings": {
            "mode": mode, "models": models, "frameworks": frameworks, "threads": threads,
            "warmup_calls": plan.warmup_calls, "warmup_s": plan.warmup_s,
            "min_samples": plan.min_samples, "min_seconds": plan.min_seconds,
            "timeout_s": timeout_s, "seed": weights.SEED, "parity_tolerance": PARITY_TOLERANCE,
        },
        "environment": environment(threads, collected),
        "measurements": measurements,
        "failures": failures,
    }
    progress.current = "finished"
    if on_progress:
        on_progress(progress)
    return ProbeRunDocument.model_validate(document)


def _run_worker(config: WorkerConfig, timeout_s: float, progress: Progress,
                on_progress: ProgressCallback | None, cancel: threading.Event | None = None
                ) -> _Collected:
    """Run one worker, reading its JSON lines until it ends or its time runs out."""
    out = _Collected()
    steps_before = progress.done
    expected = len(config.models) * len(config.variants)
    command = [sys.executable, "-m", "probes", "worker", json.dumps(config.to_dict())]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    # Its own session, so a timeout can kill the worker and every child it started.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env, cwd=root)
    deadline = time.monotonic() + timeout_s
    selector = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    selector.register(proc.stdout, selectors.EVENT_READ, "out")
    selector.register(proc.stderr, selectors.EVENT_READ, "err")
    stderr_tail: list[bytes] = []
    buffer = b""
    timed_out = cancelled = False
    open_streams = 2
    while open_streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        for key, _ in selector.select(timeout=min(remaining, 1.0)):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            if key.data == "err":
                stderr_tail = (stderr_tail + [chunk])[-20:]
                continue
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                _handle(json.loads(line), out, progress, config)
                if on_progress:
                    on_progress(progress)
    if timed_out or cancelled:
        _kill_group(proc)
    returncode = proc.wait()
    selector.close()
    proc.stdout.close()
    proc.stderr.close()
    if timed_out or cancelled or not out.finished:
        where = progress.current
        if timed_out:
            stage, reason = "timeout", f"timed out after {timeout_s:g} s while running {where}"
        elif cancelled:
            stage, reason = "cancelled", f"cancelled while running {where}"
        else:
            stage = "crash"
            reason = (f"worker exited with {_describe_exit(returncode)} while running {where}; "
                      f"stderr: {b''.join(stderr_tail).decode(errors='replace')[-1500:]}")
        out.failures.append({"framework": config.framework, "model": None, "variant": None,
                             "stage": stage, "reason": reason})
    progress.done = steps_before + expected  # the remaining steps are over, one way or another
    return out


def _handle(message: dict, out: _Collected, progress: Progress, config: WorkerConfig) -> None:
    kind = message.pop("type")
    if kind == "progress":
        if progress.current.startswith(config.framework + "/"):
            progress.done += 1
        progress.current = f"{message['framework']}/{message['model']}/{message['variant']}"
    elif kind == "measurement":
        out.measurements.append(message)
    elif kind == "failure":
        out.failures.append(message)
    elif kind == "outputs":
        out.outputs[message["model"]] = np.asarray(message["values"]).reshape(message["shape"])
    elif kind == "framework":
        out.info = message
    elif kind == "done":
        out.finished = True


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _compare_outputs(collected: dict[str, _Collected], models: list[str],
                     measurements: list[dict], failures: list[dict]) -> None:
    """Record parity_max_abs_diff between the two eager outputs; a large one is a failure."""
    if set(collected) != set(FRAMEWORKS):
        return
    for model in models:
        a = collected["pytorch"].outputs.get(model)
        b = collected["tensorflow"].outputs.get(model)
        if a is None or b is None:
            continue
        diff = float(np.max(np.abs(a - b)))
        measurements.append({"framework": "both", "model": model, "variant": "eager",
                             "metric": "parity_max_abs_diff", "unit": "abs", "value": diff})
        if diff > PARITY_TOLERANCE:
            failures.append({"framework": "both", "model": model, "variant": "eager",
                             "stage": "parity",
                             "reason": f"PyTorch and TensorFlow eager outputs differ by {diff:.3g}, "
                                       f"above {PARITY_TOLERANCE:g} for float32"})


def environment(threads: int, collected: dict[str, _Collected]) -> dict[str, Any]:
    """Return the machine's environment, with the framework details the workers reported."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    thread_settings: dict[str, str] = {}
    accelerators: list[str] = []
    frameworks: dict[str, Any] = {}
    for name, c in collected.items():
        if c.info:
            thread_settings.update(c.info.get("thread_settings", {}))
            accelerators += c.info.get("accelerators", [])
            frameworks[name] = {"version": c.info["version"], "details": c.info.get("details", {})}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE"):
        if var in os.environ:
            thread_settings[var] = os.environ[var]
    return {
        "cpu_model": cpu,
        "cores": psutil.cpu_count(logical=True) or 1,
        "memory_mb": round(psutil.virtual_memory().total / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "threads": threads,
        "thread_settings": thread_settings,
        "accelerators": sorted(set(accelerators)),
        "frameworks": frameworks,
        "hostname_hash": hashlib.sha256(platform.node().encode()).hexdigest()[:12],
    }
