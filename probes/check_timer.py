"""`python -m probes.check_timer`: checks the probe's timing method against independent
timers on one representative workload (`tabular`, batch 256 by default), and prints both
numbers and their disagreement (target: within 10%).

- PyTorch: the probe's p50 against torch.utils.benchmark.Timer.blocked_autorange()'s median,
  in one subprocess.
- TensorFlow: the probe's p50 against an independent timeit.Timer.repeat() loop (median of
  per-call times), in another subprocess.

The two methods alternate for several rounds so that a burst of load on a shared machine
hits both. Each framework runs in its own subprocess, as in a probe run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

from probes import timing, weights
from probes.plan import MODES, SIZING, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent


def _torch_round(infer: object, threads: int, min_run_time: float) -> float:
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="infer()", globals={"infer": infer}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def _timeit_round(infer: object, min_run_time: float) -> float:
    timer = timeit.Timer(infer)
    number, _ = timer.autorange()  # calls per repeat so that one repeat takes >= 0.2 s
    repeats = max(5, int(min_run_time / 0.2))
    return statistics.median(t / number for t in timer.repeat(repeat=repeats, number=number))


def measure_one(framework: str, model: str, batch: str, mode: str, threads: int,
                rounds: int) -> dict:
    """Run inside the framework's subprocess: both methods, alternating, for `rounds` rounds."""
    arrays = weights.generate()
    xs = weights.model_inputs(arrays, model, batch)
    min_run_time = max(MODES[mode].min_seconds, 1.0)
    if framework == "pytorch":
        import torch

        from probes import torch_probe as probe

        probe.configure(threads)
        module = probe.build(model, arrays)
        native = probe.native_input(model, xs)

        def infer() -> object:
            with torch.inference_mode():
                return module(*native).detach().cpu().numpy()

        def reference() -> float:
            return _torch_round(infer, threads, min_run_time)
        reference_name = "torch.utils.benchmark blocked_autorange median"
    else:
        from probes import tensorflow_probe as probe

        probe.configure(threads)
        module = probe.build(model, arrays)
        native = probe.native_input(model, xs)

        def infer() -> object:
            return module(*native).numpy()

        def reference() -> float:
            return _timeit_round(infer, min_run_time)
        reference_name = "timeit.Timer.repeat median"
    results = []
    for _ in range(rounds):
        stats = timing.summarise(timing.measure(infer, MODES[mode], probe.sync))
        results.append({"probe_p50_ms": stats["p50"], "n": stats["n"],
                        "reference_ms": reference() * 1000})
    return {"framework": framework, "reference": reference_name, "rounds": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tabular", choices=WORKLOADS[:4],
                        help="a workload measured by one forward call (not the decoder)")
    parser.add_argument("--batch", type=int, default=None, help="1 or the workload's batch")
    parser.add_argument("--mode", default="quick", choices=["quick", "full"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternate the two methods N times")
    parser.add_argument("--frameworks", default="pytorch,tensorflow")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from probes.runner import default_threads

    threads = args.threads or default_threads()
    batch = f"b{args.batch or SIZING[args.model].batch}"
    if args.worker:
        print(json.dumps(measure_one(args.worker, args.model, batch, args.mode, threads,
                                     args.rounds)))
        return
    for framework in args.frameworks.split(","):
        command = [sys.executable, "-m", "probes.check_timer", "--worker", framework,
                   "--model", args.model, "--batch", batch[1:], "--mode", args.mode,
                   "--threads", str(threads), "--rounds", str(args.rounds)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=900, check=False)
        if done.returncode != 0:
            print(f"{framework}: failed ({done.returncode}): {done.stderr[-800:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{framework} eager {args.model}, batch {batch[1:]}, {threads} thread(s), "
              f"mode {args.mode}; reference: {result['reference']}")
        worst = 0.0
        for i, r in enumerate(result["rounds"], 1):
            ratio = r["probe_p50_ms"] / r["reference_ms"]
            worst = max(worst, abs(ratio - 1))
            print(f"  round {i}: probe p50 {r['probe_p50_ms']:.3f} ms (n={r['n']}), "
                  f"reference {r['reference_ms']:.3f} ms, ratio {ratio:.3f}")
        print(f"  largest disagreement: {worst:.1%} (target: within 10%)")


if __name__ == "__main__":
    main()
