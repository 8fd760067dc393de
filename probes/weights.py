"""Weights and inputs generated once from a fixed NumPy seed, in one canonical layout.

Canonical layouts (each framework converts on load):
  dense kernels   (in, out), applied as x @ W + b
  conv kernels    (kh, kw, in, out)  (TensorFlow's HWIO; PyTorch needs OIHW)
  images          NHWC               (PyTorch needs NCHW)
  attention       wq, wk, wv, wo as (d_model, d_model) dense kernels; heads split the last
                  axis into (heads, d_model // heads)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from probes.plan import CNN, MLP, TRANSFORMER

SEED = 20261125


def _dense(rng: np.random.Generator, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    scale = np.sqrt(2.0 / fan_in)  # He initialisation keeps activations O(1)
    kernel = rng.normal(0.0, scale, size=(fan_in, fan_out)).astype(np.float32)
    bias = rng.normal(0.0, 0.01, size=(fan_out,)).astype(np.float32)
    return kernel, bias


def generate(seed: int = SEED) -> dict[str, np.ndarray]:
    """Return every model's weights and the shared inputs, keyed 'model.name'."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    m = MLP
    out["mlp.w1"], out["mlp.b1"] = _dense(rng, m["inputs"], m["hidden"])
    out["mlp.w2"], out["mlp.b2"] = _dense(rng, m["hidden"], m["hidden"])
    out["mlp.w3"], out["mlp.b3"] = _dense(rng, m["hidden"], m["outputs"])
    c = CNN
    for name, cin, cout in (("conv1", c["channels"], c["conv1"]), ("conv2", c["conv1"], c["conv2"])):
        out[f"cnn.{name}.w"] = rng.normal(0, np.sqrt(2.0 / (9 * cin)), (3, 3, cin, cout)).astype(
            np.float32)
        out[f"cnn.{name}.b"] = rng.normal(0, 0.01, (cout,)).astype(np.float32)
    out["cnn.fc.w"], out["cnn.fc.b"] = _dense(rng, c["conv2"], c["outputs"])
    t = TRANSFORMER
    d = t["d_model"]
    for name in ("wq", "wk", "wv", "wo"):
        out[f"transformer.{name}"], out[f"transformer.b{name[1]}"] = _dense(rng, d, d)
    out["transformer.ff1.w"], out["transformer.ff1.b"] = _dense(rng, d, t["ff"])
    out["transformer.ff2.w"], out["transformer.ff2.b"] = _dense(rng, t["ff"], d)
    for norm in ("ln1", "ln2"):
        out[f"transformer.{norm}.gamma"] = (1 + rng.normal(0, 0.05, d)).astype(np.float32)
        out[f"transformer.{norm}.beta"] = rng.normal(0, 0.05, d).astype(np.float32)
    shapes = {
        "mlp": (m["inputs"],),
        "cnn": (c["size"], c["size"], c["channels"]),
        "transformer": (t["seq"], d),
    }
    outputs = {"mlp": (m["outputs"],), "cnn": (c["outputs"],), "transformer": (t["seq"], d)}
    for model, shape in shapes.items():
        out[f"input.{model}.b1"] = rng.normal(0, 1, (1, *shape)).astype(np.float32)
        out[f"input.{model}.b32"] = rng.normal(0, 1, (32, *shape)).astype(np.float32)
        out[f"target.{model}.b32"] = rng.normal(0, 1, (32, *outputs[model])).astype(np.float32)
    return out


def save(path: Path, seed: int = SEED) -> None:
    """Write the generated arrays to an .npz file the workers load."""
    np.savez(path, **generate(seed))


def load(path: str | Path) -> dict[str, np.ndarray]:
    """Return the arrays saved by `save`."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
