"""What a probe run measures: models, variants, modes and their sample rules (spec §5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

# The smoke set: tiny models that probe in seconds, the default of a quick run.
SMOKE = ("mlp", "cnn", "transformer")
# The representative workloads (spec §5), one per kind of model the questionnaire knows;
# which family uses which workload is rules/policy.yaml's business, not the probes'.
WORKLOADS = ("tabular", "recommender", "vision", "encoder", "decoder")
MODELS = SMOKE + WORKLOADS
FRAMEWORKS = ("pytorch", "tensorflow")
VARIANTS = {
    "pytorch": ("eager", "compile", "export", "onnxruntime", "int8"),
    "tensorflow": ("eager", "function", "xla", "savedmodel", "litert", "litert_int8"),
}
# Variants that can train: eager and the compiled ones (spec §5: train_step_ms_b32).
TRAINING_VARIANTS = {"pytorch": ("eager", "compile"), "tensorflow": ("eager", "function", "xla")}
# int8 variants are approximations by design; they are checked against eager
# with a looser, scale-relative tolerance.
QUANTIZED = {"int8", "litert_int8"}

# Model sizes: small enough to probe in seconds on two cores, big enough that
# framework overhead does not hide all the compute.
MLP = {"inputs": 64, "hidden": 256, "outputs": 10}
CNN = {"channels": 3, "size": 32, "conv1": 16, "conv2": 32, "outputs": 10}
TRANSFORMER = {"seq": 16, "d_model": 64, "heads": 4, "ff": 128}

# Representative workloads: realistic shapes, yet measurable on two CPU cores.
TABULAR = {"inputs": 512, "hidden": 1024, "outputs": 1}
# DLRM-style: dense features through a bottom MLP, one sparse id per table, pairwise dot
# interaction of the bottom output and the embeddings, then a top MLP.
RECOMMENDER = {"dense": 13, "tables": 8, "rows": 10_000, "dim": 32,
               "bottom": (256, 64), "top": (512, 256), "outputs": 1}
# MobileNetV2 (Sandler et al. 2018), batch norm folded into the convolutions (inference
# mode). Width 0.5 of the original: full width made one vision run alone take longer than
# the five-minute budget of a workload on two busy cores.
VISION = {"size": 224, "channels": 3, "width": 0.5, "classes": 1000, "last": 1280,
          # (expansion t, channels c, repeats n, first stride s), as in the paper's table 2
          "blocks": ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                     (6, 160, 3, 2), (6, 320, 1, 1))}
# BERT-small-style: post-norm encoder layers, GELU, token + position embeddings.
ENCODER = {"vocab": 8000, "seq": 128, "d_model": 256, "heads": 4, "ff": 1024, "layers": 4}
# GPT-style: pre-norm decoder layers, tied embeddings, a static KV cache of prompt + new tokens.
DECODER = {"vocab": 8000, "prompt": 128, "new_tokens": 32, "d_model": 256, "heads": 4,
           "ff": 1024, "layers": 4}


@dataclass(frozen=True)
class Sizing:
    """Batch sizes of a model's measurements and, for heavy ones, its own sampling rules."""

    batch: int = 32        # throughput batch: metric throughput_sps_b<batch>
    train_batch: int = 32  # metric train_step_ms_b<train_batch>
    # Heavy workloads take fewer samples than the spec's minimums so that one workload fits
    # five minutes on two cores; the counts used are recorded with every measurement (n).
    samples: dict[str, int] | None = None


SIZING = {
    "mlp": Sizing(), "cnn": Sizing(), "transformer": Sizing(),
    "tabular": Sizing(batch=256, train_batch=256, samples={"quick": 20, "full": 40}),
    "recommender": Sizing(batch=256, train_batch=256, samples={"quick": 20, "full": 40}),
    "vision": Sizing(batch=8, train_batch=8, samples={"quick": 8, "full": 15, "test": 2}),
    "encoder": Sizing(batch=8, train_batch=8, samples={"quick": 8, "full": 15, "test": 2}),
    "decoder": Sizing(batch=1, train_batch=4, samples={"quick": 5, "full": 10, "test": 2}),
}
# Models whose measurement is generation with a KV cache (prefill_ms, decode_tokens_per_s)
# instead of one forward call.
GENERATIVE = ("decoder",)


# Rough seconds one (framework, model, variant) step takes in full mode on a 2-core machine
# (measured while it was busy, so pessimistic); the progress display weights steps by them
# to estimate the time left, then scales by how fast the run has really gone so far.
STEP_COST_S = {"mlp": 3, "cnn": 4, "transformer": 4, "tabular": 8, "recommender": 10,
               "vision": 25, "encoder": 25, "decoder": 20}


def step_costs(models: list[str], frameworks: list[str]) -> list[float]:
    """Estimated cost of every step, in the order the runner takes them."""
    return [float(STEP_COST_S.get(m, 10)) for f in frameworks for m in models for _ in VARIANTS[f]]


def estimate_left_s(costs: list[float], done: int, elapsed_s: float) -> float:
    """Seconds left after `done` steps: remaining estimated cost, scaled by the pace so far."""
    spent, left = sum(costs[:done]), sum(costs[done:])
    pace = elapsed_s / spent if done and spent else 1.0
    return left * pace


def throughput_metric(model: str) -> str:
    return f"throughput_sps_b{SIZING[model].batch}"


def train_metric(model: str) -> str:
    return f"train_step_ms_b{SIZING[model].train_batch}"


@dataclass(frozen=True)
class Mode:
    name: str
    warmup_calls: int
    warmup_s: float
    min_samples: int
    min_seconds: float
    # Stop a series once it has MIN_CAPPED_SAMPLES and has run this long, even short of
    # min_samples: a 1.2 s training step would otherwise take two minutes of a 5-minute
    # budget. Fewer samples give a wider interval, which the verdicts then honestly show.
    max_seconds: float | None = None


MODES = {
    # Quick warms up for 0.1 s (at least 10 calls): ten calls of a smoke-set model take
    # milliseconds, and 80 series x 0.1 s more would push the run past its 120 s budget.
    "quick": Mode("quick", warmup_calls=10, warmup_s=0.1, min_samples=30, min_seconds=0.5),
    "full": Mode("full", warmup_calls=10, warmup_s=0.2, min_samples=100, min_seconds=2.0,
                 max_seconds=9.0),
    # Reduced sampling for the test suite only; reports label it as such.
    "test": Mode("test", warmup_calls=2, warmup_s=0.0, min_samples=5, min_seconds=0.0),
}


def mode_for(model: str, mode: Mode) -> Mode:
    """Return the sampling rules for one model: the mode's, or fewer samples for heavy ones."""
    sizing = SIZING[model]
    if sizing.samples is None or mode.name not in sizing.samples:
        return mode
    warmup = 1 if mode.name == "test" else 3
    return replace(mode, warmup_calls=min(mode.warmup_calls, warmup),
                   min_samples=min(mode.min_samples, sizing.samples[mode.name]),
                   min_seconds=min(mode.min_seconds, 1.0))


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker subprocess needs, passed as JSON on its command line."""

    framework: str
    models: tuple[str, ...]
    variants: tuple[str, ...]
    mode: str
    threads: int
    weights_path: str
    workdir: str
    parity_tolerance: float = 1e-4
    fault: str | None = None  # "crash:<model>:<variant>" or "hang:<model>:<variant>" (tests)
    rounds: int = 1  # fresh-subprocess rounds per framework; each takes its share of the samples
    round_index: int = 0  # which of this framework's rounds this worker is (0: the first)
    # The compiler cache (TORCHINDUCTOR_CACHE_DIR) shared by this framework's rounds in one
    # run: empty for the first round, whose first_call_ms and compile_s are the cold numbers
    # a user meets; later rounds reuse it (recompiling cold each round cost minutes) and
    # record no cold numbers. None: a cache in the worker's own directory.
    cache_dir: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)
