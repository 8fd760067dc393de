"""TensorFlow side of the probes: the same models as tf.Modules on the same weights, and
the variants. Imported only inside the TensorFlow worker subprocess."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from probes.plan import CNN, MLP, TRANSFORMER


def configure(threads: int) -> dict[str, str]:
    """Set the thread count (before any op runs) and return the settings as recorded."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return {
        "tf.intra_op_parallelism_threads": str(tf.config.threading.get_intra_op_parallelism_threads()),
        "tf.inter_op_parallelism_threads": str(tf.config.threading.get_inter_op_parallelism_threads()),
    }


def versions() -> tuple[str, dict[str, str]]:
    details: dict[str, str] = {}
    try:
        from importlib.metadata import version

        details["ai-edge-litert"] = version("ai-edge-litert")
        details["keras"] = version("keras")
    except Exception:  # noqa: BLE001 - versions are informative only
        pass
    return tf.__version__, details


def accelerators() -> list[str]:
    return [d.name for d in tf.config.list_physical_devices() if d.device_type != "CPU"]


def sync() -> None:
    return None


def _var(array: np.ndarray, name: str) -> tf.Variable:
    return tf.Variable(array, name=name, dtype=tf.float32)


def _layer_norm(x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-5) * gamma + beta


class MLPModel(tf.Module):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.w = [_var(w[f"mlp.{k}{i}"], f"{k}{i}") for i in (1, 2, 3) for k in ("w", "b")]
        self.spec = tf.TensorSpec([None, MLP["inputs"]], tf.float32)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        w1, b1, w2, b2, w3, b3 = self.w
        x = tf.nn.relu(tf.matmul(x, w1) + b1)
        x = tf.nn.relu(tf.matmul(x, w2) + b2)
        return tf.matmul(x, w3) + b3


class CNNModel(tf.Module):
    """Input NHWC, kernels HWIO: TensorFlow's native layouts."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.c1w, self.c1b = _var(w["cnn.conv1.w"], "c1w"), _var(w["cnn.conv1.b"], "c1b")
        self.c2w, self.c2b = _var(w["cnn.conv2.w"], "c2w"), _var(w["cnn.conv2.b"], "c2b")
        self.fw, self.fb = _var(w["cnn.fc.w"], "fw"), _var(w["cnn.fc.b"], "fb")
        self.spec = tf.TensorSpec([None, CNN["size"], CNN["size"], CNN["channels"]], tf.float32)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.nn.relu(tf.nn.conv2d(x, self.c1w, 1, "SAME") + self.c1b)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.nn.relu(tf.nn.conv2d(x, self.c2w, 1, "SAME") + self.c2b)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        return tf.matmul(tf.reduce_mean(x, axis=[1, 2]), self.fw) + self.fb


class TransformerModel(tf.Module):
    """One post-norm encoder block; heads split the projection's last axis like PyTorch does."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        p = "transformer."
        self.v = {k: _var(w[p + k], k.replace(".", "_")) for k in (
            "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "ff1.w", "ff1.b", "ff2.w", "ff2.b",
            "ln1.gamma", "ln1.beta", "ln2.gamma", "ln2.beta")}
        self.spec = tf.TensorSpec([None, TRANSFORMER["seq"], TRANSFORMER["d_model"]], tf.float32)

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        heads = TRANSFORMER["heads"]
        depth = TRANSFORMER["d_model"] // heads
        x = tf.reshape(x, [tf.shape(x)[0], TRANSFORMER["seq"], heads, depth])
        return tf.transpose(x, [0, 2, 1, 3])

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        v = self.v
        depth = TRANSFORMER["d_model"] // TRANSFORMER["heads"]
        q = self._heads(tf.matmul(x, v["wq"]) + v["bq"])
        k = self._heads(tf.matmul(x, v["wk"]) + v["bk"])
        val = self._heads(tf.matmul(x, v["wv"]) + v["bv"])
        scores = tf.matmul(q, k, transpose_b=True) / tf.sqrt(float(depth))
        attended = tf.matmul(tf.nn.softmax(scores, axis=-1), val)
        attended = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]),
                              [tf.shape(x)[0], TRANSFORMER["seq"], TRANSFORMER["d_model"]])
        h = _layer_norm(x + tf.matmul(attended, v["wo"]) + v["bo"], v["ln1.gamma"], v["ln1.beta"])
        ff = tf.matmul(tf.nn.relu(tf.matmul(h, v["ff1.w"]) + v["ff1.b"]), v["ff2.w"]) + v["ff2.b"]
        return _layer_norm(h + ff, v["ln2.gamma"], v["ln2.beta"])


BUILDERS = {"mlp": MLPModel, "cnn": CNNModel, "transformer": TransformerModel}


def native_input(model: str, array: np.ndarray) -> tf.Tensor:
    """Return the canonical input as a tensor: canonical layouts are TensorFlow's."""
    return tf.constant(array)


@dataclass
class Prepared:
    infer: Callable[[object], np.ndarray]
    prepare_s: float
    lazy: bool
    artifact_bytes: int | None = None
    native_inputs: Callable[[str, np.ndarray], object] | None = None


def build(model: str, weights: dict[str, np.ndarray]) -> tf.Module:
    return BUILDERS[model](weights)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _litert(module: tf.Module, concrete: object, path: Path, threads: int, quantize: bool,
            t0: float) -> Prepared:
    from ai_edge_litert.interpreter import Interpreter

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    path.write_bytes(converter.convert())
    interpreters: dict[int, Interpreter] = {}

    def interpreter_for(batch: int) -> Interpreter:
        # One interpreter per batch size: resizing an allocated interpreter on
        # every call would charge re-allocation to each measured call.
        if batch not in interpreters:
            interp = Interpreter(model_path=str(path), num_threads=threads)
            index = interp.get_input_details()[0]["index"]
            shape = list(interp.get_input_details()[0]["shape"])
            interp.resize_tensor_input(index, [batch, *shape[1:]])
            interp.allocate_tensors()
            interpreters[batch] = interp
        return interpreters[batch]

    interpreter_for(1)

    def infer(x: np.ndarray) -> np.ndarray:
        interp = interpreter_for(x.shape[0])
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        return interp.get_tensor(interp.get_output_details()[0]["index"])

    return Prepared(infer, time.perf_counter() - t0, lazy=False,
                    artifact_bytes=path.stat().st_size,
                    native_inputs=lambda m, a: np.ascontiguousarray(a))


def prepare(variant: str, model_name: str, weights: dict[str, np.ndarray], workdir: Path,
            threads: int) -> Prepared:
    """Return a runnable variant of the model, timing how long it took to make."""
    module = build(model_name, weights)
    t0 = time.perf_counter()
    if variant == "eager":
        return Prepared(lambda x: module(x).numpy(), time.perf_counter() - t0, lazy=False)
    if variant in ("function", "xla"):
        fn = tf.function(module.__call__, jit_compile=(variant == "xla"), reduce_retracing=True)
        return Prepared(lambda x: fn(x).numpy(), time.perf_counter() - t0, lazy=True)
    serve = tf.function(module.__call__, input_signature=[module.spec])
    if variant == "savedmodel":
        module.serve = serve
        path = workdir / f"{model_name}_savedmodel"
        tf.saved_model.save(module, str(path), signatures={"serving_default": serve})
        loaded = tf.saved_model.load(str(path))
        return Prepared(lambda x: loaded.serve(x).numpy(), time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_dir_size(path))
    if variant in ("litert", "litert_int8"):
        return _litert(module, serve.get_concrete_function(), workdir / f"{model_name}_{variant}.tflite",
                       threads, quantize=variant == "litert_int8", t0=t0)
    raise ValueError(f"unknown TensorFlow variant {variant!r}")


def train_step(variant: str, model_name: str, weights: dict[str, np.ndarray]
               ) -> Callable[[], None]:
    """Return one training step (forward, MSE loss, gradients, SGD update) at batch 32."""
    module = build(model_name, weights)
    x = tf.constant(weights[f"input.{model_name}.b32"])
    y = tf.constant(weights[f"target.{model_name}.b32"])
    variables = module.trainable_variables

    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(module(x) - y))
        for var, grad in zip(variables, tape.gradient(loss, variables), strict=True):
            var.assign_sub(1e-3 * grad)
        return loss

    if variant == "eager":
        return lambda: step().numpy()
    compiled = tf.function(step, jit_compile=(variant == "xla"))
    return lambda: compiled().numpy()


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
