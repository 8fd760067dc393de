"""What a probe run measures: models, variants, modes and their sample rules (spec §5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MODELS = ("mlp", "cnn", "transformer")
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


@dataclass(frozen=True)
class Mode:
    name: str
    warmup_calls: int
    warmup_s: float
    min_samples: int
    min_seconds: float


MODES = {
    "quick": Mode("quick", warmup_calls=10, warmup_s=0.2, min_samples=30, min_seconds=0.5),
    "full": Mode("full", warmup_calls=10, warmup_s=0.2, min_samples=100, min_seconds=2.0),
    # Reduced sampling for the test suite only; reports label it as such.
    "test": Mode("test", warmup_calls=2, warmup_s=0.0, min_samples=5, min_seconds=0.0),
}


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

    def to_dict(self) -> dict:
        return asdict(self)
