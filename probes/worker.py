"""The worker: runs inside a fresh subprocess for one framework and streams results as
JSON lines on stdout (progress, measurements, failures, outputs), so that whatever it
finished survives a later crash or timeout."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from probes import generation, timing, weights
from probes.plan import (
    GENERATIVE,
    MODES,
    QUANTIZED,
    SIZING,
    TRAINING_VARIANTS,
    WorkerConfig,
    mode_for,
    throughput_metric,
    train_metric,
)

MODULES = {"pytorch": "probes.torch_probe", "tensorflow": "probes.tensorflow_probe"}


def emit(kind: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"type": kind, **fields}) + "\n")
    sys.stdout.flush()


def measurement(framework: str, metric: str, unit: str, value: float, model: str | None = None,
                variant: str | None = None, stats: dict | None = None,
                batch_size: int | None = None, samples: list[float] | None = None) -> None:
    """Stream one measurement; `samples` are the raw values in its unit (the runner pools
    them over rounds, summarises them and keeps a bounded share in the document)."""
    noisy = bool(stats and stats["cv"] >= timing.NOISY_CV)
    emit("measurement", framework=framework, model=model, variant=variant, metric=metric,
         unit=unit, value=value, stats=stats, noisy=noisy, batch_size=batch_size,
         samples=samples)


def watch_parent(interval_s: float = 0.5) -> None:
    """End this worker (and every process in its group) once its parent is gone.

    The runner also asks the kernel for SIGKILL on parent death (PR_SET_PDEATHSIG); this
    watchdog covers platforms without it and the grandchildren a compiler may start."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                try:
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def failure(framework: str, stage: str, reason: str, model: str | None = None,
            variant: str | None = None) -> None:
    emit("failure", framework=framework, model=model, variant=variant, stage=stage,
         reason=reason[:4000])


def _inject_fault(config: WorkerConfig, model: str, variant: str) -> None:
    # Fault injection lets the test suite prove that a crash or a hang ends as
    # a recorded failure with the rest of the run kept.
    if not config.fault:
        return
    action, fault_model, fault_variant = config.fault.split(":")
    if (fault_model, fault_variant) == (model, variant):
        if action == "crash":
            os.abort()
        if action == "hang":
            time.sleep(10**6)


def _tolerance(config: WorkerConfig, variant: str, reference: np.ndarray) -> float:
    if variant in QUANTIZED:
        # int8 weights approximate by design: allow 5% of the output's range.
        return 0.05 * float(np.max(np.abs(reference))) + 1e-3
    return config.parity_tolerance * max(1.0, float(np.max(np.abs(reference))))


def run(config: WorkerConfig) -> None:
    """Measure every (model, variant) of one framework and stream the results."""
    fw = config.framework
    t0 = time.perf_counter()
    probe = importlib.import_module(MODULES[fw])  # imports the framework itself
    import_s = time.perf_counter() - t0
    thread_settings = probe.configure(config.threads)
    version, details = probe.versions()
    emit("framework", framework=fw, version=version, details=details,
         thread_settings=thread_settings, accelerators=probe.accelerators())
    measurement(fw, "import_s", "s", import_s, samples=[import_s])
    mode = timing.per_round(MODES[config.mode], config.rounds)
    arrays = weights.load(config.weights_path)
    workdir = Path(config.workdir)
    for model in config.models:
        # Workload-specific batch sizes and, for heavy workloads, fewer samples (plan.SIZING).
        model_mode = mode_for(model, mode)
        x1 = weights.model_inputs(arrays, model, "b1")
        x32 = weights.model_inputs(arrays, model, f"b{SIZING[model].batch}")
        reference: Any = None
        for variant in config.variants:
            emit("progress", framework=fw, model=model, variant=variant)
            _inject_fault(config, model, variant)
            try:
                if model in GENERATIVE:
                    reference = generation.measure(probe, config, model_mode, workdir, model,
                                                   variant, arrays, reference)
                    continue
                reference = _measure_variant(probe, config, model_mode, workdir, model, variant,
                                             x1, x32, arrays, reference)
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never hidden
                failure(fw, "run", f"{type(exc).__name__}: {exc}\n{_tail()}", model, variant)
    measurement(fw, "peak_rss_mb", "MB", probe.peak_rss_mb())
    emit("done", framework=fw)


def _tail() -> str:
    return "".join(traceback.format_exc().splitlines(keepends=True)[-6:])


def _measure_variant(probe: Any, config: WorkerConfig, mode: Any, workdir: Path, model: str,
                     variant: str, x1: tuple, x32: tuple, arrays: dict,
                     reference: np.ndarray | None) -> np.ndarray | None:
    fw = config.framework
    prepared = probe.prepare(variant, model, arrays, workdir, config.threads)
    to_native = prepared.native_inputs or probe.native_input
    in1, in32 = to_native(model, x1), to_native(model, x32)
    output, first_s = timing.timed(lambda: prepared.infer(*in1), probe.sync)
    output = np.asarray(output)
    if variant == "eager":
        reference = output
        emit("outputs", framework=fw, model=model, values=output.ravel().tolist(),
             shape=list(output.shape))
    elif reference is not None:
        diff = float(np.max(np.abs(output - reference)))
        measurement(fw, "output_max_abs_diff", "abs", diff, model, variant)
        if diff > _tolerance(config, variant, reference):
            failure(fw, "output_check", f"output differs from {fw} eager by {diff:.3g}, "
                    f"above the tolerance {_tolerance(config, variant, reference):.3g}; "
                    "its numbers are not reported", model, variant)
            return reference
    cold = config.round_index == 0  # later rounds reuse the first round's compiler cache
    if cold:
        measurement(fw, "first_call_ms", "ms", first_s * 1000, model, variant, batch_size=1,
                    samples=[first_s * 1000])
    if variant != "eager" and cold:
        compile_s = prepared.prepare_s + (first_s if prepared.lazy else 0.0)
        measurement(fw, "compile_s", "s", compile_s, model, variant, samples=[compile_s])
    if prepared.artifact_bytes is not None:
        measurement(fw, "artifact_bytes", "bytes", float(prepared.artifact_bytes), model, variant,
                    samples=[float(prepared.artifact_bytes)])
    if getattr(prepared, "quantized_convs", None) is not None:  # PT2E int8 (issue 10a)
        measurement(fw, "int8_quantized_convs", "layers", float(prepared.quantized_convs), model,
                    variant)
    samples = timing.measure(lambda: prepared.infer(*in1), mode, probe.sync)
    stats = timing.summarise(samples)
    measurement(fw, "latency_ms_b1", "ms", stats["p50"], model, variant, stats, batch_size=1,
                samples=timing.in_unit(samples))
    batch = SIZING[model].batch
    samples = timing.measure(lambda: prepared.infer(*in32), mode, probe.sync)
    # A slow call is a low throughput: p95 of throughput comes from p5 of time, so
    # the stats are recomputed from throughput samples rather than inverted.
    throughput = timing.summarise([batch / s for s in samples], scale=1.0)
    throughput["total_s"] = sum(samples)
    measurement(fw, throughput_metric(model), "samples/s", throughput["p50"], model, variant,
                throughput, batch_size=batch,
                samples=timing.in_unit([batch / s for s in samples], 1.0))
    if variant in TRAINING_VARIANTS[fw]:
        _measure_training(probe, fw, mode, model, variant, arrays)
    return reference


def _measure_training(probe: Any, fw: str, mode: Any, model: str, variant: str,
                      arrays: dict) -> None:
    step = probe.train_step(variant, model, arrays)
    samples = timing.measure(step, mode, probe.sync)
    stats = timing.summarise(samples)
    measurement(fw, train_metric(model), "ms", stats["p50"], model, variant, stats,
                batch_size=SIZING[model].train_batch, samples=timing.in_unit(samples))


def main(argv: list[str]) -> None:
    config = WorkerConfig(**json.loads(argv[0]))
    watch_parent()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = config.cache_dir or str(
        Path(config.workdir) / "inductor-cache")
    run(config)
