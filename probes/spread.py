"""`python -m probes.spread [--runs 3]`: repeats the quick probe run and prints, per
metric, the spread of p50s across runs (max/min - 1), so noise can be judged."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from probes.runner import run_probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", default="quick", choices=["quick", "full"])
    args = parser.parse_args()
    values: dict[tuple, list[float]] = defaultdict(list)
    for run in range(1, args.runs + 1):
        t0 = time.perf_counter()
        document = run_probes(mode=args.mode)
        print(f"run {run}: {document.status} in {time.perf_counter() - t0:.0f} s", flush=True)
        for m in document.measurements:
            values[(m.metric, m.framework, m.model, m.variant)].append(m.value)
    by_metric: dict[str, list[float]] = defaultdict(list)
    print(f"\n{'metric':<22}{'framework':<12}{'model':<13}{'variant':<13}{'min':>11}{'max':>11}"
          f"{'spread':>9}")
    for (metric, framework, model, variant), vs in sorted(values.items(), key=str):
        if len(vs) < 2 or min(vs) <= 0:
            continue
        spread = max(vs) / min(vs) - 1
        by_metric[metric].append(spread)
        print(f"{metric:<22}{framework:<12}{model or '-':<13}{variant or '-':<13}"
              f"{min(vs):>11.4g}{max(vs):>11.4g}{spread:>8.1%}")
    print("\nmedian spread of p50 across runs, per metric:")
    for metric, spreads in sorted(by_metric.items()):
        print(f"  {metric:<22} median {statistics.median(spreads):6.1%}   "
              f"worst {max(spreads):6.1%}   ({len(spreads)} series)")


if __name__ == "__main__":
    main()
