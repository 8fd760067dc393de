"""TensorFlow side of the probes: the same models as tf.Modules on the same weights, and
the variants. Imported only inside the TensorFlow worker subprocess."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from probes import tf_workloads
from probes.plan import CNN, GENERATIVE, MLP, TRANSFORMER
from probes.weights import model_inputs


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


BUILDERS = {"mlp": MLPModel, "cnn": CNNModel, "transformer": TransformerModel,
            **tf_workloads.BUILDERS}


def _specs(module: tf.Module) -> list[tf.TensorSpec]:
    return list(getattr(module, "specs", None) or [module.spec])


def native_input(model: str, arrays: tuple[np.ndarray, ...]) -> tuple[tf.Tensor, ...]:
    """Return the canonical inputs as tensors: canonical layouts are TensorFlow's."""
    return tuple(tf.constant(a) for a in arrays)


@dataclass
class Prepared:
    infer: Callable[..., np.ndarray]
    prepare_s: float
    lazy: bool
    artifact_bytes: int | None = None
    native_inputs: Callable[[str, tuple], tuple] | None = None
    note: str | None = None


def build(model: str, weights: dict[str, np.ndarray]) -> tf.Module:
    return BUILDERS[model](weights)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _LiteRT:
    """One converted .tflite model, with one interpreter per batch size: resizing an allocated
    interpreter on every call would charge re-allocation to each measured call."""

    def __init__(self, path: Path, threads: int, names: list[str]):
        self.path, self.threads, self.names = path, threads, names
        self.interpreters: dict[int, object] = {}

    def interpreter_for(self, batch: int) -> object:
        from ai_edge_litert.interpreter import Interpreter

        if batch not in self.interpreters:
            interp = Interpreter(model_path=str(self.path), num_threads=self.threads)
            for detail in interp.get_input_details():
                shape = list(detail["shape"])
                if shape and detail["shape_signature"][0] == -1:
                    interp.resize_tensor_input(detail["index"], [batch, *shape[1:]])
            interp.allocate_tensors()
            self.interpreters[batch] = interp
        return self.interpreters[batch]

    def __call__(self, *xs: np.ndarray) -> list[np.ndarray]:
        interp = self.interpreter_for(xs[0].shape[0])
        # Inputs are matched by the names of the function's TensorSpecs, in order: the
        # converter does not promise to keep the argument order.
        details = sorted(interp.get_input_details(), key=lambda d: self._position(d["name"]))
        for detail, x in zip(details, xs, strict=True):
            interp.set_tensor(detail["index"], x)
        interp.invoke()
        outputs = sorted(interp.get_output_details(), key=lambda d: _output_position(d["name"]))
        return [interp.get_tensor(d["index"]) for d in outputs]


    def _position(self, tensor_name: str) -> tuple[int, str]:
        # Input tensors are named serving_default_<argument>:0
        for i, arg in enumerate(self.names):
            if tensor_name.endswith(f"_{arg}:0"):
                return i, tensor_name
        return len(self.names), tensor_name


def _names(fn: Callable, specs: list[tf.TensorSpec]) -> list[str]:
    """The input names a converted function gets: its TensorSpec names, else its arguments'."""
    import inspect

    arguments = list(inspect.signature(fn).parameters)
    return [spec.name or arg for spec, arg in zip(specs, arguments, strict=True)]


def _output_position(name: str) -> tuple[int, str]:
    # StatefulPartitionedCall:0, :1 ... in the function's output order
    return (int(name.rsplit(":", 1)[1]) if ":" in name and name.rsplit(":", 1)[1].isdigit()
            else 0, name)


def _convert(concrete: object, module: tf.Module, path: Path, quantize: bool) -> None:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    path.write_bytes(converter.convert())


def prepare(variant: str, model_name: str, weights: dict[str, np.ndarray], workdir: Path,
            threads: int) -> Prepared:
    """Return a runnable variant of the model, timing how long it took to make."""
    module = build(model_name, weights)
    t0 = time.perf_counter()
    if variant == "eager":
        return Prepared(lambda *x: module(*x).numpy(), time.perf_counter() - t0, lazy=False)
    if variant in ("function", "xla"):
        fn = tf.function(module.__call__, jit_compile=(variant == "xla"), reduce_retracing=True)
        return Prepared(lambda *x: fn(*x).numpy(), time.perf_counter() - t0, lazy=True)
    serve = tf.function(module.__call__, input_signature=_specs(module))
    if variant == "savedmodel":
        module.serve = serve
        path = workdir / f"{model_name}_savedmodel"
        tf.saved_model.save(module, str(path), signatures={"serving_default": serve})
        loaded = tf.saved_model.load(str(path))
        return Prepared(lambda *x: loaded.serve(*x).numpy(), time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_dir_size(path))
    if variant in ("litert", "litert_int8"):
        path = workdir / f"{model_name}_{variant}.tflite"
        _convert(serve.get_concrete_function(), module, path, quantize=variant == "litert_int8")
        runner = _LiteRT(path, threads, _names(module.__call__, _specs(module)))
        runner.interpreter_for(1)
        return Prepared(lambda *x: runner(*x)[0], time.perf_counter() - t0, lazy=False,
                        artifact_bytes=path.stat().st_size,
                        native_inputs=lambda m, arrays: tuple(np.ascontiguousarray(a) for a in arrays))
    raise ValueError(f"unknown TensorFlow variant {variant!r}")


def train_step(variant: str, model_name: str, weights: dict[str, np.ndarray]
               ) -> Callable[[], None]:
    """Return one training step (forward, loss, gradients, SGD update) at the training batch:
    mean squared error, or cross-entropy on the next token for the decoder."""
    module = build(model_name, weights)
    xs = native_input(model_name, model_inputs(weights, model_name, "train"))
    y = tf.constant(weights[f"target.{model_name}.train"])
    variables = module.trainable_variables

    def loss_of(out: tf.Tensor) -> tf.Tensor:
        if model_name in GENERATIVE:
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, out))
        return tf.reduce_mean(tf.square(out - y))

    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_of(module(*xs))
        for var, grad in zip(variables, tape.gradient(loss, variables), strict=True):
            if isinstance(grad, tf.IndexedSlices):  # embedding tables: only the rows looked up
                var.scatter_sub(tf.IndexedSlices(1e-3 * grad.values, grad.indices, grad.dense_shape))
            else:
                var.assign_sub(1e-3 * grad)
        return loss

    if variant == "eager":
        return lambda: step().numpy()
    compiled = tf.function(step, jit_compile=(variant == "xla"))
    return lambda: compiled().numpy()


@dataclass
class Decoding:
    """A generation variant: prefill(prompt ids) and step(token, position), each returning
    the next-token logits as NumPy; the KV cache stays inside, in the variant's own form."""

    prefill: Callable[[np.ndarray], np.ndarray]
    step: Callable[[int, int], np.ndarray]
    prepare_s: float
    lazy: bool
    artifact_bytes: int | None = None
    note: str | None = None
    # The cache is functional (each step returns a new one), so a snapshot is a reference.
    snapshot: Callable[[], list] = list
    restore: Callable[[list], None] = print


def _decoding(prefill: Callable, step: Callable, cache: list, prepare_s: float, lazy: bool,
              artifact_bytes: int | None = None, note: str | None = None) -> Decoding:
    def restore(saved: list) -> None:
        cache[:] = saved
    return Decoding(prefill, step, prepare_s, lazy, artifact_bytes, note,
                    snapshot=lambda: list(cache), restore=restore)


def _stateful(prefill: Callable, step: Callable, to_tensor: Callable) -> tuple[Callable, Callable, list]:
    cache: list = []

    def do_prefill(ids: np.ndarray) -> np.ndarray:
        logits, k, v = prefill(to_tensor(ids))
        cache[:] = [k, v]
        return np.asarray(logits)

    def do_step(token: int, pos: int) -> np.ndarray:
        logits, k, v = step(to_tensor(np.array([[token]], np.int32)),
                            to_tensor(np.array([pos], np.int32)), *cache)
        cache[:] = [k, v]
        return np.asarray(logits)
    return do_prefill, do_step, cache


def prepare_decoder(variant: str, weights: dict[str, np.ndarray], workdir: Path,
                    threads: int) -> Decoding:
    """Return the decoder's prefill and cached step as one variant, timing how long it took."""
    module = build("decoder", weights)
    t0 = time.perf_counter()
    if variant == "eager":
        do_prefill, do_step, cache = _stateful(module.prefill, module.step, tf.constant)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False)
    prefill = tf.function(module.prefill, input_signature=module.prefill_specs,
                          jit_compile=variant == "xla")
    step = tf.function(module.step, input_signature=module.step_specs, jit_compile=variant == "xla")
    if variant in ("function", "xla"):
        do_prefill, do_step, cache = _stateful(prefill, step, tf.constant)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=True)
    if variant == "savedmodel":
        module.prefill_fn, module.step_fn = prefill, step
        path = workdir / "decoder_savedmodel"
        tf.saved_model.save(module, str(path), signatures={"prefill": prefill, "step": step})
        loaded = tf.saved_model.load(str(path))
        # The closures keep `loaded` alive: its variables die with it.
        do_prefill, do_step, cache = _stateful(lambda *a: loaded.prefill_fn(*a),
                                               lambda *a: loaded.step_fn(*a), tf.constant)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_dir_size(path))
    if variant in ("litert", "litert_int8"):
        paths = [workdir / f"decoder_{name}_{variant}.tflite" for name in ("prefill", "step")]
        for fn, path in zip((prefill, step), paths, strict=True):
            _convert(fn.get_concrete_function(), module, path, quantize=variant == "litert_int8")
        runners = [_LiteRT(p, threads, _names(fn, specs)) for p, fn, specs in zip(
            paths, (module.prefill, module.step), (module.prefill_specs, module.step_specs),
            strict=True)]
        do_prefill, do_step, cache = _stateful(runners[0], runners[1], np.ascontiguousarray)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False,
                        artifact_bytes=sum(p.stat().st_size for p in paths))
    raise ValueError(f"unknown TensorFlow variant {variant!r}")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
