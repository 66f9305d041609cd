"""
Reference PyTorch models of Retro, one file, nanoGPT style. The exact contract (config keys, tensor names,
forward semantics) is docs/model-format.md; state_dict() names here ARE the tensor names of the files.

1) Bert: Hugging Face BertModel (post-LN, exact GELU), as bi-encoder (mean pooling + L2 norm) or
   cross-encoder (classifier(tanh(pooler(h[:, 0])))).
2) Retro: pre-LN decoder with RoPE, chunked cross-attention (CCA) at `cca_layers`, and a neighbour encoder
   conditioned on the decoder's hidden states at the input of layer min(cca_layers); tied LM head.
   forward(tokens, neighbours) runs the whole sequence; init_cache()/step() decode one token at a time and
   reproduce forward(); generate_greedy() sits on top of step().

Runs on torch 1.13 and 2.x (manual attention; no APIs newer than 1.13).
"""

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import load_file, save_file

FORMAT_VERSION = 1

# -----------------------------------------------------------------------------
# shared pieces


def attend(q, k, v, mask=None, sink=None):
    """Scaled dot-product attention with a boolean mask (True = may attend).
    q (B, nh, Tq, hd), k/v (B, nh, Tk, hd), mask broadcastable to (B, nh, Tq, Tk).
    sink: None or (nh,) logits of one extra key per head whose value is 0 (not scaled): the softmax runs over the
    visible keys and the sink, so a head whose keys all score below its sink attends (mostly) to nothing.
    A query row with no allowed key outputs exactly 0 (not NaN)."""
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (B, nh, Tq, Tk)
    if mask is not None:
        att = att.masked_fill(~mask, float("-inf"))
    if sink is None:
        att = F.softmax(att, dim=-1)
    else:
        s = sink.to(att.dtype).view(1, -1, 1, 1).expand(*att.shape[:-1], 1)
        att = F.softmax(torch.cat([att, s], dim=-1), dim=-1)[..., :-1]
    if mask is not None:
        att = att.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # empty rows: NaN -> 0
    return att @ v  # (B, nh, Tq, hd)


def split_heads(x, n_heads):
    """(B, T, C) -> (B, nh, T, C/nh)"""
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def merge_heads(x):
    """(B, nh, T, hd) -> (B, T, nh*hd)"""
    B, nh, T, hd = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, nh * hd)


def rope_inv_freq(head_dim, theta):
    """(hd/2,) float64 angle per position of each rotate-half RoPE frequency pair (dims f and f + hd/2)."""
    return theta ** (-2.0 * torch.arange(head_dim // 2, dtype=torch.float64) / head_dim)


def rope_cos_sin(positions, head_dim, theta, dtype, device=None):
    """cos, sin tables (T, hd) for rotate-half RoPE on `device` (default: that of positions); angles computed in
    float64 for accuracy (on the CPU, then moved: some accelerators have no float64)."""
    inv_freq = rope_inv_freq(head_dim, theta)  # (hd/2,)
    ang = positions.detach().cpu().to(torch.float64)[:, None] * inv_freq[None, :]  # (T, hd/2)
    ang = torch.cat([ang, ang], dim=-1)  # (T, hd)
    device = positions.device if device is None else device
    return ang.cos().to(device=device, dtype=dtype), ang.sin().to(device=device, dtype=dtype)


class RopeTables:
    """Cached RoPE tables per (positions, head dim, device, dtype): the positions a model uses are few and fixed
    (0..n-1, a chunk's 0..m-1, a neighbour's 0..r-1), so each table is built once per device instead of per call."""

    def __init__(self, theta):
        self.theta = theta
        self._cache = {}

    def __call__(self, start, length, head_dim, device, dtype):
        """cos, sin (length, hd) of positions start..start+length-1."""
        key = (start, length, head_dim, str(device), dtype)
        t = self._cache.get(key)
        if t is None:
            if len(self._cache) > 256:
                self._cache.clear()
            t = rope_cos_sin(torch.arange(start, start + length), head_dim, self.theta, dtype, device)
            self._cache[key] = t
        return t


def apply_rope(x, cos, sin):
    """x (B, nh, T, hd); cos/sin (T, hd) on x's device. x' = x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1]."""
    half = x.size(-1) // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


def _load_config_dict(folder):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def _from_dict(cls, d):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


# -----------------------------------------------------------------------------
# BERT (Hugging Face names)


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    pad_token_id: int = 0
    architectures: list = field(default_factory=lambda: ["BertModel"])  # or ["BertForSequenceClassification"]
    num_labels: int = 1  # cross-encoder only
    retro_pooling: str = "mean"  # bi-encoder only: "mean" (mask-weighted) or "cls"
    retro_normalize: bool = True  # bi-encoder only: L2-normalise the pooled embedding
    model_type: str = "bert"
    format_version: int = FORMAT_VERSION

    @property
    def is_cross_encoder(self):
        return self.architectures == ["BertForSequenceClassification"]

    def to_dict(self):
        d = asdict(self)
        if self.is_cross_encoder:
            d.pop("retro_pooling"), d.pop("retro_normalize")
        else:
            d.pop("num_labels")
        return d


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids, token_type_ids):
        L = input_ids.size(1)
        pos = torch.arange(L, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos)[None] \
            + self.token_type_embeddings(token_type_ids)  # (B, L, H)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x, key_mask):  # x (B, L, H), key_mask (B, L) bool
        q, k, v = (split_heads(lin(x), self.n_heads) for lin in (self.query, self.key, self.value))
        return merge_heads(attend(q, k, v, key_mask[:, None, None, :]))  # (B, L, H)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, key_mask):
        return self.output.LayerNorm(x + self.output.dense(self.self(x, key_mask)))  # post-LN


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, key_mask):
        x = self.attention(x, key_mask)
        h = F.gelu(self.intermediate.dense(x))  # exact (erf) GELU
        return self.output.LayerNorm(x + self.output.dense(h))


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


class Bert(nn.Module):
    """BertModel (bi-encoder) or BertForSequenceClassification (cross-encoder, config.is_cross_encoder).
    state_dict() names are Hugging Face's without the `bert.` prefix; save_folder adds it for cross-encoders."""

    def __init__(self, config):
        super().__init__()
        if config.hidden_act != "gelu":
            raise ValueError(f"hidden_act {config.hidden_act!r} not supported (only exact 'gelu')")
        if config.hidden_size % config.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
        if config.is_cross_encoder:
            if config.num_labels != 1:
                raise ValueError("cross-encoder must have num_labels = 1")
            self.classifier = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        """input_ids (B, L) -> last hidden states (B, L, H)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        key_mask = attention_mask.bool()
        for layer in self.encoder.layer:
            x = layer(x, key_mask)
        return x

    def embed(self, input_ids, attention_mask, token_type_ids=None):
        """Bi-encoder embedding (B, H): pooled (mean over attention_mask = 1, or [CLS]), L2-normalised."""
        h = self(input_ids, attention_mask, token_type_ids)
        if self.config.retro_pooling == "mean":
            m = attention_mask.to(h.dtype)[..., None]  # (B, L, 1)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        elif self.config.retro_pooling == "cls":
            e = h[:, 0]
        else:
            raise ValueError(f"unknown retro_pooling {self.config.retro_pooling!r}")
        return F.normalize(e, dim=-1) if self.config.retro_normalize else e

    def score(self, input_ids, attention_mask, token_type_ids):
        """Cross-encoder relevance logit (B,) = classifier(tanh(pooler.dense(h[:, 0])))."""
        h = self(input_ids, attention_mask, token_type_ids)
        return self.classifier(torch.tanh(self.pooler.dense(h[:, 0])))[:, 0]

    # --- files -----------------------------------------------------------------
    def export_state(self, dtype=torch.float32):
        """Tensors as named in the file (cross-encoders: BERT tensors prefixed `bert.`)."""
        out = {}
        for name, t in self.state_dict().items():
            if self.config.is_cross_encoder and not name.startswith("classifier."):
                name = "bert." + name
            out[name] = t.detach().to(dtype).contiguous()
        return out

    def save_folder(self, folder, dtype=torch.float32):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(self.config.to_dict(), f, indent=2)
            f.write("\n")
        save_file(self.export_state(dtype), os.path.join(folder, "model.safetensors"),
                  metadata={"format": "pt"})

    @classmethod
    def from_folder(cls, folder):
        config = _from_dict(BertConfig, _load_config_dict(folder))
        model = cls(config)
        tensors = load_file(os.path.join(folder, "model.safetensors"))
        state = {}
        for name, t in tensors.items():
            name = name[5:] if name.startswith("bert.") else name
            if name.endswith("position_ids"):
                continue  # non-weight buffer in some HF checkpoints
            state[name] = t.to(torch.float32)
        if not config.is_cross_encoder:
            state.setdefault("pooler.dense.weight", model.pooler.dense.weight.detach().clone())
            state.setdefault("pooler.dense.bias", model.pooler.dense.bias.detach().clone())
        model.load_state_dict(state, strict=True)
        return model


# -----------------------------------------------------------------------------
# RETRO decoder


CCA_POSITIONS = ("none", "rope")
QUESTION_LAYOUTS = ("chunk", "answer")


@dataclass
class RetroConfig:
    vocab_size: int = 512
    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 128
    max_seq_len: int = 1024
    chunk_size: int = 64  # m
    neighbour_len: int = 128  # r = chunk + continuation
    num_neighbours: int = 2  # k at inference (any k works)
    cca_layers: list = field(default_factory=lambda: [2, 3])
    encoder_layers: int = 2
    encoder_n_heads: int = 4
    encoder_d_ff: int = 128
    rope_theta: float = 10000.0
    # Relative positions inside the cross-attentions. "rope": CCA queries of the shifted chunk at positions
    # m-1..2m-2, each neighbour's keys at 0..r-1 (so query i and neighbour token i' are i - i' + m - 1 apart, the
    # RETRO paper's d(i, i')); the neighbour encoder's cross-attention: neighbour token t at t, chunk state j at j.
    # "none": no positions in either (format 1 files written before 2026-12-04, which lack the key).
    cca_positions: str = "rope"
    # How the service lays out the neighbours of a question's chunk (the last chunk of a left-padded question; every
    # other chunk's neighbour is its chunk + continuation): "chunk" = as every other chunk; "answer" = the question
    # chunk's own m tokens, then the retrieved chunk and its continuation, cut to r, so the passage stands where
    # RETRO puts the continuation, aligned with the answer (train_qa.py's qa_layout). question_neighbours: how many
    # of the retrieved neighbours a question chunk gets (0 = all).
    question_layout: str = "chunk"
    question_neighbours: int = 0
    # A learned sink per CCA head (weights layers.{i}.cca.sink, (n_heads,)): one more key with a fixed logit and
    # value 0 in every chunked cross-attention, so a head reads a neighbour only where a key outscores its sink and
    # adds ~0 where none does (a gated read; closed-book and an irrelevant neighbour then agree).
    cca_sink: bool = False
    # The neighbour copy (neighbour_copy_* below; None = off): a pointer into the retrieved neighbours mixed into the
    # next-token distribution, {"max_match": M, "match_edges": [..], "lambda_read": [..], "lambda_unread": [..]},
    # fitted by fit_copy.py on fitting text. The decoder's own weights do not change.
    neighbour_copy: dict = None
    layer_norm_eps: float = 1e-5
    tie_embeddings: bool = True
    bos_token_id: int = 0
    eos_token_id: int = 0
    pad_token_id: int = 0
    model_type: str = "retro"
    format_version: int = FORMAT_VERSION

    def validate(self):
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError("d_model / n_heads must be an even integer")
        if self.d_model % self.encoder_n_heads or (self.d_model // self.encoder_n_heads) % 2:
            raise ValueError("d_model / encoder_n_heads must be an even integer")
        cca = list(self.cca_layers)
        if not cca or cca != sorted(set(cca)) or cca[0] < 0 or cca[-1] >= self.n_layers:
            raise ValueError(f"cca_layers must be ascending, unique, within [0, {self.n_layers}): {cca}")
        if self.model_type != "retro":
            raise ValueError(f"model_type must be 'retro', got {self.model_type!r}")
        if self.cca_positions not in CCA_POSITIONS:
            raise ValueError(f"cca_positions must be one of {CCA_POSITIONS}, got {self.cca_positions!r}")
        if self.question_layout not in QUESTION_LAYOUTS:
            raise ValueError(f"question_layout must be one of {QUESTION_LAYOUTS}, got {self.question_layout!r}")
        if self.question_neighbours < 0:
            raise ValueError("question_neighbours must be >= 0")
        if self.neighbour_copy is not None:
            neighbour_copy_validate(self.neighbour_copy)

    @property
    def cca_rope(self):
        return self.cca_positions == "rope"

    def to_dict(self):
        """config.json's object; the question keys only when they differ from their defaults (files written before
        they existed stay byte-identical)."""
        d = asdict(self)
        if d["question_layout"] == "chunk" and d["question_neighbours"] == 0:
            del d["question_layout"], d["question_neighbours"]
        if not d["cca_sink"]:
            del d["cca_sink"]
        if d["neighbour_copy"] is None:
            del d["neighbour_copy"]
        return d


def retro_config_from_dict(d):
    """A RetroConfig from a config.json object; a file without cca_positions predates them: "none"."""
    d = dict(d)
    d.setdefault("cca_positions", "none")
    return _from_dict(RetroConfig, d)


def load_config(folder):
    """config.json of a model folder -> BertConfig or RetroConfig (by model_type)."""
    d = _load_config_dict(folder)
    if d.get("model_type") == "retro":
        return retro_config_from_dict(d)
    if d.get("model_type") == "bert":
        return _from_dict(BertConfig, d)
    raise ValueError(f"{folder}: unknown model_type {d.get('model_type')!r}")


# -----------------------------------------------------------------------------
# neighbour copy: a pointer into the neighbours, mixed into the decoder's next-token distribution
#
# At a position t whose next token lies in chunk c >= 1, the candidates are the neighbours retrieved for chunk c-1
# (each its chunk + continuation, cut to r), read by the decoder or not. Match L: the longest run of tokens ending at
# t (at most max_match) that also occurs in a row in a candidate with a token after it; the proposal is that token.
# Largest L wins; on a tie the better-ranked neighbour, then the earlier place in it. The decoder's distribution p
# becomes (1 - lam) p + lam [token = proposal], lam from a table by L's bucket (match_edges: bucket i holds
# edges[i] <= L < edges[i+1], the last one up to max_match) and by whether the decoder read the neighbour.
# Retro.Engine.Retro.NeighbourCopy is the same rule; fit_copy.py fits the table.

NEIGHBOUR_COPY_EDGES = (1, 2, 3, 4, 6, 8, 12, 16)


def neighbour_copy_table(lambda_read, lambda_unread, max_match=32, edges=NEIGHBOUR_COPY_EDGES):
    nc = {"max_match": int(max_match), "match_edges": [int(e) for e in edges],
          "lambda_read": [round(float(x), 4) for x in lambda_read],
          "lambda_unread": [round(float(x), 4) for x in lambda_unread]}
    neighbour_copy_validate(nc)
    return nc


def neighbour_copy_validate(nc):
    if not isinstance(nc, dict):
        raise ValueError("neighbour_copy must be an object")
    missing = {"max_match", "match_edges", "lambda_read", "lambda_unread"} - set(nc)
    if missing:
        raise ValueError(f"neighbour_copy lacks {sorted(missing)}")
    edges, mm = list(nc["match_edges"]), nc["max_match"]
    if not isinstance(mm, int) or mm < 1:
        raise ValueError("neighbour_copy.max_match must be an integer >= 1")
    if not edges or edges[0] < 1 or edges != sorted(set(edges)) or edges[-1] > mm:
        raise ValueError("neighbour_copy.match_edges must be ascending integers in [1, max_match]")
    for key in ("lambda_read", "lambda_unread"):
        lam = list(nc[key])
        if len(lam) != len(edges) or any(not (0.0 <= float(x) < 1.0) for x in lam):
            raise ValueError(f"neighbour_copy.{key} must hold one value in [0, 1) per match edge")


def neighbour_copy_match(context, neighbour, max_match):
    """(L, proposal) for one candidate: the longest run ending at the end of `context` (1-D ints, at most max_match)
    that occurs in a row in `neighbour` (1-D ints, -1 padding ignored) with a token after it, and that token, at its
    earliest place; (0, -1) when no token of context's end occurs with a token after it."""
    nb = np.asarray(neighbour, np.int64)
    nb = nb[nb >= 0]
    ctx = np.asarray(context, np.int64)
    R = len(nb)
    if R < 2 or len(ctx) == 0:
        return 0, -1
    n = min(max_match, len(ctx))
    ends = np.arange(R - 1)  # a match ending at j is followed by nb[j + 1]
    run = np.zeros(R - 1, np.int64)
    alive = np.ones(R - 1, bool)
    for i in range(n):  # does nb[j - i] == ctx[-1 - i]?
        j = ends - i
        ok = alive & (j >= 0)
        ok[ok] = nb[j[ok]] == ctx[-1 - i]
        run += ok
        alive = ok
        if not alive.any():
            break
    best = int(run.max())
    if best == 0:
        return 0, -1
    return best, int(nb[int(np.argmax(run)) + 1])


def neighbour_copy_proposals(tokens, neighbours, read, m, max_match, positions=None):
    """Per position t of `tokens` (1-D ints): proposal (T,) int64 (-1 none), match L (T,) int64 and from_read (T,)
    bool for the token after t. neighbours[u]: chunk u's retrieved neighbours (1-D ints, best first; -1 padding
    ignored) and read[u] the decoder's read flag of each. `positions`: only these (default: every t)."""
    tokens = np.asarray(tokens, np.int64)
    T = len(tokens)
    proposal = np.full(T, -1, np.int64)
    match = np.zeros(T, np.int64)
    from_read = np.zeros(T, bool)
    for t in (range(T) if positions is None else positions):
        u = (t + 1) // m - 1  # chunk whose neighbours serve the token after t
        if u < 0 or u >= len(neighbours):
            continue
        ctx = tokens[max(0, t + 1 - max_match):t + 1]
        for j, nb in enumerate(neighbours[u]):
            L, p = neighbour_copy_match(ctx, nb, max_match)
            if L > match[t]:
                match[t], proposal[t], from_read[t] = L, p, bool(read[u][j])
    return proposal, match, from_read


def neighbour_copy_lambda(nc, match, from_read):
    """The mixture weight per position: the table's lambda for L's bucket and the read flag, 0 where L = 0."""
    match = np.asarray(match)
    edges = np.asarray(nc["match_edges"])
    b = np.searchsorted(edges, match, side="right") - 1
    lam = np.where(np.asarray(from_read), np.asarray(nc["lambda_read"], np.float64)[np.maximum(b, 0)],
                   np.asarray(nc["lambda_unread"], np.float64)[np.maximum(b, 0)])
    return np.where(b >= 0, lam, 0.0)


def neighbour_copy_nll(nll, target, proposal, lam):
    """Per-token negative log-likelihood (nats) of the mixture, from the decoder's own (same shapes)."""
    p = np.exp(-np.asarray(nll, np.float64))
    lam = np.asarray(lam, np.float64)
    return -np.log((1.0 - lam) * p + lam * (np.asarray(target) == np.asarray(proposal)))


class Projections(nn.Module):
    """q/k/v/o projections without bias (the attention modules of the decoder and the encoder)."""

    def __init__(self, d):
        super().__init__()
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)


class MLP(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.fc_in = nn.Linear(d, d_ff, bias=False)
        self.fc_out = nn.Linear(d_ff, d, bias=False)

    def forward(self, x):
        return self.fc_out(F.gelu(self.fc_in(x)))  # exact (erf) GELU


class DecoderLayer(nn.Module):
    def __init__(self, c, has_cca):
        super().__init__()
        self.n_heads = c.n_heads
        self.attn_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.attn = Projections(c.d_model)
        self.has_cca = has_cca
        if has_cca:
            self.cca_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
            self.cca = Projections(c.d_model)
            if c.cca_sink:
                self.cca.sink = nn.Parameter(torch.zeros(c.n_heads))
        self.mlp_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.mlp = MLP(c.d_model, c.d_ff)

    def self_attn(self, x, cos, sin, cache=None):
        """Causal RoPE self-attention. x (B, T, D) at the T positions after the cached ones.
        cache: None (full sequence) or dict with 'k', 'v' (B, nh, T_past, hd), updated in place."""
        a = self.attn
        q, k, v = (split_heads(p(x), self.n_heads) for p in (a.q_proj, a.k_proj, a.v_proj))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        T = x.size(1)
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        Tk = k.size(2)
        # query t (absolute Tk - T + t) may see keys 0..Tk - T + t
        mask = torch.ones(T, Tk, dtype=torch.bool, device=x.device).tril(diagonal=Tk - T)
        return a.o_proj(merge_heads(attend(q, k, v, mask)))

    def cca_kv(self, E, E_mask, rope_k=None):
        """Keys/values of chunked cross-attention from encoded neighbours.
        E (B, U, k, r, D), E_mask (B, U, k, r), rope_k: None or cos/sin (r, hd) of positions 0..r-1 (every neighbour
        has the same positions) -> k, v (B, U, nh, k*r, hd), mask (B, U, 1, 1, k*r)."""
        B, U, K, R, D = E.shape
        E = E.reshape(B * U, K * R, D)
        k = split_heads(self.cca.k_proj(E), self.n_heads)  # (B*U, nh, k*r, hd)
        v = split_heads(self.cca.v_proj(E), self.n_heads)
        if rope_k is not None:
            cos, sin = rope_k
            k = apply_rope(k, cos.repeat(K, 1), sin.repeat(K, 1))
        nh, hd = k.shape[1], k.shape[3]
        k = k.reshape(B, U, nh, K * R, hd)
        v = v.reshape(B, U, nh, K * R, hd)
        return k, v, E_mask.reshape(B, U, 1, 1, K * R)

    def cca_attend(self, x, k, v, mask, rope_q=None):
        """x (B, U, T, D) queries grouped by the chunk they attend to; k/v (B, U, nh, k*r, hd);
        mask (B, U, 1, 1, k*r); rope_q: None or cos/sin (T, hd) of the queries' positions in the shifted chunk
        (m-1 + i for its i-th position) -> (B, U, T, D). Chunks without neighbours give exactly 0."""
        B, U, T, D = x.shape
        q = split_heads(self.cca.q_proj(x.reshape(B * U, T, D)), self.n_heads)  # (B*U, nh, T, hd)
        if rope_q is not None:
            q = apply_rope(q, *rope_q)
        nh, hd = q.shape[1], q.shape[3]
        kr = k.size(3)
        o = attend(q, k.reshape(B * U, nh, kr, hd), v.reshape(B * U, nh, kr, hd),
                   mask.reshape(B * U, 1, 1, kr), getattr(self.cca, "sink", None))
        return self.cca.o_proj(merge_heads(o)).view(B, U, T, D)

    def chunked_cross_attn(self, x, m, E, E_mask, rope=None):
        """Full-sequence CCA. x (B, n, D) normed; E (B, U, k, r, D), E_mask (B, U, k, r); rope: None or a
        RopeTables for cca_positions = "rope". Position p attends to chunk u(p) = floor((p+1)/m) - 1; positions
        p < m-1 get 0."""
        B, n, D = x.shape
        U = E.size(1)
        out = torch.zeros_like(x)
        if U == 0:
            return out
        hd = D // self.n_heads
        rope_k = rope_q = None
        if rope is not None:
            rope_k = rope(0, E.size(3), hd, x.device, x.dtype)
            rope_q = rope(m - 1, m, hd, x.device, x.dtype)
        k, v, mask = self.cca_kv(E, E_mask, rope_k)
        # positions m-1 .. n-1 (all have 0 <= u(p) < U), padded to U*m and grouped by chunk
        xs = x[:, m - 1:]
        L = xs.size(1)  # n - m + 1 <= U*m
        xs = F.pad(xs, (0, 0, 0, U * m - L)).view(B, U, m, D)
        o = self.cca_attend(xs, k, v, mask, rope_q).reshape(B, U * m, D)[:, :L]
        out[:, m - 1:] = o
        return out

    def forward(self, h, cos, sin, m, E=None, E_mask=None, rope=None):
        """Full sequence: h (B, n, D) -> (B, n, D). rope: the model's RopeTables when CCA has positions."""
        h = h + self.self_attn(self.attn_norm(h), cos, sin)
        if self.has_cca and E is not None:
            h = h + self.chunked_cross_attn(self.cca_norm(h), m, E, E_mask, rope)
        return h + self.mlp(self.mlp_norm(h))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads = c.encoder_n_heads
        self.attn_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.attn = Projections(c.d_model)
        self.cross_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.cross = Projections(c.d_model)
        self.mlp_norm = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.mlp = MLP(c.d_model, c.encoder_d_ff)

    def forward(self, e, mask, cos, sin, H, rope_h=None):
        """e (N, r, D) neighbour tokens, mask (N, r) bool (False = padding), H (N, m, D) chunk states; cos/sin
        (r, hd) of the neighbour positions 0..r-1; rope_h: None (cca_positions "none") or cos/sin (m, hd) of the
        chunk positions 0..m-1, for the cross-attention."""
        a, nh = self.attn, self.n_heads
        x = self.attn_norm(e)
        q, k, v = (split_heads(p(x), nh) for p in (a.q_proj, a.k_proj, a.v_proj))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        e = e + a.o_proj(merge_heads(attend(q, k, v, mask[:, None, None, :])))  # bidirectional
        c = self.cross
        q = split_heads(c.q_proj(self.cross_norm(e)), nh)
        k, v = split_heads(c.k_proj(H), nh), split_heads(c.v_proj(H), nh)  # H as is, no norm, no mask
        if rope_h is not None:
            q, k = apply_rope(q, cos, sin), apply_rope(k, *rope_h)
        e = e + c.o_proj(merge_heads(attend(q, k, v)))
        return e + self.mlp(self.mlp_norm(e))


class NeighbourEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c.encoder_layers)])
        self.norm_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.rope = RopeTables(c.rope_theta)

    def forward(self, tok_embeddings, neighbours, H):
        """neighbours (B, U, k, r) int, -1 = padding; H (B, U, m, D) decoder states of each chunk.
        -> E (B, U, k, r, D) with padding rows set to 0, mask (B, U, k, r) bool."""
        B, U, K, R = neighbours.shape
        D, m_ = H.size(-1), H.size(2)
        mask = neighbours >= 0
        e = tok_embeddings(neighbours.clamp(min=0).reshape(B * U * K, R))  # (N, r, D)
        Hn = H[:, :, None].expand(B, U, K, m_, D).reshape(B * U * K, m_, D)
        hd = D // self.config.encoder_n_heads
        cos, sin = self.rope(0, R, hd, e.device, e.dtype)
        rope_h = self.rope(0, m_, hd, e.device, e.dtype) if self.config.cca_rope else None
        m = mask.reshape(B * U * K, R)
        for layer in self.layers:
            e = layer(e, m, cos, sin, Hn, rope_h)
        e = self.norm_f(e) * m[..., None].to(e.dtype)  # padding rows are defined as 0
        return e.view(B, U, K, R, D), mask


class Retro(nn.Module):
    def __init__(self, config):
        super().__init__()
        config.validate()
        self.config = config
        c = config
        self.tok_embeddings = nn.Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList([DecoderLayer(c, i in c.cca_layers) for i in range(c.n_layers)])
        self.norm_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.encoder = NeighbourEncoder(c)
        if not c.tie_embeddings:
            self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.rope = RopeTables(c.rope_theta)

    @property
    def first_cca(self):
        return self.config.cca_layers[0]

    def _logits(self, h):
        w = self.tok_embeddings.weight if self.config.tie_embeddings else self.lm_head.weight
        return self.norm_f(h) @ w.t()  # (B, T, V)

    def _rope(self, start, length, like):
        """cos, sin (length, hd) of decoder positions start.. on the device and dtype of `like`."""
        return self.rope(start, length, self.config.d_model // self.config.n_heads, like.device, like.dtype)

    @property
    def cca_rope(self):
        """The RopeTables CCA uses, or None when cca_positions is "none"."""
        return self.rope if self.config.cca_rope else None

    def _check_neighbours(self, neighbours, B, U):
        if neighbours.dim() != 4 or neighbours.shape[:2] != (B, U):
            raise ValueError(f"neighbours must be (B={B}, U={U}, k, r), got {tuple(neighbours.shape)}")
        if neighbours.size(3) > self.config.neighbour_len:
            raise ValueError(f"neighbour length {neighbours.size(3)} > neighbour_len {self.config.neighbour_len}")
        if neighbours.numel() and int(neighbours.max()) >= self.config.vocab_size:
            raise ValueError("neighbour token id out of range")

    def encode_neighbours(self, H, neighbours):
        """H (B, U, m, D), neighbours (B, U, k, r) -> E (B, U, k, r, D), mask (B, U, k, r)."""
        return self.encoder(self.tok_embeddings, neighbours.long(), H)

    def forward(self, tokens, neighbours=None, return_encoded=False):
        """tokens (B, n) int; neighbours (B, U, k, r) int with -1 padding, U = floor(n/m), or None
        (closed-book). -> logits (B, n, V) (and E, E_mask when return_encoded)."""
        c, m = self.config, self.config.chunk_size
        B, n = tokens.shape
        U = n // m
        if neighbours is not None:
            self._check_neighbours(neighbours, B, U)
        h = self.tok_embeddings(tokens.long())  # (B, n, D)
        cos, sin = self._rope(0, n, h)
        E = E_mask = None
        for i, layer in enumerate(self.layers):
            if i == self.first_cca and neighbours is not None:
                H = h[:, :U * m].reshape(B, U, m, c.d_model)  # input of layer min(cca_layers)
                E, E_mask = self.encode_neighbours(H, neighbours)
            h = layer(h, cos, sin, m, E, E_mask, self.cca_rope)
        logits = self._logits(h)
        return (logits, E, E_mask) if return_encoded else logits

    # --- incremental decoding ---------------------------------------------------
    def init_cache(self):
        """Empty decoding state for step(): per-layer self-attention KV, the inputs of layer min(cca_layers)
        of the current chunk, and per-CCA-layer keys/values of the latest completed chunk's neighbours."""
        return {"pos": 0, "kv": [dict() for _ in self.layers], "h_chunk": [], "cca": None}

    def step(self, token, cache, neighbours=None):
        """Feed one token per sequence at position cache['pos']: token (B,) int -> logits (B, V).
        When this token completes chunk u (pos = u*m + m - 1), `neighbours` (B, k, r) (-1 padding) are chunk
        u's neighbours, or None for none; they serve positions u*m+m-1 .. u*m+2m-2. Passing neighbours at
        any other position is an error."""
        c, m = self.config, self.config.chunk_size
        p = cache["pos"]
        completes = (p + 1) % m == 0
        if neighbours is not None and not completes:
            raise ValueError(f"neighbours given at position {p}, which completes no chunk")
        dev = self.tok_embeddings.weight.device
        token = torch.as_tensor(token).long().view(-1).to(dev)
        B = token.size(0)
        h = self.tok_embeddings(token)[:, None, :]  # (B, 1, D)
        cos, sin = self._rope(p, 1, h)
        hd = c.d_model // c.n_heads
        for i, layer in enumerate(self.layers):
            if i == self.first_cca:
                cache["h_chunk"].append(h)
                if completes:
                    H = torch.cat(cache["h_chunk"], dim=1)[:, None]  # (B, 1, m, D)
                    cache["h_chunk"] = []
                    cache["cca"] = None
                    if neighbours is not None:
                        nb = torch.as_tensor(neighbours).to(dev)[:, None]  # (B, 1, k, r)
                        self._check_neighbours(nb, B, 1)
                        E, E_mask = self.encode_neighbours(H, nb)
                        rope_k = self.rope(0, E.size(3), hd, h.device, h.dtype) if c.cca_rope else None
                        cache["cca"] = {j: self.layers[j].cca_kv(E, E_mask, rope_k) for j in c.cca_layers}
            h = h + layer.self_attn(layer.attn_norm(h), cos, sin, cache["kv"][i])
            if layer.has_cca and cache["cca"] is not None:
                k, v, mask = cache["cca"][i]
                # this position is the ((p+1) mod m)-th of its shifted chunk, at CCA position m-1 + that
                rope_q = self.rope((p + 1) % m + m - 1, 1, hd, h.device, h.dtype) if c.cca_rope else None
                h = h + layer.cca_attend(layer.cca_norm(h)[:, None], k, v, mask, rope_q)[:, 0]
            h = h + layer.mlp(layer.mlp_norm(h))
        cache["pos"] = p + 1
        return self._logits(h)[:, 0]  # (B, V)

    @torch.no_grad()
    def generate_greedy(self, prompt, neighbour_table, n):
        """Greedy decoding of n tokens after prompt (p,) int. neighbour_table: (Umax, k, r) int tensor (row u =
        neighbours of chunk u of prompt + generated text, chunks >= Umax get none), a callable
        (u, chunk_tokens (m,)) -> (k, r) tensor or None, or None (closed-book).
        -> tokens (n,) int64, step_logits (n, V): row i is the distribution greedy_tokens[i] was taken from."""
        m = self.config.chunk_size
        seq = [int(t) for t in torch.as_tensor(prompt).view(-1)]
        if not seq:
            raise ValueError("prompt must hold at least one token")
        cache = self.init_cache()
        out, step_logits = [], []

        def feed(pos):
            nb = None
            if (pos + 1) % m == 0 and neighbour_table is not None:
                u = (pos + 1) // m - 1
                if callable(neighbour_table):
                    nb = neighbour_table(u, torch.tensor(seq[u * m:(u + 1) * m]))
                elif u < len(neighbour_table):
                    nb = neighbour_table[u]
                nb = None if nb is None else torch.as_tensor(nb)[None]
            return self.step(torch.tensor([seq[pos]]), cache, nb)[0]

        for pos in range(len(seq) - 1):
            feed(pos)
        for i in range(n):
            logits = feed(len(seq) - 1)
            t = int(torch.argmax(logits))
            step_logits.append(logits)
            out.append(t)
            seq.append(t)
        return torch.tensor(out, dtype=torch.long), torch.stack(step_logits)

    # --- training helpers -------------------------------------------------------
    def loss(self, tokens, targets, neighbours=None, ignore_index=-1):
        """Mean next-token cross-entropy; targets (B, n) with ignore_index where no loss is taken."""
        logits = self(tokens, neighbours)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1).long(),
                               ignore_index=ignore_index)

    # --- files -----------------------------------------------------------------
    def export_state(self, dtype=torch.float32):
        """Tensors as named in the file (no lm_head when tied)."""
        return {name: t.detach().to(dtype).contiguous() for name, t in self.state_dict().items()}

    def save_folder(self, folder, dtype=torch.float32):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(self.config.to_dict(), f, indent=2)
            f.write("\n")
        save_file(self.export_state(dtype), os.path.join(folder, "model.safetensors"),
                  metadata={"format": "pt"})

    @classmethod
    def from_folder(cls, folder):
        model = cls(retro_config_from_dict(_load_config_dict(folder)))
        tensors = load_file(os.path.join(folder, "model.safetensors"))
        model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
        return model


def drop_neighbours(neighbours, p, generator=None):
    """Neighbour dropout for training: each chunk's neighbours are removed (all -1) with probability p,
    so that closed-book mode stays in distribution. neighbours (B, U, k, r) -> new tensor."""
    if p <= 0:
        return neighbours
    keep = torch.rand(neighbours.shape[:2], generator=generator) >= p  # (B, U)
    return torch.where(keep[..., None, None], neighbours, torch.full_like(neighbours, -1))


def from_folder(folder):
    """Load a model folder (config.json + model.safetensors) as Bert or Retro by model_type."""
    config = load_config(folder)
    return (Retro if isinstance(config, RetroConfig) else Bert).from_folder(folder)


@torch.no_grad()
def init_cca_copy(model, layers, gain=0.5, margin=10.0, n_freq=4, feature=0):
    """Copy initialisation of chunked cross-attention (cca_positions "rope" only): at step 0 every head of every CCA
    layer attends to the neighbour token one position after its own query position, which for a neighbour stored
    as RETRO stores them (chunk u + its continuation) is the very token the query predicts, and the layers in
    `layers` add gain x that token's encoding to the residual (the others start with o_proj = 0). Training then
    only has to learn when to copy, not how to find the token: from a small random init the product q.k, which
    has to grow from ~0 through a saddle, gave no gradient signal worth the name in hundreds of CPU steps.

    How: one feature of cca_norm and of the encoder's final norm is made the constant 1 (weight 0, bias 1); q and
    k of every head read only that feature, so the scores are purely positional. With RoPE the score of query
    position i and key position j is sum_f a_f . R((j - i) theta_f) b_f over the frequency pairs f; setting
    b_f = R(-theta_f) a_f on the n_freq fastest frequencies puts the maximum at j - i = 1, at least `margin`
    above every other offset (the nearest, j - i = 0 or 2, are the closest rivals). v_proj = identity (without the
    constant feature), o_proj = gain x identity. The neighbour encoder's residual branches start at 0, so the
    encoding of a neighbour token is its (normed) embedding, which the tied LM head scores highest as itself."""
    c = model.config
    if not c.cca_rope:
        raise ValueError("copy initialisation needs cca_positions = 'rope'")
    D = c.d_model
    a, b = _positional_rope_pair(D // c.n_heads, c.rope_theta, 1, margin, n_freq)
    enc = model.encoder
    for layer in enc.layers:
        for w in (layer.attn.o_proj.weight, layer.cross.o_proj.weight, layer.mlp.fc_out.weight):
            w.zero_()
    enc.norm_f.weight.fill_(1.0)
    enc.norm_f.bias.zero_()
    enc.norm_f.weight[feature], enc.norm_f.bias[feature] = 0.0, 1.0
    for i in c.cca_layers:
        layer = model.layers[i]
        _positional_heads(layer.cca_norm, layer.cca, c.n_heads, a, b, feature)
        layer.cca.o_proj.weight.copy_(torch.eye(D) * (gain if i in layers else 0.0))


def rope_slow_dims(head_dim, theta, max_distance, max_angle=0.2):
    """The dimensions of a RoPE head whose rotation stays below max_angle radians over max_distance positions:
    on them q.k is (almost) independent of the relative position, so a head can match content there."""
    freqs = rope_inv_freq(head_dim, theta)
    pairs = [f for f in range(head_dim // 2) if float(freqs[f]) * max_distance <= max_angle]
    return pairs + [f + head_dim // 2 for f in pairs]


def _positional_rope_pair(head_dim, theta, offset, margin, n_freq):
    """(a, b) such that q = a, k = b with RoPE score highest at key position - query position = offset, at least
    `margin` above every other offset (scores scaled by 1/sqrt(head_dim) as attend() does).

    With RoPE the score of query position i and key position j is sum_f a_f . R((j - i) theta_f) b_f over the
    frequency pairs f; b_f = R(-offset theta_f) a_f on the n_freq fastest frequencies puts the maximum at
    j - i = offset (the nearest offsets are the closest rivals)."""
    freqs = rope_inv_freq(head_dim, theta)
    n_freq = min(n_freq, head_dim // 2)
    nearest = float((1 - torch.cos(freqs[:n_freq])).sum())  # score(peak) - score(peak +- 1) per unit weight
    mag = math.sqrt(margin / nearest * math.sqrt(head_dim))  # |a_f| = |b_f|
    a, b = torch.zeros(head_dim), torch.zeros(head_dim)
    for f in range(n_freq):
        a[f] = mag
        angle = -offset * float(freqs[f])
        b[f], b[f + head_dim // 2] = mag * math.cos(angle), mag * math.sin(angle)
    return a, b


def _positional_heads(norm, proj, n_heads, a, b, feature):
    """Attention whose scores are positional only: `feature` of the LayerNorm before it becomes the constant 1
    (weight 0, bias 1, the others weight 1, bias 0), every head's q and k read only that feature (q = a, k = b,
    _positional_rope_pair), and v = identity without that feature. o_proj is left to the caller."""
    D = norm.weight.numel()
    hd = D // n_heads
    norm.weight.fill_(1.0)
    norm.bias.zero_()
    norm.weight[feature], norm.bias[feature] = 0.0, 1.0
    q, k = proj.q_proj.weight, proj.k_proj.weight
    q.zero_()
    k.zero_()
    for h in range(n_heads):
        q[h * hd:(h + 1) * hd, feature] = a
        k[h * hd:(h + 1) * hd, feature] = b
    proj.v_proj.weight.copy_(torch.eye(D))
    proj.v_proj.weight[feature, feature] = 0.0


@torch.no_grad()
def init_encoder_previous_token(model, scale=1.0, margin=10.0, n_freq=4, feature=0, seed=0):
    """Layer 0 of the neighbour encoder becomes a previous-token layer: every head attends, by RoPE position alone,
    to the neighbour token just before its own, and the layer adds scale x |embedding| / sqrt(d) x R x (that token's
    normed embedding) to the residual, R a fixed random rotation (seeded). A neighbour token's encoding then holds
    its own embedding (what a copy reads out, as before) and, rotated out of its way, its predecessor's: the key
    that content-addressed reading matches the decoder's current token against (init_cca_induction). Call after
    init_cca_copy (which zeroes the encoder's residual branches); the other branches of layer 0 stay as they are."""
    c = model.config
    D, nh = c.d_model, c.encoder_n_heads
    hd = D // nh
    layer = model.encoder.layers[0]
    _positional_heads(layer.attn_norm, layer.attn, nh, *_positional_rope_pair(hd, c.rope_theta, -1, margin, n_freq),
                      feature)
    g = torch.Generator().manual_seed(seed)
    rot, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    size = float(model.tok_embeddings.weight.norm(dim=1).mean()) / math.sqrt(D)  # normed -> embedding scale
    layer.attn.o_proj.weight.copy_((scale * size * rot).float())


def normed_embeddings(model):
    """(V, D) token embeddings normalised as LayerNorm does without its affine part."""
    e = model.tok_embeddings.weight.detach().double()
    e = (e - e.mean(1, keepdim=True)) / e.std(1, unbiased=False, keepdim=True).clamp_min(1e-6)
    return e.float()


def ridge(a, b, lam):
    """argmin_W |a W - b|^2 + lam * n |W|^2 (float64 solve)."""
    a64, b64 = a.double(), b.double()
    g = a64.T @ a64 + lam * len(a64) * torch.eye(a64.size(1), dtype=torch.float64)
    return torch.linalg.solve(g, a64.T @ b64).float()


@torch.no_grad()
def init_cca_induction(model, layer, queries, query_tokens, keys, key_prev_tokens, gain=1.0, sharpness=4.0,
                       lam=1e-2, max_angle=0.4, seed=0, feature=0):
    """Content-addressed reading (an induction head) in CCA layer `layer`: the query at position i looks for the
    neighbour token whose predecessor is the token at i, and copies that token (the one that followed the same
    token in the neighbour): what a neighbour that holds the chunk's text at another offset needs, where the
    positional copy (init_cca_copy) reads the wrong tokens.

    Each head matches on the RoPE dimensions that barely rotate over CCA's distances (rope_slow_dims), so the match
    is independent of position: per head, a random projection P_h of the normed embedding of the query's token and
    of the key's predecessor; the queries and keys are linear read-outs of those projections fitted by ridge
    regression on samples: queries (N, D) = this layer's cca_norm outputs with query_tokens (N,) the tokens at
    those positions; keys (M, D) = neighbour encodings (init_encoder_previous_token puts the predecessor there)
    with key_prev_tokens (M,). q is scaled by `sharpness`. v = identity (without the constant feature of the copy
    initialisation), o = gain x identity: the copied token's encoding goes to the residual, which the tied LM head
    scores as itself. Returns the held-out R^2 of the two read-outs (fitted on 80 %, scored on 20 %)."""
    c = model.config
    D, nh = c.d_model, c.n_heads
    hd = D // nh
    slow = rope_slow_dims(hd, c.rope_theta, 2 * c.chunk_size, max_angle)
    if not slow:
        raise ValueError("no RoPE dimension is slow enough for content matching")
    g = torch.Generator().manual_seed(seed + 1)
    proj = torch.randn(nh, len(slow), D, generator=g) / math.sqrt(D)
    e = normed_embeddings(model)
    tq = torch.einsum("hsd,nd->nhs", proj, e[query_tokens.long()]).reshape(len(query_tokens), -1)
    tk = torch.einsum("hsd,nd->nhs", proj, e[key_prev_tokens.long()]).reshape(len(key_prev_tokens), -1)

    def held_out_r2(a, b):
        n = int(0.8 * len(a))
        pred = a[n:] @ ridge(a[:n], b[:n], lam)
        return float(1 - ((pred - b[n:]) ** 2).sum() / ((b[n:] - b[n:].mean(0)) ** 2).sum())

    r2 = (held_out_r2(queries, tq), held_out_r2(keys, tk))
    wq = ridge(queries, tq, lam).reshape(D, nh, len(slow))
    wk = ridge(keys, tk, lam).reshape(D, nh, len(slow))
    cca = model.layers[layer].cca
    cca.q_proj.weight.zero_()
    cca.k_proj.weight.zero_()
    for h in range(nh):
        for s, dim in enumerate(slow):
            cca.q_proj.weight[h * hd + dim] = sharpness * wq[:, h, s]
            cca.k_proj.weight[h * hd + dim] = wk[:, h, s]
    cca.v_proj.weight.copy_(torch.eye(D))
    cca.v_proj.weight[feature, feature] = 0.0
    cca.o_proj.weight.copy_(torch.eye(D) * gain)
    return r2
