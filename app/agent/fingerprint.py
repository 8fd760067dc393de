"""The environment fingerprint an agent reports before it has run anything: what the
machine is, without importing a framework (versions come from package metadata)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

# Distribution names under which each framework may be installed.
FRAMEWORK_DISTRIBUTIONS = {
    "pytorch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "litert": ("ai-edge-litert",),
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Hardware", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerators() -> list[str]:
    found = []
    nvidia = Path("/proc/driver/nvidia/gpus")
    if nvidia.is_dir():
        for gpu in sorted(nvidia.iterdir()):
            info = gpu / "information"
            try:
                model = next(line.split(":", 1)[1].strip()
                             for line in info.read_text().splitlines() if line.startswith("Model"))
            except (OSError, StopIteration):
                model = "NVIDIA GPU"
            found.append(model)
    return found


def _version(distributions: tuple[str, ...]) -> str | None:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def fingerprint() -> dict[str, Any]:
    """Return CPU, cores, memory, OS, Python, accelerators and installed framework versions."""
    import psutil

    versions = {name: _version(dists) for name, dists in FRAMEWORK_DISTRIBUTIONS.items()}
    return {
        "cpu_model": _cpu_model()[:200],
        "machine": platform.machine(),
        "cores": psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        "memory_mb": round(psutil.virtual_memory().total / 2**20, 1),
        "os": platform.platform()[:200],
        "python": platform.python_version(),
        "accelerators": _accelerators(),
        "frameworks": {name: v for name, v in versions.items() if v is not None},
        "hostname_hash": hashlib.sha256(platform.node().encode()).hexdigest()[:12],
    }
