"""PyTorch side of the probes: models, weight loading and variants. Imported only inside
the PyTorch worker subprocess."""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from probes.plan import CNN, MLP, TRANSFORMER

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure(threads: int) -> dict[str, str]:
    """Set the thread count and return the thread settings as recorded in the environment."""
    torch.set_num_threads(threads)
    return {"torch.get_num_threads": str(torch.get_num_threads()),
            "torch.get_num_interop_threads": str(torch.get_num_interop_threads()),
            "device": str(DEVICE)}


def versions() -> tuple[str, dict[str, str]]:
    details = {"cuda": str(torch.version.cuda), "device": str(DEVICE)}
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


BUILDERS = {"mlp": MLPModel, "cnn": CNNModel, "transformer": TransformerModel}


def native_input(model: str, array: np.ndarray) -> torch.Tensor:
    """Return the canonical input in PyTorch's layout (NHWC -> NCHW for images)."""
    if model == "cnn":
        array = array.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array)).to(DEVICE)


def native_output(model: str, array: np.ndarray) -> np.ndarray:
    return array


@dataclass
class Prepared:
    infer: Callable[[torch.Tensor], np.ndarray]
    prepare_s: float
    lazy: bool  # compiles on first call, so compile time includes the first call
    artifact_bytes: int | None = None
    native_inputs: Callable[[str, np.ndarray], object] | None = None


def build(model: str, weights: dict[str, np.ndarray]) -> nn.Module:
    return BUILDERS[model](weights).to(DEVICE).eval()


def _files_size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def prepare(variant: str, model_name: str, weights: dict[str, np.ndarray], workdir: Path,
            threads: int) -> Prepared:
    """Return a runnable variant of the model, timing how long it took to make."""
    model = build(model_name, weights)
    t0 = time.perf_counter()

    def torch_runner(module: Callable) -> Callable[[torch.Tensor], np.ndarray]:
        def infer(x: torch.Tensor) -> np.ndarray:
            with torch.inference_mode():
                return module(x).detach().cpu().numpy()
        return infer

    if variant == "eager":
        return Prepared(torch_runner(model), time.perf_counter() - t0, lazy=False)
    if variant == "compile":
        compiled = torch.compile(model)
        return Prepared(torch_runner(compiled), time.perf_counter() - t0, lazy=True)
    example = native_input(model_name, weights[f"input.{model_name}.b32"][:2])
    batch = torch.export.Dim.DYNAMIC
    if variant == "export":
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        path = workdir / f"{model_name}.pt2"
        torch.export.save(program, path)
        loaded = torch.export.load(path).module()
        return Prepared(torch_runner(loaded), time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_files_size([path]))
    if variant == "onnxruntime":
        import onnxruntime as ort

        path = workdir / f"{model_name}.onnx"
        torch.onnx.export(model.cpu(), (example.cpu(),), str(path), dynamo=True,
                          dynamic_shapes=({0: batch},), verbose=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        files = [path] + [p for p in workdir.glob(f"{model_name}.onnx*") if p != path]

        def infer(x: object) -> np.ndarray:
            return session.run(None, {name: x})[0]
        return Prepared(infer, time.perf_counter() - t0, lazy=False,
                        artifact_bytes=_files_size(files),
                        native_inputs=lambda m, a: np.ascontiguousarray(
                            a.transpose(0, 3, 1, 2) if m == "cnn" else a))
    if variant == "int8":
        # Dynamic quantization covers Linear layers (and attention projections);
        # convolutions stay float32. It runs on the CPU only.
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).cpu(), {nn.Linear}, dtype=torch.qint8)
        buffer = io.BytesIO()
        torch.save(quantized.state_dict(), buffer)
        return Prepared(torch_runner(quantized), time.perf_counter() - t0, lazy=False,
                        artifact_bytes=len(buffer.getvalue()),
                        native_inputs=lambda m, a: native_input(m, a).cpu())
    raise ValueError(f"unknown PyTorch variant {variant!r}")


def train_step(variant: str, model_name: str, weights: dict[str, np.ndarray]
               ) -> Callable[[], None]:
    """Return one training step (forward, MSE loss, backward, SGD update) at batch 32."""
    model = build(model_name, weights).train()
    runnable = torch.compile(model) if variant == "compile" else model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = native_input(model_name, weights[f"input.{model_name}.b32"])
    y = torch.from_numpy(weights[f"target.{model_name}.b32"]).to(DEVICE)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(runnable(x), y)
        loss.backward()
        optimizer.step()
    return step


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


