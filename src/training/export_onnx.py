"""
Exports model folders (docs/model-format.md) to ONNX for ONNX Runtime (src/Retro.Engine.Onnx):

    /usr/bin/python3 src/training/export_onnx.py FOLDER [FOLDER ...] [--out DIR]

Writes FOLDER/onnx/ (or DIR when one folder is given): the graphs below, fp32 weights (BF16/F16 files are widened),
opset 17, dynamic batch and length axes, and `onnx.json` (the manifest the C# side checks: graph files, the
model_type, cca_positions and the SHA-256 of the model.safetensors it came from, so a stale export fails clearly).
Contract of every graph: docs/model-format.md, "ONNX export". Runs on torch 1.13 and 2.x (the TorchScript
exporter; torch 2.x is asked for it with dynamo=False).

BERT (bi-encoder or cross-encoder), `encoder.onnx`: input_ids, attention_mask, token_type_ids (B, L) int64 ->
last_hidden_state (B, L, H) and embeddings (B, H) (pooled, normalised as configured) | scores (B,) for a
cross-encoder.

RETRO, three graphs around the neighbour encoder (chunk u's neighbours are encoded from the inputs of layer
min(cca_layers) of its 64 positions, which only the layers below produce):
- decoder_lower.onnx: layers [0, min(cca_layers)). input_ids, positions (B, T) int64; attention_mask (B, P + T)
  int64 (1 = a key that may be attended: P cached positions, then the T new ones; causality is added inside);
  past_key_{i}, past_value_{i} (B, P, D) -> hidden (B, T, D) (the inputs of layer min(cca_layers)),
  new_key_{i}, new_value_{i} (B, T, D) (keys after RoPE: the rows to append to the cache).
- decoder_upper.onnx: layers [min(cca_layers), n_layers). hidden, positions, attention_mask, past_key/value as
  above, plus per CCA layer c: cca_key_{c}, cca_value_{c} (B, S, D) (from the neighbour encoder, S = the latest
  completed chunk's neighbour rows one after another) and cca_mask (B, S) int64 (all 0 for a row whose positions
  precede any complete chunk, or whose chunk has no neighbours: CCA then adds exactly 0) -> logits (B, V) of the
  last of the T positions, new_key_{i}, new_value_{i}.
- neighbour_encoder.onnx: neighbours, neighbour_mask (N, R) int64 (R <= r; masked positions may hold any id),
  chunk_states (N, m, D) (H_u of the chunk each neighbour belongs to) -> encoded (N, R, D) (rows at masked
  positions 0), cca_key_{c}, cca_value_{c} (N, R, D) per CCA layer (keys at positions 0..R-1 when
  cca_positions = "rope").
T = 1 with a KV cache is the single decoding step; T up to m (a segment of positions sharing their CCA chunk) is
the prefill. RoPE tables are constants computed as model.py computes them (float64, then fp32).
"""

import argparse
import hashlib
import inspect
import json
import os
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from model import Bert, Retro, attend, apply_rope, from_folder, merge_heads, rope_cos_sin, split_heads  # noqa: E402

OPSET = 17
MANIFEST = "onnx.json"
MANIFEST_VERSION = 1
NEG = -1e30  # masked score: exp underflows to exactly 0, and a row with no key stays finite (then set to 0)


def _attend(q, k, v, mask, sink=None):
    """attend() of model.py with a finite mask value: q (B, nh, T, hd), k/v (B, nh, S, hd), mask bool
    broadcastable to (B, nh, T, S), sink None or (nh,) logits of a value-0 key. A row with no allowed key gives
    exactly 0, as in the reference."""
    att = (q @ k.transpose(-2, -1)) * (1.0 / (q.size(-1) ** 0.5))
    att = att.masked_fill(~mask, NEG)
    if sink is None:
        att = F.softmax(att, dim=-1)
    else:
        s = (att[..., :1] * 0) + sink.view(1, -1, 1, 1)  # (B, nh, T, 1)
        att = F.softmax(torch.cat([att, s], dim=-1), dim=-1)[..., :-1]
    any_key = mask.to(att.dtype).sum(-1, keepdim=True).clamp(max=1.0)  # (.., T, 1): 0 for an empty row
    return (att * any_key) @ v


def _past_heads(x, n_heads, head_dim):
    """(B, P, D) -> (B, nh, P, hd) with the head size spelled out: P may be 0 (an empty cache), where a reshape
    that infers a dimension (split_heads' view exports as -1) is ambiguous and ONNX Runtime rejects it."""
    return x.reshape(x.size(0), x.size(1), n_heads, int(head_dim)).transpose(1, 2)


def _rope_tables(config, head_dim, length):
    cos, sin = rope_cos_sin(torch.arange(length), head_dim, config.rope_theta, torch.float32)
    return cos.contiguous(), sin.contiguous()


# -----------------------------------------------------------------------------
# graphs


class BertGraph(nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        if self.bert.config.is_cross_encoder:
            return self.bert.score(input_ids, attention_mask, token_type_ids)
        h = self.bert(input_ids, attention_mask, token_type_ids)
        c = self.bert.config
        if c.retro_pooling == "mean":
            m = attention_mask.to(h.dtype)[..., None]
            e = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        else:
            e = h[:, 0]
        return h, (F.normalize(e, dim=-1) if c.retro_normalize else e)


class _DecoderPart(nn.Module):
    """Layers [first, last) of a Retro decoder over T new positions with a cache of P."""

    def __init__(self, model, first, last):
        super().__init__()
        c = model.config
        self.config = c
        self.first, self.last = first, last
        self.model = model
        hd = c.d_model // c.n_heads
        table = max(c.max_seq_len, c.neighbour_len, 2 * c.chunk_size)
        cos, sin = _rope_tables(c, hd, table)
        self.register_buffer("cos", cos, persistent=False)  # (table, hd)
        self.register_buffer("sin", sin, persistent=False)

    def _self_attn(self, layer, h, cos, sin, past_k, past_v, key_mask):
        a, nh = layer.attn, layer.n_heads
        x = layer.attn_norm(h)
        q, k, v = (split_heads(p(x), nh) for p in (a.q_proj, a.k_proj, a.v_proj))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        new_k, new_v = merge_heads(k), merge_heads(v)  # (B, T, D)
        K = torch.cat([_past_heads(past_k, nh, k.size(-1)), k], dim=2)  # (B, nh, P+T, hd)
        V = torch.cat([_past_heads(past_v, nh, k.size(-1)), v], dim=2)
        T, Tk = x.size(1), K.size(2)
        # query t (absolute P + t) sees keys 0..P + t that the mask allows
        causal = torch.arange(Tk)[None, :] <= (torch.arange(T) + (Tk - T))[:, None]  # (T, Tk)
        mask = causal[None, None] & (key_mask[:, None, None, :] > 0)
        return h + a.o_proj(merge_heads(_attend(q, K, V, mask))), new_k, new_v

    def _layers(self, h, positions, attention_mask, past, cca=None, cca_mask=None):
        cos = self.cos[positions][:, None]  # (B, 1, T, hd)
        sin = self.sin[positions][:, None]
        c, m = self.config, self.config.chunk_size
        news = []
        for j, i in enumerate(range(self.first, self.last)):
            layer = self.model.layers[i]
            h, nk, nv = self._self_attn(layer, h, cos, sin, past[2 * j], past[2 * j + 1], attention_mask)
            news += [nk, nv]
            if layer.has_cca:
                ci = c.cca_layers.index(i)
                nh = layer.n_heads
                q = split_heads(layer.cca.q_proj(layer.cca_norm(h)), nh)
                if c.cca_rope:  # position p is at m-1 + ((p+1) mod m) of its shifted chunk
                    cp = torch.remainder(positions + 1, m) + (m - 1)
                    q = apply_rope(q, self.cos[cp][:, None], self.sin[cp][:, None])
                k, v = split_heads(cca[2 * ci], nh), split_heads(cca[2 * ci + 1], nh)
                o = _attend(q, k, v, (cca_mask > 0)[:, None, None, :], getattr(layer.cca, "sink", None))
                h = h + layer.cca.o_proj(merge_heads(o))
            h = h + layer.mlp(layer.mlp_norm(h))
        return h, news


class DecoderLower(_DecoderPart):
    def __init__(self, model):
        super().__init__(model, 0, model.first_cca)

    def forward(self, input_ids, positions, attention_mask, *past):
        h = self.model.tok_embeddings(input_ids)
        h, news = self._layers(h, positions, attention_mask, past)
        return (h, *news)


class DecoderUpper(_DecoderPart):
    def __init__(self, model):
        super().__init__(model, model.first_cca, model.config.n_layers)
        self.n_past = 2 * (self.last - self.first)

    def forward(self, hidden, positions, attention_mask, cca_mask, *rest):
        past, cca = rest[:self.n_past], rest[self.n_past:]
        h, news = self._layers(hidden, positions, attention_mask, past, cca, cca_mask)
        logits = self.model._logits(h[:, -1:])[:, 0]  # (B, V): the last position's
        return (logits, *news)


class NeighbourEncoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        c = model.config
        self.model, self.config = model, c
        cos, sin = _rope_tables(c, c.d_model // c.encoder_n_heads, max(c.neighbour_len, c.chunk_size))
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, neighbours, neighbour_mask, chunk_states):
        c = self.config
        mask = neighbour_mask > 0  # (N, R)
        e = self.model.tok_embeddings(neighbours)  # (N, R, D)
        R, m = neighbours.size(1), chunk_states.size(1)
        cos, sin = self.cos[:R], self.sin[:R]
        rope_h = (self.cos[:m], self.sin[:m]) if c.cca_rope else None
        for layer in self.model.encoder.layers:
            e = _encoder_layer(layer, e, mask, cos, sin, chunk_states, rope_h)
        e = self.model.encoder.norm_f(e) * mask[..., None].to(e.dtype)
        out = [e]
        hd = c.d_model // c.n_heads
        dcos, dsin = _rope_tables(c, hd, c.neighbour_len)
        for i in c.cca_layers:
            cca = self.model.layers[i].cca
            k = cca.k_proj(e)
            if c.cca_rope:  # each neighbour's keys at its own positions 0..R-1
                k = merge_heads(apply_rope(split_heads(k, c.n_heads), dcos[:R], dsin[:R]))
            out += [k, cca.v_proj(e)]
        return tuple(out)


def _encoder_layer(layer, e, mask, cos, sin, H, rope_h):
    """EncoderLayer.forward of model.py with _attend (finite masking)."""
    a, nh = layer.attn, layer.n_heads
    x = layer.attn_norm(e)
    q, k, v = (split_heads(p(x), nh) for p in (a.q_proj, a.k_proj, a.v_proj))
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    e = e + a.o_proj(merge_heads(_attend(q, k, v, mask[:, None, None, :])))
    cr = layer.cross
    q = split_heads(cr.q_proj(layer.cross_norm(e)), nh)
    k, v = split_heads(cr.k_proj(H), nh), split_heads(cr.v_proj(H), nh)
    if rope_h is not None:
        q, k = apply_rope(q, cos, sin), apply_rope(k, *rope_h)
    e = e + cr.o_proj(merge_heads(attend(q, k, v)))
    return e + layer.mlp(layer.mlp_norm(e))


# -----------------------------------------------------------------------------
# names and sample inputs


def decoder_names(config, part):
    """Input and output names of decoder_lower / decoder_upper (in graph order)."""
    first = config.cca_layers[0]
    layers = range(0, first) if part == "lower" else range(first, config.n_layers)
    past = [f"past_{kv}_{i}" for i in layers for kv in ("key", "value")]
    new = [f"new_{kv}_{i}" for i in layers for kv in ("key", "value")]
    if part == "lower":
        return ["input_ids", "positions", "attention_mask"] + past, ["hidden"] + new
    cca = [f"cca_{kv}_{c}" for c in range(len(config.cca_layers)) for kv in ("key", "value")]
    return ["hidden", "positions", "attention_mask", "cca_mask"] + past + cca, ["logits"] + new


def encoder_names(config):
    cca = [f"cca_{kv}_{c}" for c in range(len(config.cca_layers)) for kv in ("key", "value")]
    return ["neighbours", "neighbour_mask", "chunk_states"], ["encoded"] + cca


def _export(module, args, path, inputs, outputs, dynamic):
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch 2.x: the TorchScript exporter, as on torch 1.13
    with warnings.catch_warnings():  # the tracer's notes on constants (sizes, RoPE tables) are expected
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True, **kwargs)


def export_bert(model, out):
    ids = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    outputs = ["scores"] if model.config.is_cross_encoder else ["last_hidden_state", "embeddings"]
    dyn = {n: {0: "batch", 1: "length"} for n in inputs}
    dyn.update({"scores": {0: "batch"}, "last_hidden_state": {0: "batch", 1: "length"}, "embeddings": {0: "batch"}})
    _export(BertGraph(model), (ids, mask, types), os.path.join(out, "encoder.onnx"), inputs, outputs,
            {k: v for k, v in dyn.items() if k in inputs + outputs})
    return {"encoder": "encoder.onnx"}


def export_retro(model, out):
    c = model.config
    D, B, T, P = c.d_model, 2, 3, 5
    seq = {0: "batch", 1: "length"}
    graphs = {}
    for part, module in (("lower", DecoderLower(model)), ("upper", DecoderUpper(model))):
        inputs, outputs = decoder_names(c, part)
        layers = module.last - module.first
        past = [torch.randn(B, P, D) for _ in range(2 * layers)]
        positions = torch.arange(P, P + T).repeat(B, 1)
        mask = torch.ones(B, P + T, dtype=torch.long)
        if part == "lower":
            args = (torch.randint(0, c.vocab_size, (B, T)), positions, mask, *past)
        else:
            S = 7
            cca = [torch.randn(B, S, D) for _ in range(2 * len(c.cca_layers))]
            args = (torch.randn(B, T, D), positions, mask, torch.ones(B, S, dtype=torch.long), *past, *cca)
        dyn = {n: {0: "batch", 1: "past"} for n in inputs if n.startswith("past_")}
        dyn.update({n: {0: "batch", 1: "keys"} for n in inputs if n.startswith("cca_")})
        dyn.update({n: dict(seq) for n in ("input_ids", "positions", "hidden")})
        dyn["attention_mask"] = {0: "batch", 1: "all"}
        dyn.update({n: dict(seq) for n in outputs if n.startswith("new_")})
        dyn["logits"] = {0: "batch"}
        name = f"decoder_{part}.onnx"
        _export(module, args, os.path.join(out, name), inputs, outputs, {k: v for k, v in dyn.items()
                                                                          if k in inputs + outputs})
        graphs[f"decoder_{part}"] = name
    inputs, outputs = encoder_names(c)
    N, R = 3, 9
    nb = torch.randint(0, c.vocab_size, (N, R))
    nmask = torch.ones(N, R, dtype=torch.long)
    nmask[1, 6:] = 0
    dyn = {"neighbours": {0: "n", 1: "r"}, "neighbour_mask": {0: "n", 1: "r"}, "chunk_states": {0: "n"}}
    dyn.update({o: {0: "n", 1: "r"} for o in outputs})
    _export(NeighbourEncoderGraph(model), (nb, nmask, torch.randn(N, c.chunk_size, D)),
            os.path.join(out, "neighbour_encoder.onnx"), inputs, outputs, dyn)
    graphs["neighbour_encoder"] = "neighbour_encoder.onnx"
    return graphs


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_folder(folder, out=None):
    """Exports a model folder's graphs to `out` (default FOLDER/onnx); returns the manifest."""
    out = out or os.path.join(folder, "onnx")
    os.makedirs(out, exist_ok=True)
    model = from_folder(folder).eval()
    with torch.no_grad():
        if isinstance(model, Retro):
            graphs = export_retro(model, out)
            extra = {"cca_positions": model.config.cca_positions, "cca_layers": list(model.config.cca_layers)}
        else:
            graphs = export_bert(model, out)
            extra = {"cross_encoder": model.config.is_cross_encoder}
    manifest = {"format_version": MANIFEST_VERSION, "model_type": model.config.model_type, "opset": OPSET,
                "graphs": graphs, "source_sha256": sha256_file(os.path.join(folder, "model.safetensors")),
                "torch": torch.__version__, **extra}
    with open(os.path.join(out, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", help="model folders (config.json + model.safetensors)")
    ap.add_argument("--out", help="output folder (one model folder only; default FOLDER/onnx)")
    a = ap.parse_args(argv)
    if a.out and len(a.folders) != 1:
        ap.error("--out takes one model folder")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for folder in a.folders:
        m = export_folder(folder, a.out)
        print(f"{folder}: {', '.join(m['graphs'].values())} -> {a.out or os.path.join(folder, 'onnx')}")


if __name__ == "__main__":
    main()
