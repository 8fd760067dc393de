"""Probe processes: a worker dies with its parent (even a SIGKILLed one), and probe
directories a dead process left behind are removed at start-up, live ones kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from probes.stale import PREFIX, clean_stale_dirs

ROOT = Path(__file__).resolve().parent.parent


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not psutil.pid_exists(proc.pid)
    return proc.pid


def test_stale_probe_dirs_of_dead_owners_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-abc"
    (dead / "pytorch-0").mkdir(parents=True)
    (dead / "weights.npz").write_bytes(b"x")
    live = tmp_path / f"{PREFIX}{os.getpid()}-def"
    live.mkdir()
    legacy = tmp_path / f"{PREFIX}k2j3h4"  # no owner pid in the name: left alone
    legacy.mkdir()
    other = tmp_path / "unrelated"
    other.mkdir()
    assert clean_stale_dirs(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and legacy.exists() and other.exists()


def test_server_start_up_cleans_stale_probe_dirs(settings):
    from app.web.main import create_app

    dead = Path(tempfile.gettempdir()) / f"{PREFIX}{_dead_pid()}-startup"
    dead.mkdir()
    try:
        create_app(settings, run_probe_worker=False)
        assert not dead.exists()
    finally:
        if dead.exists():
            dead.rmdir()


@pytest.mark.probes
def test_a_worker_dies_with_its_sigkilled_parent():
    # The parent runs the probes with a worker that hangs; SIGKILL gives the parent no
    # chance to clean up, so only the kernel (PR_SET_PDEATHSIG) or the worker's own
    # watchdog can end the worker.
    script = textwrap.dedent("""
        from probes.runner import run_probes
        run_probes(models=["mlp"], frameworks=["pytorch"], mode="test", timeout_s=600,
                   fault={"pytorch": "hang:mlp:eager"})
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and not workers:
            time.sleep(0.5)
            workers = [p for p in psutil.Process(parent.pid).children(recursive=True)
                       if "worker" in " ".join(p.cmdline())]
        assert workers, "the worker never started"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive, f"worker outlived its parent: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
