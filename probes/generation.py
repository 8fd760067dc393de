"""Measuring a generative workload (the `decoder`): prefill latency of the prompt and greedy
decode speed with the KV cache, for one variant, inside the worker subprocess.

Metrics (spec §5): `prefill_ms` (the whole prompt, batch 1) and `decode_tokens_per_s`
(new tokens per second, each step one token through the cache); the generated tokens are
sent to the runner, which checks that both frameworks generated the same ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from probes import timing
from probes.plan import DECODER, TRAINING_VARIANTS, WorkerConfig


def generate(decoding: Any, prompt: np.ndarray, new_tokens: int) -> tuple[np.ndarray, list[int]]:
    """Greedy generation: return the prompt's next-token logits and the new tokens."""
    logits = decoding.prefill(prompt)
    tokens = [int(np.argmax(logits))]
    for i in range(new_tokens - 1):
        tokens.append(int(np.argmax(decoding.step(tokens[-1], prompt.shape[1] + i))))
    return logits, tokens


def measure(probe: Any, config: WorkerConfig, mode: Any, workdir: Path, model: str, variant: str,
            arrays: dict, reference: tuple[np.ndarray, list[int]] | None
            ) -> tuple[np.ndarray, list[int]] | None:
    """Measure one generation variant; return the eager (logits, tokens) as the reference."""
    from probes.worker import _measure_training, _tolerance, emit, failure, measurement

    fw = config.framework
    decoding = probe.prepare_decoder(variant, arrays, workdir, config.threads)
    prompt = arrays[f"input.{model}.b1"]
    n = DECODER["new_tokens"]
    _, first_s = timing.timed(lambda: decoding.prefill(prompt), probe.sync)
    _, first_step_s = timing.timed(lambda: decoding.step(0, prompt.shape[1]), probe.sync)
    logits, tokens = generate(decoding, prompt, n)
    if variant == "eager":
        reference = (logits, tokens)
        emit("outputs", framework=fw, model=model, values=logits.ravel().tolist(),
             shape=list(logits.shape))
        emit("tokens", framework=fw, model=model, tokens=tokens)
    elif reference is not None:
        diff = float(np.max(np.abs(logits - reference[0])))
        measurement(fw, "output_max_abs_diff", "abs", diff, model, variant)
        limit = _tolerance(config, variant, reference[0])
        if diff > limit or tokens != reference[1]:
            differ = sum(a != b for a, b in zip(tokens, reference[1], strict=True))
            failure(fw, "output_check", f"prefill logits differ from {fw} eager by {diff:.3g} "
                    f"(tolerance {limit:.3g}), {differ} of {n} generated tokens differ; its "
                    "numbers are not reported", model, variant)
            return reference
    cold_round = config.round_index == 0  # later rounds reuse the first round's compiler cache
    if cold_round:
        measurement(fw, "first_call_ms", "ms", first_s * 1000, model, variant, batch_size=1)
    if variant != "eager" and cold_round:
        # A lazily compiled variant compiles the prefill and the step graph on first use.
        cold = first_s + first_step_s if decoding.lazy else 0.0
        measurement(fw, "compile_s", "s", decoding.prepare_s + cold, model, variant)
    if decoding.artifact_bytes is not None:
        measurement(fw, "artifact_bytes", "bytes", float(decoding.artifact_bytes), model, variant)
    prefill = timing.measure(lambda: decoding.prefill(prompt), mode, probe.sync)
    stats = timing.summarise(prefill)
    measurement(fw, "prefill_ms", "ms", stats["p50"], model, variant, stats, batch_size=1,
                samples=timing.in_unit(prefill))

    first_token = int(np.argmax(decoding.prefill(prompt)))
    start = decoding.snapshot()

    def decode() -> None:
        # Every sample decodes the same n tokens from the same prefilled cache.
        decoding.restore(start)
        token = first_token
        for i in range(n):
            token = int(np.argmax(decoding.step(token, prompt.shape[1] + i)))

    samples = timing.measure(decode, mode, probe.sync)
    speed = timing.summarise([n / s for s in samples], scale=1.0)
    speed["total_s"] = sum(samples)
    measurement(fw, "decode_tokens_per_s", "tokens/s", speed["p50"], model, variant, speed,
                batch_size=1, samples=timing.in_unit([n / s for s in samples], 1.0))
    if variant in TRAINING_VARIANTS[fw]:
        _measure_training(probe, fw, mode, model, variant, arrays)
    return reference
