"""PyTorch side of the probes: models, weight loading and variants. Imported only inside
the PyTorch worker subprocess."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from probes import torch_workloads
from probes.plan import CNN, DECODER, GENERATIVE, MLP, SIZING, TRANSFORMER
from probes.weights import model_inputs

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure(threads: int) -> dict[str, str]:
    """Set the thread count and return the thread settings as recorded in the environment."""
    torch.set_num_threads(threads)
    return {"torch.get_num_threads": str(torch.get_num_threads()),
            "torch.get_num_interop_threads": str(torch.get_num_interop_threads()),
            "device": str(DEVICE)}


def versions() -> tuple[str, dict[str, str]]:
    details = {"cuda": str(torch.version.cuda), "device": str(DEVICE), "int8": INT8_API}
    try:
        import onnxruntime

        details["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return torch.__version__, details


def accelerators() -> list[str]:
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _set(param: torch.Tensor, array: np.ndarray) -> None:
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _load_dense(layer: nn.Linear, w: np.ndarray, b: np.ndarray) -> None:
    _set(layer.weight, w.T)  # canonical (in, out) -> torch (out, in)
    _set(layer.bias, b)


class MLPModel(nn.Module):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.fc1 = nn.Linear(MLP["inputs"], MLP["hidden"])
        self.fc2 = nn.Linear(MLP["hidden"], MLP["hidden"])
        self.fc3 = nn.Linear(MLP["hidden"], MLP["outputs"])
        for i in (1, 2, 3):
            _load_dense(getattr(self, f"fc{i}"), w[f"mlp.w{i}"], w[f"mlp.b{i}"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class CNNModel(nn.Module):
    """Input NCHW; conv kernels converted from HWIO to OIHW."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.conv1 = nn.Conv2d(CNN["channels"], CNN["conv1"], 3, padding=1)
        self.conv2 = nn.Conv2d(CNN["conv1"], CNN["conv2"], 3, padding=1)
        self.fc = nn.Linear(CNN["conv2"], CNN["outputs"])
        for name in ("conv1", "conv2"):
            _set(getattr(self, name).weight, w[f"cnn.{name}.w"].transpose(3, 2, 0, 1))
            _set(getattr(self, name).bias, w[f"cnn.{name}.b"])
        _load_dense(self.fc, w["cnn.fc.w"], w["cnn.fc.b"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.mean(dim=(2, 3)))


class TransformerModel(nn.Module):
    """One post-norm encoder block: multi-head self-attention, layer norm, feed-forward."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        d, t = TRANSFORMER["d_model"], TRANSFORMER
        self.attn = nn.MultiheadAttention(d, t["heads"], batch_first=True)
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.ff1 = nn.Linear(d, t["ff"])
        self.ff2 = nn.Linear(t["ff"], d)
        p = "transformer."
        # nn.MultiheadAttention packs q, k, v projections as one (3d, d) matrix.
        packed = np.concatenate([w[p + "wq"].T, w[p + "wk"].T, w[p + "wv"].T], axis=0)
        _set(self.attn.in_proj_weight, packed)
        _set(self.attn.in_proj_bias, np.concatenate([w[p + "bq"], w[p + "bk"], w[p + "bv"]]))
        _set(self.attn.out_proj.weight, w[p + "wo"].T)
        _set(self.attn.out_proj.bias, w[p + "bo"])
        for norm in ("ln1", "ln2"):
            _set(getattr(self, norm).weight, w[f"{p}{norm}.gamma"])
            _set(getattr(self, norm).bias, w[f"{p}{norm}.beta"])
        _load_dense(self.ff1, w[p + "ff1.w"], w[p + "ff1.b"])
        _load_dense(self.ff2, w[p + "ff2.w"], w[p + "ff2.b"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attn(x, x, x, need_weights=False)
        h = self.ln1(x + attended)
        return self.ln2(h + self.ff2(torch.relu(self.ff1(h))))


BUILDERS = {"mlp": MLPModel, "cnn": CNNModel, "transformer": TransformerModel,
            **torch_workloads.BUILDERS}
IMAGE_MODELS = ("cnn", "vision")


def _to_torch_layout(model: str, array: np.ndarray) -> np.ndarray:
    if model in IMAGE_MODELS and array.ndim == 4:
        return np.ascontiguousarray(array.transpose(0, 3, 1, 2))  # NHWC -> NCHW
    return np.ascontiguousarray(array)


def native_input(model: str, arrays: tuple[np.ndarray, ...]) -> tuple[torch.Tensor, ...]:
    """Return the canonical inputs in PyTorch's layout (NHWC -> NCHW for images)."""
    return tuple(torch.from_numpy(_to_torch_layout(model, a)).to(DEVICE) for a in arrays)


def native_output(model: str, array: np.ndarray) -> np.ndarray:
    return array


@dataclass
class Prepared:
    infer: Callable[..., np.ndarray]
    prepare_s: float
    lazy: bool  # compiles on first call, so compile time includes the first call
    artifact_bytes: int | None = None
    native_inputs: Callable[[str, tuple], tuple] | None = None
    note: str | None = None  # e.g. which quantization API made an int8 variant
    quantized_convs: int | None = None  # int8: convolutions with int8 weights


def build(model: str, weights: dict[str, np.ndarray]) -> nn.Module:
    return BUILDERS[model](weights).to(DEVICE).eval()


def _files_size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def _example(model_name: str, weights: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """Two rows of the throughput batch: a batch size exporters will not specialise on."""
    big = f"b{SIZING[model_name].batch}"
    return native_input(model_name, tuple(a[:2] for a in model_inputs(weights, model_name, big)))


def _torch_runner(module: Callable) -> Callable[..., np.ndarray]:
    def infer(*xs: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return module(*xs).detach().cpu().numpy()
    return infer


def prepare(variant: str, model_name: str, weights: dict[str, np.ndarray], workdir: Path,
            threads: int) -> Prepared:
    """Return a runnable variant of the model, timing how long it took to make."""
    model = build(model_name, weights)
    t0 = time.perf_counter()
    if variant == "eager":
        return Prepared(_torch_runner(model), time.perf_counter() - t0, lazy=False)
    if variant == "compile":
        compiled = torch.compile(model)
        return Prepared(_torch_runner(compiled), time.perf_counter() - t0, lazy=True)
    example = _example(model_name, weights)
    batch = torch.export.Dim.DYNAMIC
    dynamic = tuple({0: batch} for _ in example)
    if variant == "export":
        program = torch.export.export(model, example, dynamic_shapes=dynamic)
        path = workdir / f"{model_name}.pt2"
        torch.export.save(program, path)
        loaded = torch.export.load(path).module()
        return Prepared(_torch_runner(loaded), time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_files_size([path]))
    if variant == "onnxruntime":
        path = workdir / f"{model_name}.onnx"
        torch.onnx.export(model.cpu(), tuple(x.cpu() for x in example), str(path), dynamo=True,
                          dynamic_shapes=dynamic, verbose=False)
        run, files = _ort_session(path, threads)
        return Prepared(run, time.perf_counter() - t0, lazy=False, artifact_bytes=_files_size(files),
                        native_inputs=lambda m, arrays: tuple(_to_torch_layout(m, a) for a in arrays))
    if variant == "int8":
        return _int8(model, model_name, weights, example, workdir, t0)
    raise ValueError(f"unknown PyTorch variant {variant!r}")


def _ort_session(path: Path, threads: int) -> tuple[Callable[..., np.ndarray], list[Path]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    files = [path] + [p for p in path.parent.glob(path.name + "*") if p != path]

    def run(*xs: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(names, xs, strict=True)))[0]
    return run, files


# The int8 path (spec §5 `int8`): PT2E quantization, which covers convolutions as well as
# Linear layers. torch 2.13 no longer ships torch.ao's PT2E flow; it lives in torchao
# (torchao.quantization.pt2e). XNNPACKQuantizer moved to ExecuTorch (a mobile runtime), so
# on a server CPU the quantizer is X86InductorQuantizer: static int8 (per-channel weights,
# activations calibrated on the probe's own batch), lowered to oneDNN int8 kernels.
INT8_API = ("torchao.quantization.pt2e: torch.export -> prepare_pt2e(X86InductorQuantizer, "
            "static int8) -> calibrate -> convert_pt2e -> lower_pt2e_quantized_to_x86")


def quantize_pt2e(model: nn.Module, calibration: tuple[torch.Tensor, ...],
                  dynamic_batch: bool = True) -> torch.fx.GraphModule:
    """Return the PT2E int8 model (quantize/dequantize graph, int8 weights), not lowered yet."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    dynamic = tuple({0: torch.export.Dim.DYNAMIC} for _ in calibration) if dynamic_batch else None
    exported = torch.export.export(model, calibration, dynamic_shapes=dynamic).module()
    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    prepared(*calibration)
    return convert_pt2e(prepared)


def _int8(model: nn.Module, model_name: str, weights: dict[str, np.ndarray],
          example: tuple[torch.Tensor, ...], workdir: Path, t0: float) -> Prepared:
    from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86

    # oneDNN int8 kernels are CPU kernels: the int8 variant runs on the CPU, also with CUDA.
    model = copy.deepcopy(model).cpu()
    calibration = tuple(t.cpu() for t in native_input(
        model_name, model_inputs(weights, model_name, "train")))
    converted = without_unused_weights(quantize_pt2e(model, calibration))
    convs = quantized_convolutions(converted)
    path = workdir / f"{model_name}_int8.pt2"
    torch.export.save(torch.export.export(converted, calibration), path)
    lowered: dict[int, Callable] = {}

    def infer(*xs: torch.Tensor) -> np.ndarray:
        # Lowering freezes shapes: one lowered graph per batch size, made on its first call
        # (the measurement loop warms up before timing, so it is never in a sample).
        batch = xs[0].shape[0]
        if batch not in lowered:
            with torch.no_grad():
                lowered[batch] = lower_pt2e_quantized_to_x86(converted, xs)
        with torch.no_grad():
            return lowered[batch](*xs).detach().numpy()

    infer(*tuple(x[:1] for x in calibration))  # batch 1 lowered inside the compile time
    return Prepared(infer, time.perf_counter() - t0, lazy=False, artifact_bytes=_files_size([path]),
                    native_inputs=lambda m, arrays: tuple(x.cpu() for x in native_input(m, arrays)),
                    note=INT8_API, quantized_convs=convs)


def without_unused_weights(graph: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Return the graph without the float32 weights that convert_pt2e replaced by int8
    ones: still registered, they are saved (torch.export keeps every parameter), so the int8
    artifact held both copies and was larger than the float32 one."""
    used = {node.target for node in graph.graph.nodes if node.op == "get_attr"}
    for name, _ in list(graph.named_parameters()) + list(graph.named_buffers()):
        if name not in used:
            owner, _, attr = name.rpartition(".")
            delattr(graph.get_submodule(owner) if owner else graph, attr)
    return graph


def quantized_convolutions(graph: torch.fx.GraphModule) -> int:
    """Count convolutions whose weight arrives through a dequantize node: int8 weights."""
    count = 0
    for node in graph.graph.nodes:
        if node.op == "call_function" and "conv" in str(node.target):
            weight = node.args[1] if len(node.args) > 1 else None
            if getattr(weight, "op", None) == "call_function" and "dequantize" in str(weight.target):
                count += 1
    return count


def train_step(variant: str, model_name: str, weights: dict[str, np.ndarray]
               ) -> Callable[[], None]:
    """Return one training step (forward, loss, backward, SGD update) at the training batch:
    mean squared error, or cross-entropy on the next token for the decoder."""
    model = build(model_name, weights).train()
    runnable = torch.compile(model) if variant == "compile" else model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    xs = native_input(model_name, model_inputs(weights, model_name, "train"))
    y = torch.from_numpy(weights[f"target.{model_name}.train"]).to(DEVICE)

    def loss_of(out: torch.Tensor) -> torch.Tensor:
        if model_name in GENERATIVE:
            return torch.nn.functional.cross_entropy(out.flatten(0, 1), y.flatten().long())
        return torch.nn.functional.mse_loss(out, y)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(runnable(*xs))
        loss.backward()
        optimizer.step()
    return step


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


def _stateful(prefill: Callable, step: Callable, to_ids: Callable, to_pos: Callable,
              to_numpy: Callable) -> tuple[Callable, Callable, list]:
    cache: list = []

    def do_prefill(ids: np.ndarray) -> np.ndarray:
        logits, k, v = prefill(to_ids(ids))
        cache[:] = [k, v]
        return to_numpy(logits)

    def do_step(token: int, pos: int) -> np.ndarray:
        logits, k, v = step(to_ids(np.array([[token]], np.int32)), to_pos(pos), *cache)
        cache[:] = [k, v]
        return to_numpy(logits)
    return do_prefill, do_step, cache


def prepare_decoder(variant: str, weights: dict[str, np.ndarray], workdir: Path,
                    threads: int) -> Decoding:
    """Return the decoder's prefill and cached step as one variant, timing how long it took."""
    decoder = build("decoder", weights)
    prefill = torch_workloads.Prefill(decoder).to(DEVICE).eval()
    step = torch_workloads.Step(decoder).to(DEVICE).eval()
    t0 = time.perf_counter()

    def ids(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(DEVICE)

    def pos(p: int) -> torch.Tensor:
        return torch.tensor([p], device=DEVICE)

    def numpy(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    def inference(fn: Callable) -> Callable:
        def run(*args: torch.Tensor) -> object:
            with torch.inference_mode():
                return fn(*args)
        return run

    if variant in ("eager", "compile"):
        if variant == "compile":
            prefill, step = torch.compile(prefill), torch.compile(step)
        do_prefill, do_step, cache = _stateful(inference(prefill), inference(step), ids, pos, numpy)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=variant == "compile")
    prompt = ids(weights["input.decoder.b1"])
    with torch.inference_mode():
        _, k, v = prefill(prompt)
    step_example = (ids(np.zeros((1, 1), np.int32)), pos(DECODER["prompt"]), k.clone(), v.clone())
    if variant == "export":
        paths = [workdir / "decoder_prefill.pt2", workdir / "decoder_step.pt2"]
        torch.export.save(torch.export.export(prefill, (prompt,)), paths[0])
        torch.export.save(torch.export.export(step, step_example), paths[1])
        loaded = [torch.export.load(p).module() for p in paths]
        do_prefill, do_step, cache = _stateful(inference(loaded[0]), inference(loaded[1]), ids, pos, numpy)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_files_size(paths))
    if variant == "onnxruntime":
        import onnxruntime as ort

        sessions, files = [], []
        for name, module, example in (("prefill", prefill, (prompt,)), ("step", step, step_example)):
            path = workdir / f"decoder_{name}.onnx"
            torch.onnx.export(module.cpu(), tuple(x.cpu() for x in example), str(path), dynamo=True,
                              verbose=False)
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            sessions.append(ort.InferenceSession(str(path), options,
                                                 providers=["CPUExecutionProvider"]))
            files += [path] + [p for p in workdir.glob(path.name + "*") if p != path]

        def session_runner(session: object) -> Callable:
            names = [i.name for i in session.get_inputs()]
            return lambda *xs: session.run(None, dict(zip(names, xs, strict=True)))
        do_prefill, do_step, cache = _stateful(session_runner(sessions[0]), session_runner(sessions[1]),
                                        np.ascontiguousarray, lambda p: np.array([p], np.int64),
                                        np.asarray)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_files_size(files))
    if variant == "int8":
        from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86

        cpu = [x.cpu() for x in step_example]
        prefill_q = quantize_pt2e(copy.deepcopy(prefill).cpu(), (prompt.cpu(),), dynamic_batch=False)
        step_q = quantize_pt2e(copy.deepcopy(step).cpu(), tuple(cpu), dynamic_batch=False)
        with torch.no_grad():
            prefill_l = lower_pt2e_quantized_to_x86(prefill_q, (prompt.cpu(),))
            step_l = lower_pt2e_quantized_to_x86(step_q, tuple(cpu))
        do_prefill, do_step, cache = _stateful(torch.no_grad()(prefill_l), torch.no_grad()(step_l),
                                        lambda a: torch.from_numpy(np.ascontiguousarray(a)),
                                        lambda p: torch.tensor([p]), numpy)
        return _decoding(do_prefill, do_step, cache, time.perf_counter() - t0, lazy=False, note=INT8_API)
    raise ValueError(f"unknown PyTorch variant {variant!r}")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


