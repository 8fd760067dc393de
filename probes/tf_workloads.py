"""The representative workloads in TensorFlow, as tf.Modules on the same weights as PyTorch's
(canonical layouts are TensorFlow's). Imported only inside the TensorFlow worker subprocess."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from probes.plan import DECODER, ENCODER, RECOMMENDER, TABULAR, VISION
from probes.weights import interaction_index, vision_layers


def _var(array: np.ndarray, name: str) -> tf.Variable:
    return tf.Variable(array, name=name.replace(".", "_"))


def _dense(x: tf.Tensor, w: tf.Variable, b: tf.Variable) -> tf.Tensor:
    if len(x.shape) == 3:  # (b, s, d): a batched matmul would not lower to one dense op
        return tf.einsum("bsd,de->bse", x, w) + b
    return tf.matmul(x, w) + b


def _layer_norm(x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-5) * gamma + beta


class _Weights(tf.Module):
    def __init__(self, w: dict[str, np.ndarray], prefix: str):
        super().__init__()
        self.v = {k[len(prefix) + 1:]: _var(a, k) for k, a in w.items() if k.startswith(prefix + ".")}


class Tabular(_Weights):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__(w, "tabular")
        self.specs = [tf.TensorSpec([None, TABULAR["inputs"]], tf.float32, name="x")]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        v = self.v
        x = tf.nn.relu(_dense(x, v["w1"], v["b1"]))
        x = tf.nn.relu(_dense(x, v["w2"], v["b2"]))
        return _dense(x, v["w3"], v["b3"])


class Recommender(_Weights):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__(w, "recommender")
        r = RECOMMENDER
        self.specs = [tf.TensorSpec([None, r["dense"]], tf.float32, name="dense"),
                      tf.TensorSpec([None, r["tables"]], tf.int32, name="ids")]
        self.pairs = tf.constant(interaction_index(r["tables"] + 1), tf.int32)

    def _mlp(self, x: tf.Tensor, prefix: str, count: int) -> tf.Tensor:
        for i in range(count):
            x = _dense(x, self.v[f"{prefix}{i}.w"], self.v[f"{prefix}{i}.b"])
            x = tf.nn.relu(x) if i < count - 1 else x
        return x

    def __call__(self, dense: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        r = RECOMMENDER
        x = self._mlp(dense, "bottom", len(r["bottom"]) + 1)
        embedded = [tf.gather(self.v[f"table{i}"], ids[:, i]) for i in range(r["tables"])]
        features = tf.stack([x, *embedded], axis=1)
        dots = tf.reshape(tf.matmul(features, features, transpose_b=True), [-1, (r["tables"] + 1) ** 2])
        h = tf.concat([x, tf.gather(dots, self.pairs, axis=1)], axis=1)
        return self._mlp(h, "top", len(r["top"]) + 1)


def _conv(x: tf.Tensor, w: tf.Variable, b: tf.Variable, stride: int = 1,
          depthwise: bool = False) -> tf.Tensor:
    k = int(w.shape[0])
    if k > 1:  # PyTorch pads k // 2 on every side; TensorFlow's SAME would pad 0/1 at stride 2
        pad = k // 2
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    if depthwise:
        y = tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], "VALID")
    else:
        y = tf.nn.conv2d(x, w, stride, "VALID")
    return y + b


class Vision(_Weights):
    """MobileNetV2 with batch norm folded into the convolutions; input NHWC."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__(w, "vision")
        self.layers = vision_layers()
        self.specs = [tf.TensorSpec([None, VISION["size"], VISION["size"], VISION["channels"]],
                                    tf.float32, name="x")]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        v = self.v
        x = tf.nn.relu6(_conv(x, v["stem.w"], v["stem.b"], stride=2))
        for i, layer in enumerate(self.layers):
            p = f"block{i}."
            h = tf.nn.relu6(_conv(x, v[p + "expand.w"], v[p + "expand.b"])) if layer["expand"] else x
            h = tf.nn.relu6(_conv(h, v[p + "dw.w"], v[p + "dw.b"], layer["stride"], depthwise=True))
            h = _conv(h, v[p + "project.w"], v[p + "project.b"])
            x = x + h if layer["stride"] == 1 and layer["cin"] == layer["cout"] else h
        x = tf.nn.relu6(_conv(x, v["head.w"], v["head.b"]))
        return _dense(tf.reduce_mean(x, axis=[1, 2]), v["fc.w"], v["fc.b"])


class _Transformer(_Weights):
    heads: int

    def split(self, x: tf.Tensor) -> tf.Tensor:
        d = int(x.shape[-1])
        x = tf.reshape(x, [tf.shape(x)[0], tf.shape(x)[1], self.heads, d // self.heads])
        return tf.transpose(x, [0, 2, 1, 3])

    def attend(self, p: str, q: tf.Tensor, k: tf.Tensor, val: tf.Tensor,
               mask: tf.Tensor | None) -> tf.Tensor:
        """q (b, h, s, dh) against k, v (b, h, t, dh); mask (s, t) of booleans, True = may see."""
        depth = int(q.shape[-1])
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(depth)
        if mask is not None:
            scores = tf.where(mask, scores, -1e9)
        out = tf.transpose(tf.matmul(tf.nn.softmax(scores, axis=-1), val), [0, 2, 1, 3])
        out = tf.reshape(out, [tf.shape(out)[0], tf.shape(out)[1], self.heads * depth])
        return _dense(out, self.v[p + "wo"], self.v[p + "bo"])

    def proj(self, p: str, name: str, x: tf.Tensor) -> tf.Tensor:
        return self.split(_dense(x, self.v[p + "w" + name], self.v[p + "b" + name]))

    def ff(self, p: str, x: tf.Tensor) -> tf.Tensor:
        v = self.v
        return _dense(tf.nn.gelu(_dense(x, v[p + "ff1.w"], v[p + "ff1.b"]), approximate=False),
                      v[p + "ff2.w"], v[p + "ff2.b"])

    def norm(self, p: str, x: tf.Tensor) -> tf.Tensor:
        return _layer_norm(x, self.v[p + ".gamma"], self.v[p + ".beta"])


class Encoder(_Transformer):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__(w, "encoder")
        self.heads = ENCODER["heads"]
        self.specs = [tf.TensorSpec([None, ENCODER["seq"]], tf.int32, name="ids")]

    def __call__(self, ids: tf.Tensor) -> tf.Tensor:
        x = self.norm("ln", tf.gather(self.v["tokens"], ids) + self.v["positions"])
        for i in range(ENCODER["layers"]):
            p = f"layer{i}."
            a = self.attend(p, self.proj(p, "q", x), self.proj(p, "k", x), self.proj(p, "v", x), None)
            x = self.norm(p + "ln1", x + a)
            x = self.norm(p + "ln2", x + self.ff(p, x))
        return x


class Decoder(_Transformer):
    """GPT-style, same structure and static functional KV cache as PyTorch's Decoder."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__(w, "decoder")
        d = DECODER
        self.heads, self.layers = d["heads"], d["layers"]
        self.max_len = d["prompt"] + d["new_tokens"]
        self.specs = [tf.TensorSpec([None, d["prompt"]], tf.int32, name="ids")]
        depth = d["d_model"] // d["heads"]
        shape = [self.layers * self.heads, self.max_len, depth]
        self.prefill_specs = [tf.TensorSpec([1, d["prompt"]], tf.int32, name="ids")]
        self.step_specs = [tf.TensorSpec([1, 1], tf.int32, name="ids"),
                           tf.TensorSpec([1], tf.int32, name="pos"),
                           tf.TensorSpec(shape, tf.float32, name="k_cache"),
                           tf.TensorSpec(shape, tf.float32, name="v_cache")]

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(self.norm("ln", x), self.v["head"])

    def _causal(self, s: int) -> tf.Tensor:
        return tf.constant(np.tril(np.ones((s, s), dtype=bool)))

    def __call__(self, ids: tf.Tensor) -> tf.Tensor:
        """Training and parity: causal forward over the whole sequence, logits (b, s, vocab)."""
        s = int(ids.shape[1])
        x = tf.gather(self.v["tokens"], ids) + self.v["positions"][:s]
        for i in range(self.layers):
            p, causal = f"layer{i}.", self._causal(s)
            h = self.norm(p + "ln1", x)
            x = x + self.attend(p, self.proj(p, "q", h), self.proj(p, "k", h), self.proj(p, "v", h),
                                causal)
            x = x + self.ff(p, self.norm(p + "ln2", x))
        return _dense(self.norm("ln", x), self.v["head"], 0.0)

    def prefill(self, ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        s = int(ids.shape[1])
        x = tf.gather(self.v["tokens"], ids) + self.v["positions"][:s]
        keys, values = [], []
        pad = [[0, 0], [0, self.max_len - s], [0, 0]]
        for i in range(self.layers):
            p = f"layer{i}."
            h = self.norm(p + "ln1", x)
            k, val = self.proj(p, "k", h), self.proj(p, "v", h)
            keys.append(tf.pad(k[0], pad))
            values.append(tf.pad(val[0], pad))
            x = x + self.attend(p, self.proj(p, "q", h), k, val, self._causal(s))
            x = x + self.ff(p, self.norm(p + "ln2", x))
        return self.logits(x[:, -1]), tf.concat(keys, 0), tf.concat(values, 0)

    def step(self, ids: tf.Tensor, pos: tf.Tensor, k_cache: tf.Tensor, v_cache: tf.Tensor
             ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        slots = tf.range(self.max_len, dtype=tf.int32)
        x = tf.gather(self.v["tokens"], ids) + tf.gather(self.v["positions"], pos)[None]
        write = tf.reshape(tf.cast(tf.equal(slots, pos), tf.float32), [1, -1, 1])
        visible = tf.reshape(slots <= pos, [1, -1])
        keys, values = [], []
        for i in range(self.layers):
            p, rows = f"layer{i}.", slice(i * self.heads, (i + 1) * self.heads)
            h = self.norm(p + "ln1", x)
            k = k_cache[rows] * (1 - write) + self.proj(p, "k", h)[0] * write
            val = v_cache[rows] * (1 - write) + self.proj(p, "v", h)[0] * write
            keys.append(k)
            values.append(val)
            x = x + self.attend(p, self.proj(p, "q", h), k[None], val[None], visible)
            x = x + self.ff(p, self.norm(p + "ln2", x))
        return self.logits(x[:, -1]), tf.concat(keys, 0), tf.concat(values, 0)


BUILDERS = {"tabular": Tabular, "recommender": Recommender, "vision": Vision, "encoder": Encoder,
            "decoder": Decoder}
