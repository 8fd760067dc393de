"""Weights and inputs generated once from a fixed NumPy seed, in one canonical layout.

Canonical layouts (each framework converts on load):
  dense kernels   (in, out), applied as x @ W + b
  conv kernels    (kh, kw, in, out)  (TensorFlow's HWIO; PyTorch needs OIHW)
  images          NHWC               (PyTorch needs NCHW)
  attention       wq, wk, wv, wo as (d_model, d_model) dense kernels; heads split the last
                  axis into (heads, d_model // heads)
  depthwise       (kh, kw, channels, 1)     (TensorFlow's; PyTorch needs (channels, 1, kh, kw))
  token ids       int32

Inputs are keyed 'input.<model>.b<batch>' (one input) or 'input.<model>.b<batch>.<name>'
(several, in the order of INPUT_NAMES); `model_inputs` returns them as a tuple.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from probes.plan import (
    CNN,
    DECODER,
    ENCODER,
    MLP,
    RECOMMENDER,
    SIZING,
    TABULAR,
    TRANSFORMER,
    VISION,
    WORKLOADS,
)

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
        # The smoke set trains at its throughput batch: one naming scheme for every model.
        out[f"input.{model}.train"] = out[f"input.{model}.b32"]
        out[f"target.{model}.train"] = out[f"target.{model}.b32"]
    out.update(generate_workloads(seed))
    return out


INPUT_NAMES = {"recommender": ("dense", "ids")}


def _workload_rng(seed: int, model: str) -> np.random.Generator:
    # One stream per workload: adding a workload never changes another's weights, and the
    # smoke set's stream above stays exactly as it was.
    return np.random.default_rng([seed, WORKLOADS.index(model) + 1])


def _norm(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    return ((1 + rng.normal(0, 0.05, d)).astype(np.float32),
            rng.normal(0, 0.05, d).astype(np.float32))


def _tabular(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t, out = TABULAR, {}
    sizes = (t["inputs"], t["hidden"], t["hidden"], t["outputs"])
    for i in range(3):
        out[f"tabular.w{i + 1}"], out[f"tabular.b{i + 1}"] = _dense(rng, sizes[i], sizes[i + 1])
    return out


def _recommender(rng: np.random.Generator) -> dict[str, np.ndarray]:
    r, out = RECOMMENDER, {}
    for i in range(r["tables"]):
        out[f"recommender.table{i}"] = rng.normal(0, 0.5, (r["rows"], r["dim"])).astype(np.float32)
    bottom = (r["dense"], *r["bottom"], r["dim"])
    for i in range(len(bottom) - 1):
        out[f"recommender.bottom{i}.w"], out[f"recommender.bottom{i}.b"] = _dense(
            rng, bottom[i], bottom[i + 1])
    features = r["tables"] + 1
    top = (r["dim"] + features * (features - 1) // 2, *r["top"], r["outputs"])
    for i in range(len(top) - 1):
        out[f"recommender.top{i}.w"], out[f"recommender.top{i}.b"] = _dense(rng, top[i], top[i + 1])
    return out


def interaction_index(features: int) -> list[int]:
    """Flat indices of the strictly upper triangle of a (features x features) matrix: the
    recommender's pairwise interactions, each pair once."""
    return [i * features + j for i in range(features) for j in range(i + 1, features)]


def vision_layers() -> list[dict]:
    """MobileNetV2's inverted residual blocks at the configured width, in order."""
    v = VISION

    def width(c: int) -> int:  # round to a multiple of 8, as the reference implementation does
        return max(8, int(c * v["width"] + 4) // 8 * 8)

    layers, cin = [], width(32)
    for t, c, n, s in v["blocks"]:
        cout = width(c)
        for i in range(n):
            layers.append({"cin": cin, "hidden": cin * t, "cout": cout, "stride": s if i == 0 else 1,
                           "expand": t != 1})
            cin = cout
    return layers


def _conv(rng: np.random.Generator, k: int, cin: int, cout: int) -> tuple[np.ndarray, np.ndarray]:
    kernel = rng.normal(0, np.sqrt(2.0 / (k * k * cin)), (k, k, cin, cout)).astype(np.float32)
    return kernel, rng.normal(0, 0.01, (cout,)).astype(np.float32)


def _vision(rng: np.random.Generator) -> dict[str, np.ndarray]:
    v, out = VISION, {}
    layers = vision_layers()
    out["vision.stem.w"], out["vision.stem.b"] = _conv(rng, 3, v["channels"], layers[0]["cin"])
    for i, layer in enumerate(layers):
        p, hidden = f"vision.block{i}.", layer["hidden"]
        if layer["expand"]:
            out[p + "expand.w"], out[p + "expand.b"] = _conv(rng, 1, layer["cin"], hidden)
        out[p + "dw.w"] = rng.normal(0, np.sqrt(2.0 / 9), (3, 3, hidden, 1)).astype(np.float32)
        out[p + "dw.b"] = rng.normal(0, 0.01, (hidden,)).astype(np.float32)
        # The projection is linear (no ReLU6); a smaller scale keeps residual sums O(1).
        kernel, bias = _conv(rng, 1, hidden, layer["cout"])
        out[p + "project.w"], out[p + "project.b"] = kernel * 0.5, bias
    out["vision.head.w"], out["vision.head.b"] = _conv(rng, 1, layers[-1]["cout"], v["last"])
    out["vision.fc.w"], out["vision.fc.b"] = _dense(rng, v["last"], v["classes"])
    return out


def _transformer_layers(rng: np.random.Generator, prefix: str, cfg: dict) -> dict[str, np.ndarray]:
    d, out = cfg["d_model"], {}
    out[f"{prefix}.tokens"] = rng.normal(0, 0.5, (cfg["vocab"], d)).astype(np.float32)
    positions = cfg.get("seq") or cfg["prompt"] + cfg["new_tokens"]
    out[f"{prefix}.positions"] = rng.normal(0, 0.1, (positions, d)).astype(np.float32)
    for i in range(cfg["layers"]):
        p = f"{prefix}.layer{i}."
        for name in ("wq", "wk", "wv", "wo"):
            out[p + name], out[p + "b" + name[1]] = _dense(rng, d, d)
            out[p + name] *= 0.5  # keeps attention scores moderate, as trained models have
        out[p + "ff1.w"], out[p + "ff1.b"] = _dense(rng, d, cfg["ff"])
        out[p + "ff2.w"], out[p + "ff2.b"] = _dense(rng, cfg["ff"], d)
        out[p + "ln1.gamma"], out[p + "ln1.beta"] = _norm(rng, d)
        out[p + "ln2.gamma"], out[p + "ln2.beta"] = _norm(rng, d)
    out[f"{prefix}.ln.gamma"], out[f"{prefix}.ln.beta"] = _norm(rng, d)
    if "new_tokens" in cfg:
        # An untied LM head: with random weights a tied one predicts the input token again
        # and again, which would make "both generate the same tokens" a weak check.
        out[f"{prefix}.head"] = rng.normal(0, 1 / np.sqrt(d), (d, cfg["vocab"])).astype(np.float32)
    return out


def _inputs(rng: np.random.Generator, model: str) -> dict[str, np.ndarray]:
    """Batch-1 and throughput-batch inputs, plus the training batch and its target."""
    out: dict[str, np.ndarray] = {}
    sizing = SIZING[model]
    batches = {"b1": 1, f"b{sizing.batch}": sizing.batch, "train": sizing.train_batch}
    for key, n in batches.items():
        if model == "tabular":
            out[f"input.tabular.{key}"] = rng.normal(0, 1, (n, TABULAR["inputs"])).astype(np.float32)
        elif model == "recommender":
            r = RECOMMENDER
            out[f"input.recommender.{key}.dense"] = rng.normal(0, 1, (n, r["dense"])).astype(np.float32)
            out[f"input.recommender.{key}.ids"] = rng.integers(
                0, r["rows"], (n, r["tables"])).astype(np.int32)
        elif model == "vision":
            shape = (n, VISION["size"], VISION["size"], VISION["channels"])
            out[f"input.vision.{key}"] = rng.normal(0, 1, shape).astype(np.float32)
        else:
            cfg = ENCODER if model == "encoder" else DECODER
            seq = cfg.get("seq") or cfg["prompt"]
            out[f"input.{model}.{key}"] = rng.integers(0, cfg["vocab"], (n, seq)).astype(np.int32)
    train = sizing.train_batch
    targets = {"tabular": (train, 1), "recommender": (train, 1), "vision": (train, VISION["classes"]),
               "encoder": (train, ENCODER["seq"], ENCODER["d_model"])}
    if model in targets:
        out[f"target.{model}.train"] = rng.normal(0, 1, targets[model]).astype(np.float32)
    else:  # the decoder learns the next token: integer targets for a cross-entropy loss
        out["target.decoder.train"] = rng.integers(
            0, DECODER["vocab"], (train, DECODER["prompt"])).astype(np.int32)
    return out


def generate_workloads(seed: int = SEED) -> dict[str, np.ndarray]:
    builders = {"tabular": _tabular, "recommender": _recommender, "vision": _vision,
                "encoder": lambda rng: _transformer_layers(rng, "encoder", ENCODER),
                "decoder": lambda rng: _transformer_layers(rng, "decoder", DECODER)}
    out: dict[str, np.ndarray] = {}
    for model in WORKLOADS:
        rng = _workload_rng(seed, model)
        out.update(builders[model](rng))
        out.update(_inputs(rng, model))
    return out


def model_inputs(arrays: dict[str, np.ndarray], model: str, batch: str) -> tuple[np.ndarray, ...]:
    """Return a model's canonical inputs for a batch key ('b1', 'b256', 'train')."""
    names = INPUT_NAMES.get(model)
    if names is None:
        return (arrays[f"input.{model}.{batch}"],)
    return tuple(arrays[f"input.{model}.{batch}.{name}"] for name in names)


def save(path: Path, seed: int = SEED) -> None:
    """Write the generated arrays to an .npz file the workers load."""
    np.savez(path, **generate(seed))


def load(path: str | Path) -> dict[str, np.ndarray]:
    """Return the arrays saved by `save`."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
