"""The representative workloads in PyTorch, on the weights of probes/weights.py (canonical
layouts converted here). Imported only inside the PyTorch worker subprocess."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from probes.plan import DECODER, ENCODER, RECOMMENDER, TABULAR, VISION
from probes.weights import interaction_index, vision_layers


def _param(array: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(array)).clone())


class _Dense(nn.Module):
    """x @ W + b on the canonical (in, out) kernel, kept as an nn.Linear so that quantizers
    recognise it."""

    def __init__(self, w: np.ndarray, b: np.ndarray):
        super().__init__()
        self.linear = nn.Linear(w.shape[0], w.shape[1])
        self.linear.weight = _param(w.T)
        self.linear.bias = _param(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Tabular(nn.Module):
    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.layers = nn.ModuleList(_Dense(w[f"tabular.w{i}"], w[f"tabular.b{i}"]) for i in (1, 2, 3))
        assert self.layers[0].linear.in_features == TABULAR["inputs"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.layers[0](x))
        x = torch.relu(self.layers[1](x))
        return self.layers[2](x)


def _mlp(w: dict[str, np.ndarray], prefix: str, count: int) -> nn.ModuleList:
    return nn.ModuleList(_Dense(w[f"{prefix}{i}.w"], w[f"{prefix}{i}.b"]) for i in range(count))


class Recommender(nn.Module):
    """DLRM-style: bottom MLP on dense features, one embedding per table, pairwise dot
    products of all of them (upper triangle), concatenated with the bottom output, top MLP."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        r = RECOMMENDER
        self.tables = nn.ModuleList(
            nn.Embedding.from_pretrained(torch.from_numpy(w[f"recommender.table{i}"]).clone(),
                                         freeze=False) for i in range(r["tables"]))
        self.bottom = _mlp(w, "recommender.bottom", len(r["bottom"]) + 1)
        self.top = _mlp(w, "recommender.top", len(r["top"]) + 1)
        self.register_buffer("pairs", torch.tensor(interaction_index(r["tables"] + 1)),
                             persistent=False)

    def forward(self, dense: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        x = dense
        for i, layer in enumerate(self.bottom):
            x = layer(x)
            x = torch.relu(x) if i < len(self.bottom) - 1 else x
        features = torch.stack([x] + [t(ids[:, i]) for i, t in enumerate(self.tables)], dim=1)
        dots = torch.bmm(features, features.transpose(1, 2)).flatten(1)
        h = torch.cat([x, dots[:, self.pairs]], dim=1)
        for i, layer in enumerate(self.top):
            h = layer(h)
            h = torch.relu(h) if i < len(self.top) - 1 else h
        return h


def _conv(w: np.ndarray, b: np.ndarray, stride: int = 1, depthwise: bool = False) -> nn.Conv2d:
    kh, kw, cin, cout = w.shape
    channels = cin if depthwise else cout
    conv = nn.Conv2d(cin, channels, kh, stride=stride, padding=kh // 2,
                     groups=cin if depthwise else 1)
    # HWIO -> OIHW; depthwise (kh, kw, C, 1) -> (C, 1, kh, kw)
    conv.weight = _param(w.transpose(2, 3, 0, 1) if depthwise else w.transpose(3, 2, 0, 1))
    conv.bias = _param(b)
    return conv


class _InvertedResidual(nn.Module):
    def __init__(self, w: dict[str, np.ndarray], i: int, layer: dict):
        super().__init__()
        p = f"vision.block{i}."
        self.expand = _conv(w[p + "expand.w"], w[p + "expand.b"]) if layer["expand"] else None
        self.dw = _conv(w[p + "dw.w"], w[p + "dw.b"], layer["stride"], depthwise=True)
        self.project = _conv(w[p + "project.w"], w[p + "project.b"])
        self.residual = layer["stride"] == 1 and layer["cin"] == layer["cout"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self.expand(x)) if self.expand is not None else x
        h = self.project(F.relu6(self.dw(h)))
        return x + h if self.residual else h


class Vision(nn.Module):
    """MobileNetV2 with batch norm folded into the convolutions; input NCHW."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.stem = _conv(w["vision.stem.w"], w["vision.stem.b"], stride=2)
        self.blocks = nn.Sequential(*(_InvertedResidual(w, i, layer)
                                      for i, layer in enumerate(vision_layers())))
        self.head = _conv(w["vision.head.w"], w["vision.head.b"])
        self.fc = _Dense(w["vision.fc.w"], w["vision.fc.b"])
        assert self.fc.linear.out_features == VISION["classes"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu6(self.stem(x)))
        x = F.relu6(self.head(x))
        return self.fc(x.mean(dim=(2, 3)))


class _Attention(nn.Module):
    def __init__(self, w: dict[str, np.ndarray], p: str, heads: int):
        super().__init__()
        self.q, self.k = _Dense(w[p + "wq"], w[p + "bq"]), _Dense(w[p + "wk"], w[p + "bk"])
        self.v, self.o = _Dense(w[p + "wv"], w[p + "bv"]), _Dense(w[p + "wo"], w[p + "bo"])
        self.heads = heads

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        return x.reshape(b, s, self.heads, d // self.heads).transpose(1, 2)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """q (b, h, s, dh) against k, v (b, h, t, dh); mask (s, t) of booleans, True = may see."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, -1e9)
        out = torch.softmax(scores, dim=-1) @ v
        b, h, s, dh = out.shape
        return self.o(out.transpose(1, 2).reshape(b, s, h * dh))


class _Layer(nn.Module):
    def __init__(self, w: dict[str, np.ndarray], p: str, heads: int):
        super().__init__()
        self.attn = _Attention(w, p, heads)
        self.ff1, self.ff2 = _Dense(w[p + "ff1.w"], w[p + "ff1.b"]), _Dense(w[p + "ff2.w"], w[p + "ff2.b"])
        self.ln1, self.ln2 = _layer_norm(w, p + "ln1"), _layer_norm(w, p + "ln2")

    def ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff2(F.gelu(self.ff1(x)))


def _layer_norm(w: dict[str, np.ndarray], p: str) -> nn.LayerNorm:
    norm = nn.LayerNorm(w[p + ".gamma"].shape[0], eps=1e-5)
    norm.weight, norm.bias = _param(w[p + ".gamma"]), _param(w[p + ".beta"])
    return norm


class Encoder(nn.Module):
    """BERT-small-style: token + position embeddings, layer norm, post-norm layers with GELU."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        self.tokens = nn.Embedding.from_pretrained(torch.from_numpy(w["encoder.tokens"]).clone(),
                                                   freeze=False)
        self.positions = _param(w["encoder.positions"])
        self.ln = _layer_norm(w, "encoder.ln")
        self.layers = nn.ModuleList(_Layer(w, f"encoder.layer{i}.", ENCODER["heads"])
                                    for i in range(ENCODER["layers"]))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.ln(self.tokens(ids) + self.positions)
        for layer in self.layers:
            a = layer.attn
            x = layer.ln1(x + a.attend(a.split(a.q(x)), a.split(a.k(x)), a.split(a.v(x)), None))
            x = layer.ln2(x + layer.ff(x))
        return x


class Decoder(nn.Module):
    """GPT-style: pre-norm causal layers, final layer norm, a linear LM head.

    The KV cache is static and functional: keys and values of every layer live in two tensors
    (layers * heads, max_len, head_dim), passed in and returned, and a step writes position
    `pos` by arithmetic with a one-hot mask. Shapes never change, so one graph serves every
    step, and exporters that need static shapes can take it.
    """

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        d = DECODER
        self.tokens = nn.Embedding.from_pretrained(torch.from_numpy(w["decoder.tokens"]).clone(),
                                                   freeze=False)
        self.positions = _param(w["decoder.positions"])
        self.ln = _layer_norm(w, "decoder.ln")
        self.head = _Dense(w["decoder.head"], np.zeros(d["vocab"], np.float32))
        self.layers = nn.ModuleList(_Layer(w, f"decoder.layer{i}.", d["heads"])
                                    for i in range(d["layers"]))
        self.max_len = d["prompt"] + d["new_tokens"]
        self.heads = d["heads"]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln(x))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Training and parity: causal forward over the whole sequence, logits (b, s, vocab)."""
        s = ids.shape[1]
        x = self.tokens(ids) + self.positions[:s]
        causal = torch.ones(s, s, dtype=torch.bool, device=ids.device).tril()
        for layer in self.layers:
            a, h = layer.attn, layer.ln1(x)
            x = x + a.attend(a.split(a.q(h)), a.split(a.k(h)), a.split(a.v(h)), causal)
            x = x + layer.ff(layer.ln2(x))
        return self.logits(x)


class Prefill(nn.Module):
    """prompt ids (1, P) -> (logits of the last position (1, vocab), k cache, v cache)."""

    def __init__(self, decoder: Decoder):
        super().__init__()
        self.d = decoder

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d, s = self.d, ids.shape[1]
        x = d.tokens(ids) + d.positions[:s]
        causal = torch.ones(s, s, dtype=torch.bool, device=ids.device).tril()
        keys, values = [], []
        for layer in d.layers:
            a, h = layer.attn, layer.ln1(x)
            k, v = a.split(a.k(h)), a.split(a.v(h))
            keys.append(F.pad(k[0], (0, 0, 0, d.max_len - s)))
            values.append(F.pad(v[0], (0, 0, 0, d.max_len - s)))
            x = x + a.attend(a.split(a.q(h)), k, v, causal)
            x = x + layer.ff(layer.ln2(x))
        return d.logits(x[:, -1]), torch.cat(keys), torch.cat(values)


class Step(nn.Module):
    """(id (1, 1), pos (1,), k cache, v cache) -> (logits (1, vocab), k cache, v cache)."""

    def __init__(self, decoder: Decoder):
        super().__init__()
        self.d = decoder
        self.register_buffer("slots", torch.arange(decoder.max_len), persistent=False)

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, k_cache: torch.Tensor,
                v_cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d, heads = self.d, self.d.heads
        x = d.tokens(ids) + d.positions[pos].unsqueeze(0)
        write = (self.slots == pos).to(x.dtype).reshape(1, -1, 1)
        visible = (self.slots <= pos).reshape(1, -1)
        keys, values = [], []
        for i, layer in enumerate(d.layers):
            a, h = layer.attn, layer.ln1(x)
            rows = slice(i * heads, (i + 1) * heads)
            k = k_cache[rows] * (1 - write) + a.split(a.k(h))[0] * write
            v = v_cache[rows] * (1 - write) + a.split(a.v(h))[0] * write
            keys.append(k)
            values.append(v)
            x = x + a.attend(a.split(a.q(h)), k.unsqueeze(0), v.unsqueeze(0), visible)
            x = x + layer.ff(layer.ln2(x))
        return d.logits(x[:, -1]), torch.cat(keys), torch.cat(values)


BUILDERS = {"tabular": Tabular, "recommender": Recommender, "vision": Vision, "encoder": Encoder,
            "decoder": Decoder}
