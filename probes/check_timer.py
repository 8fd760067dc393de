"""`python -m probes.check_timer`: checks the probe's timing method against
torch.utils.benchmark.Timer.blocked_autorange() on the same model and input, in one
process, and prints both medians and their ratio (target: within 10%)."""

from __future__ import annotations

import argparse

from probes import timing, weights
from probes.plan import MODES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", default="quick", choices=["quick", "full"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternate the two methods N times")
    args = parser.parse_args()

    import torch
    from torch.utils import benchmark

    from probes import torch_probe
    from probes.runner import default_threads

    threads = args.threads or default_threads()
    torch_probe.configure(threads)
    arrays = weights.generate()
    model = torch_probe.build("mlp", arrays)
    x = torch_probe.native_input("mlp", arrays["input.mlp.b1"])

    def infer() -> object:
        with torch.inference_mode():
            return model(x).detach().cpu().numpy()

    print(f"PyTorch eager mlp, batch 1, {threads} thread(s), mode {args.mode}")
    ratios = []
    for round_ in range(1, args.rounds + 1):
        stats = timing.summarise(timing.measure(infer, MODES[args.mode]))
        timer = benchmark.Timer(stmt="infer()", globals={"infer": infer}, num_threads=threads)
        reference = timer.blocked_autorange(min_run_time=max(MODES[args.mode].min_seconds, 1.0))
        ratio = stats["p50"] / (reference.median * 1000)
        ratios.append(ratio)
        print(f"round {round_}: probe p50 {stats['p50'] * 1000:.2f} µs (n={stats['n']}), "
              f"blocked_autorange median {reference.median * 1e6:.2f} µs "
              f"(n={len(reference.times)} blocks of {reference.number_per_run}), "
              f"ratio {ratio:.3f}")
    worst = max(abs(r - 1) for r in ratios)
    print(f"largest disagreement: {worst:.1%} (target: within 10%)")


if __name__ == "__main__":
    main()
