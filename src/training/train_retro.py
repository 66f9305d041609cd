"""
RETRO decoder training (model.py's Retro) on tokens + neighbours, nanoGPT style.

    /usr/bin/python3 src/training/train_retro.py config/tiny_cpu.py [--lm_steps=200 --lm_batch=8 ...]

Every key of DEFAULTS can be set by a config file (config/*.py) or --key=value. Reads <out_dir>/tokenizer.json,
<out_dir>/tokens/{train,validation}.safetensors (pretokenize.py) and <out_dir>/neighbours/{train,validation}
.safetensors (neighbours.py). Training windows are lm_seq_len tokens starting on the chunk grid, so window chunk u
is global chunk c0 + u and its neighbours come from the neighbours file; each chunk's neighbours are dropped with
probability lm_neighbour_dropout (closed-book stays in distribution). AdamW, linear warmup + cosine decay, gradient
clipping, gradient accumulation, bf16 autocast on CUDA, optional torch.compile (lm_compile / compile).

Writes <out_dir>/retro/: ckpt/ (model + AdamW state, files <= 16 MiB; --lm_resume=True continues from it),
loss.csv + loss.png (train loss, validation BPB closed-book and with retrieval), metrics.json:
  bpb_closed_book, bpb_retrieval, bpb_relative_reduction (1 - retrieval / closed-book) over the validation
  windows; leakage: per overlap threshold alpha, the same over the target chunks whose longest common token span
  with the neighbours that condition them is <= alpha * m (the RETRO paper's breakdown; chunk u+1 is predicted
  with chunk u's neighbours); steps, tokens seen, wall time, hardware.
Bits per byte = sum of next-token cross-entropies (nats) / ln 2 / sum of the UTF-8 bytes of the predicted tokens
(special tokens count one byte, the document separator).
"""

import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (BpeTokenizer, LossLog, adamw, autocast, configure, cosine_lr, hardware,  # noqa: E402
                    held_out_documents,
                    load_decoder, load_sharded, load_tokens, maybe_compile, pick_device, save_model, save_sharded, seed_all,
                    training_state, restore_training_state, write_json)
from model import (Retro, RetroConfig, drop_neighbours, neighbour_copy_lambda, neighbour_copy_nll,
                   neighbour_copy_proposals, init_cca_copy, init_cca_induction,  # noqa: E402
                   init_encoder_previous_token)
from neighbours import load_neighbours  # noqa: E402

DEFAULTS = dict(
    out_dir="runs/tiny", device="auto", dtype="bfloat16", compile=False, seed=1337,
    chunk_size=64, neighbour_len=128, nb_k=2,
    lm_n_layers=8, lm_d_model=512, lm_n_heads=8, lm_d_ff=2048, lm_cca_layers=None,  # None: every third from middle
    lm_encoder_layers=2, lm_encoder_heads=8, lm_encoder_d_ff=2048, lm_seq_len=512,
    lm_steps=20000, lm_batch=32, lm_grad_accum=1, lm_lr=6e-4, lm_min_lr_ratio=0.1, lm_warmup=500,
    lm_weight_decay=0.1, lm_grad_clip=1.0, lm_neighbour_dropout=0.25,
    lm_eval_every=1000, lm_eval_windows=64, lm_final_eval_windows=1024, lm_log_every=10, lm_ckpt_every=1000,
    lm_resume=False, lm_max_steps_this_run=None,
    lm_cca_positions="rope", lm_init_from="", lm_train="all", lm_reinit_cca=True, lm_oracle_windows=64,
    lm_overlap_pool=1, lm_oracle_frac=0.0, lm_cca_init="small", lm_copy_layers=None, lm_copy_gain=0.5,
    lm_copy_margin=10.0, lm_fit_split="train",
    lm_induction_layers=None, lm_induction_gain=1.0, lm_induction_sharpness=4.0, lm_induction_fit_windows=16,
    lm_previous_token_scale=1.0, lm_shift_oracle_frac=0.0, lm_shift_max=48,
    lm_reading_layers=None, lm_cca_sink=False, lm_sink_init=0.0, lm_sink_lr_ratio=100.0, lm_stage="retro",
    lm_neighbour_min_match=0.0,  # the neighbour gate: read a neighbour only if neighbour_match >= this (0: all)
    lm_neighbour_tail=0,  # ... and only if it holds chunk u's last lm_neighbour_tail tokens (neighbour_has_tail; 0: off)
)
# lm_stage: the run's folder under out_dir (<out_dir>/<lm_stage>/: ckpt, model_ckpt, metrics.json); "retro" for the
#   RETRO-fitting, another name for a later pass over a model of an earlier stage (e.g. "reread", after QA).
# lm_reading_layers: the CCA layers whose queries and keys train in lm_train "reading" (None: lm_induction_layers).
# lm_cca_sink: every CCA head gets a learned sink (model.RetroConfig.cca_sink: one more key with value 0), so a head
#   can learn to read only where a key outscores it; lm_sink_init: its initial logit (a float, or one per CCA layer);
#   the sinks train with lr x lm_sink_lr_ratio (a logit moves in units, not in 1e-3s) wherever anything of CCA trains.
# lm_fit_split: where the training windows come from. "train" (the retrieval database's own split; neighbours exclude
#   the window's documents), or "validation-tail": the validation documents after the evaluation part (the first
#   lm_final_eval_windows x lm_seq_len tokens, cut at the next document boundary; evaluation reads only that part).
#   RETRO-fitting a decoder that has seen its training split several times needs text it has NOT memorised: on the
#   H200 decoder (3.4 epochs of the train split) the train windows' loss is ~0.3-1.5 nats/token against ~3.4 on
#   validation, so neighbours carry no information the body lacks and CCA learns nothing from them.
#   "validation-spans": the validation documents gathered into spans of >= 3 x lm_seq_len + neighbour_len tokens,
#   every third span evaluation and the others fitting (split_by_spans). The validation file holds its documents
#   grouped by source, so the tail split evaluated one dictionary (GCIDE, 83 % of the evaluation part, which shares
#   almost nothing with the database) and fitted on the rest; spans sample every source for both.
# lm_cca_positions: "rope" (relative positions in both cross-attentions) or "none" (the pre-2026-12-04 decoders).
# lm_init_from: an exported RETRO folder (config.json + model.safetensors) to start from; its architecture wins over
#   the lm_* sizes, except cca_positions (lm_cca_positions). lm_reinit_cca: then re-initialise every CCA sub-layer
#   (q/k/v as at init, o_proj = 0, so training starts from exactly the closed-book decoder).
# lm_train: "all", or "retrofit" (the RETRO paper's RETRO-fitting: the decoder body and the embeddings stay frozen;
#   only the CCA sub-layers and the neighbour encoder train).
# lm_overlap_pool: draw this many candidate windows per batch row and train on the one whose chunks share the most
#   tokens with the neighbours that condition them (1 = uniform sampling). Only some chunks' neighbours carry their
#   continuation (~19 % overlap >= 75 %); on 2 CPU cores the steps are few, so they are spent where retrieval can help.
# lm_oracle_frac: per chunk that retrieval gave neighbours (read by the gate or not), the probability that neighbour
#   0 is replaced by the chunk itself and its continuation (the "oracle" neighbour, aligned as RETRO stores them): a
#   clean copying signal while CCA learns to read; the other neighbours stay retrieved. 0 in every evaluation.
# lm_oracle_windows: validation windows of the oracle test (neighbour 0 of chunk u = chunk u and its continuation,
#   i.e. the true next chunk where RETRO stores it); 0 skips it.
# lm_induction_layers: CCA layers that start as content-addressed readers (model.init_cca_induction, after the copy
#   initialisation): the neighbour encoder's layer 0 becomes a previous-token layer (model.init_encoder_previous_token,
#   lm_previous_token_scale), and each of these layers' queries and keys are fitted on lm_induction_fit_windows
#   training windows so that a query finds the neighbour token that followed its own token, with o = lm_induction_gain
#   x identity and q scaled by lm_induction_sharpness. None/[]: none.
# lm_train "reading": only q_proj/k_proj of the induction layers train (where to read, not what: v and o stay the
#   copy), so the steps teach the layer which matches to trust rather than to copy less. "reading-values": also their
#   v_proj/o_proj (what a read writes), for a pass after the QA stage, whose body learned to trust what CCA writes.
# lm_shift_oracle_frac: per chunk that retrieval gave neighbours (read by the gate or not), the probability that
#   neighbour 0 is replaced by the window's own stream from a random offset within +-lm_shift_max tokens of the
#   chunk: the chunk's continuation at another offset, as the overlapping real neighbours hold it (0 in every
#   evaluation).
ALPHAS = (0.125, 0.25, 0.5, 0.75, 1.0)


# lm_cca_init (with lm_reinit_cca, or for a model built from scratch): "small" (q/k/v ~ N(0, 0.02), o_proj = 0:
#   exactly the closed-book decoder at step 0) or "copy" (model.init_cca_copy: every CCA head attends to the
#   neighbour token one position after its own, i.e. the aligned continuation, and adds lm_copy_gain x that token's
#   encoding at the layers lm_copy_layers (None: the last CCA layer; the others start at o_proj = 0); the neighbour
#   encoder starts as its final norm of the token embeddings). lm_copy_margin: nats between the aligned key and its
#   nearest rival at init. Why: docs/training.md, "Why RETRO-fitting the H200 decoder still learned nothing".


def cca_layers(cfg):
    n = cfg["lm_n_layers"]
    return list(cfg["lm_cca_layers"]) if cfg["lm_cca_layers"] is not None else list(range(n // 2, n, 3))


def init_from(cfg, folder):
    """The decoder of an exported folder with lm_cca_positions, CCA re-initialised when lm_reinit_cca."""
    src = load_decoder(folder)  # an exported folder, or a stage's model_ckpt (e.g. runs/fit/qa/model_ckpt)
    c = RetroConfig(**{**src.config.to_dict(), "cca_positions": cfg["lm_cca_positions"],
                       "cca_sink": bool(cfg["lm_cca_sink"]) or src.config.cca_sink})
    model = Retro(c)
    missing, unexpected = model.load_state_dict(src.state_dict(), strict=False)
    if unexpected or any(not k.endswith(".cca.sink") for k in missing):
        raise SystemExit(f"lm_init_from {folder}: weights do not match ({missing} {unexpected})")
    if missing or (c.cca_sink and cfg["lm_reinit_cca"]):
        init_sinks(cfg, model)
    if cfg["lm_reinit_cca"]:
        for i in c.cca_layers:
            layer = model.layers[i]
            torch.nn.init.ones_(layer.cca_norm.weight)
            torch.nn.init.zeros_(layer.cca_norm.bias)
            for proj in (layer.cca.q_proj, layer.cca.k_proj, layer.cca.v_proj):
                torch.nn.init.normal_(proj.weight, 0.0, 0.02)
            torch.nn.init.zeros_(layer.cca.o_proj.weight)  # starts as the closed-book decoder
        init_cca(cfg, model)
    return model


@torch.no_grad()
def init_sinks(cfg, model):
    """Sets every CCA layer's sink logits to lm_sink_init (a float, or one per CCA layer)."""
    layers = model.config.cca_layers
    init = cfg["lm_sink_init"]
    init = list(init) if isinstance(init, (list, tuple)) else [float(init)] * len(layers)
    if len(init) != len(layers):
        raise SystemExit(f"lm_sink_init needs one value per CCA layer {layers}, got {init}")
    for i, v in zip(layers, init):
        model.layers[i].cca.sink.fill_(float(v))


def init_cca(cfg, model):
    """Applies lm_cca_init "copy" (see DEFAULTS); "small" leaves the model as it is."""
    if cfg["lm_cca_init"] == "copy":
        layers = cfg["lm_copy_layers"]
        layers = [model.config.cca_layers[-1]] if layers is None else list(layers)
        init_cca_copy(model, layers, cfg["lm_copy_gain"], cfg["lm_copy_margin"])
    elif cfg["lm_cca_init"] != "small":
        raise SystemExit(f"lm_cca_init must be 'small' or 'copy', got {cfg['lm_cca_init']!r}")


def trainable(model, mode, reading_layers=()):
    """Marks what trains: everything ("all"), the CCA sub-layers and the neighbour encoder ("retrofit"), the
    queries and keys of the CCA layers `reading_layers` and every CCA sink ("reading"), or those and the layers'
    values and outputs ("reading-values")."""
    if mode not in ("all", "retrofit", "reading", "reading-values"):
        raise SystemExit(f"lm_train must be 'all', 'retrofit', 'reading' or 'reading-values', got {mode!r}")
    reads = mode in ("reading", "reading-values")
    if reads and not reading_layers:
        raise SystemExit(f"lm_train {mode!r} needs lm_reading_layers (or lm_induction_layers)")
    projections = ("q", "k", "v", "o") if mode == "reading-values" else ("q", "k")
    reading = tuple(f"layers.{i}.cca.{p}_proj.weight" for i in reading_layers for p in projections) if reads else ()
    for name, p in model.named_parameters():
        p.requires_grad_(mode == "all" or (mode == "retrofit" and (".cca" in name or name.startswith("encoder.")))
                         or name in reading or (reads and name.endswith(".cca.sink")))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def init_induction(cfg, model, data):
    """Applies lm_induction_layers (see the comment above ALPHAS): the previous-token encoder layer, then per layer
    the query/key read-outs fitted on lm_induction_fit_windows windows of `data` (seeded; only data.starts_allowed
    when set, so no held-out document is fitted on). -> {layer: (R^2 q, R^2 k)}."""
    layers = list(cfg["lm_induction_layers"] or [])
    if not layers:
        return {}
    c = model.config
    if not c.cca_rope:
        raise SystemExit("lm_induction_layers needs lm_cca_positions = 'rope'")
    bad = [i for i in layers if i not in c.cca_layers]
    if bad:
        raise SystemExit(f"lm_induction_layers {bad} are not CCA layers {c.cca_layers}")
    init_encoder_previous_token(model, cfg["lm_previous_token_scale"], seed=cfg["seed"])
    T, m = cfg["lm_seq_len"], c.chunk_size
    rng = np.random.default_rng(cfg["seed"])
    allowed = getattr(data, "starts_allowed", None)  # windows that touch no held-out document
    allowed = np.arange(data.max_start(T) + 1) if allowed is None else np.asarray(allowed)
    starts = rng.choice(allowed, min(cfg["lm_induction_fit_windows"], len(allowed)), replace=False)
    n = len(starts)
    was = model.training
    model.eval()
    r2 = {}
    for layer in layers:
        captured = []
        hook = model.layers[layer].cca_norm.register_forward_hook(lambda mod, inp, out: captured.append(out))
        qs, qt, ks, kt = [], [], [], []
        for s in range(0, n, 8):
            x, _, nb = data.batch(starts[s:s + 8], T, "cpu")
            captured.clear()
            _, E, _ = model(x, nb, return_encoded=True)
            qs.append(captured[0][:, m - 1:].reshape(-1, c.d_model))  # positions that read a neighbour
            qt.append(x[:, m - 1:].reshape(-1))
            E = E.reshape(-1, E.size(-2), c.d_model)
            toks = nb.reshape(-1, nb.size(-1))
            ok = (toks[:, 1:] >= 0) & (toks[:, :-1] >= 0)
            ks.append(E[:, 1:][ok])
            kt.append(toks[:, :-1][ok])
        hook.remove()
        r2[layer] = init_cca_induction(model, layer, torch.cat(qs), torch.cat(qt), torch.cat(ks), torch.cat(kt),
                                       cfg["lm_induction_gain"], cfg["lm_induction_sharpness"], seed=cfg["seed"])
        print(f"retro: induction layer {layer}: read-out R^2 query {r2[layer][0]:.3f}, key {r2[layer][1]:.3f}")
    model.train(was)
    return r2


def build_model(cfg, vocab_size, eos_id):
    if cfg["lm_init_from"]:
        model = init_from(cfg, cfg["lm_init_from"])
        if model.config.vocab_size != vocab_size:
            raise SystemExit(f"lm_init_from has vocab_size {model.config.vocab_size}, the tokenizer {vocab_size}")
        return model
    c = RetroConfig(vocab_size=vocab_size, d_model=cfg["lm_d_model"], n_layers=cfg["lm_n_layers"],
                    n_heads=cfg["lm_n_heads"], d_ff=cfg["lm_d_ff"], max_seq_len=cfg["lm_seq_len"],
                    chunk_size=cfg["chunk_size"], neighbour_len=cfg["neighbour_len"], num_neighbours=cfg["nb_k"],
                    cca_layers=cca_layers(cfg), encoder_layers=cfg["lm_encoder_layers"],
                    encoder_n_heads=cfg["lm_encoder_heads"], encoder_d_ff=cfg["lm_encoder_d_ff"],
                    bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
                    cca_positions=cfg["lm_cca_positions"], cca_sink=bool(cfg["lm_cca_sink"]))
    model = Retro(c)
    depth = c.n_layers + c.encoder_layers
    for name, p in model.named_parameters():  # GPT-2 init; residual projections scaled by depth
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * depth) if name.endswith(("o_proj.weight", "fc_out.weight")) else 0.02
            torch.nn.init.normal_(p, 0.0, std)
    if c.cca_sink:
        init_sinks(cfg, model)
    init_cca(cfg, model)
    return model


class Data:
    """Token file + neighbour indices of one split, with the retrieval database (train token file)."""

    def part(self, c_from, c_to):
        """The chunks c_from .. c_to-1 of this split (the same grid, the same database) as a Data of their own."""
        d = Data.__new__(Data)
        d.__dict__.update(self.__dict__)
        d.tokens, d.nb_idx = self.tokens[c_from * self.m:c_to * self.m], self.nb_idx[c_from:c_to]
        return d

    def __init__(self, tokens, nb_idx, db, m, r, min_match=0.0, tail=0):
        self.tokens, self.nb_idx, self.m, self.r = tokens, nb_idx, m, r
        self.min_match = float(min_match)  # the neighbour gate (neighbour_match), 0: every neighbour is read
        self.tail = int(tail)  # ... and its tail test (neighbour_has_tail), 0: off
        self.db_tokens = db["tokens"]
        offs = db["doc_offsets"]
        C = len(self.db_tokens) // m
        starts = np.arange(C) * m
        doc_end = offs[np.searchsorted(offs, starts, side="right")]
        self.nb_len = np.minimum(r, doc_end - starts)  # tokens of neighbour j (chunk + continuation in its doc)

    def neighbours(self, chunks):
        """Global chunk indices (U,) -> (U, k, r) int64 neighbour tokens, -1 padded."""
        idx = self.nb_idx[chunks]  # (U, k)
        out = np.full(idx.shape + (self.r,), -1, np.int64)
        m = self.m
        for u, row in enumerate(idx):
            for j, c in enumerate(row):
                if c >= 0:
                    n = self.nb_len[c]
                    nb = self.db_tokens[c * m:c * m + n]
                    if self.gated:
                        q = int(chunks[u])
                        if not neighbour_read(self.tokens[q * m:(q + 1) * m], nb, self.min_match, self.tail):
                            continue
                    out[u, j, :n] = nb
        return out

    @property
    def gated(self):
        return self.min_match > 0 or self.tail > 0

    def ungated(self):
        """This data with every retrieved neighbour, the gate off (what the leakage breakdown measures against)."""
        d = Data.__new__(Data)
        d.__dict__.update(self.__dict__)
        d.min_match, d.tail = 0.0, 0
        return d

    def window(self, c0, T):
        s = c0 * self.m
        x = self.tokens[s:s + T]
        y = self.tokens[s + 1:s + T + 1]
        return x, y, self.neighbours(np.arange(c0, c0 + T // self.m))

    def max_start(self, T):
        return (len(self.tokens) - T - 1) // self.m

    def overlap_score(self, c0, T):
        """Fraction of the token bigrams of the window's chunks 1.. found among the bigrams of the neighbours that
        condition them (a cheap stand-in for the longest-common-span overlap of the leakage breakdown)."""
        s, m, U = c0 * self.m, self.m, T // self.m
        nb = self.neighbours(np.arange(c0, c0 + U - 1))  # chunks 0..U-2 condition chunks 1..U-1
        hit = 0
        for u in range(U - 1):
            t = self.tokens[s + (u + 1) * m:s + (u + 2) * m].astype(np.int64)
            pool = [row[row >= 0] for row in nb[u]]
            grams = np.concatenate([row[:-1] * 65536 + row[1:] for row in pool if len(row) > 1] or [np.zeros(0, np.int64)])
            hit += int(np.isin(t[:-1] * 65536 + t[1:], grams).sum())
        return hit / ((U - 1) * (m - 1)) if U > 1 else 0.0

    def pick_starts(self, rng, n, T, pool):
        """n window starts; with pool > 1 each is the best-overlapping of `pool` uniform draws. Only the starts in
        self.starts_allowed when it is set (windows that touch no held-out document)."""
        allowed = getattr(self, "starts_allowed", None)
        if allowed is None:
            draws = rng.integers(0, self.max_start(T) + 1, (n, max(1, pool)))
        else:
            draws = allowed[rng.integers(0, len(allowed), (n, max(1, pool)))]
        if pool <= 1:
            return draws[:, 0]
        return np.array([row[int(np.argmax([self.overlap_score(int(c), T) for c in row]))] for row in draws])

    def _replace_neighbour_0(self, starts, nb, frac, rng, first):
        """Neighbour 0 of each chunk that retrieval gave neighbours becomes, with probability frac, r tokens of this
        split's stream from first(window start token, u) (-1 padded where the split ends). Whether the gate kept
        any of them does not matter: an oracle neighbour repeats the chunk, so the gate would always read it, and
        the oracle share stays frac with the gate on or off."""
        if frac <= 0:
            return nb
        nb = nb.clone()
        U, r = nb.size(1), nb.size(3)
        for b, c0 in enumerate(starts):
            s = int(c0) * self.m
            for u in range(U):
                if (self.nb_idx[int(c0) + u] >= 0).any() and rng.random() < frac:
                    at = first(s, u)
                    seg = self.tokens[at:at + r]
                    nb[b, u, 0] = -1
                    nb[b, u, 0, :len(seg)] = torch.from_numpy(np.asarray(seg, np.int64))
        return nb

    def with_oracle(self, starts, nb, T, frac, rng):
        """Replaces neighbour 0 of each chunk that has neighbours by the chunk and its continuation (the window's own
        stream, r tokens) with probability frac."""
        return self._replace_neighbour_0(starts, nb, frac, rng, lambda s, u: s + u * self.m)

    def with_shifted_oracle(self, starts, nb, frac, max_shift, rng):
        """Replaces neighbour 0 of each chunk that has neighbours, with probability frac, by r tokens of the window's
        own stream from a random offset within +-max_shift of the chunk's start, kept inside the window and its
        target chunk (tokens c*m .. c*m + T + m, the span pick_starts checks against held-out documents)."""
        U, r = nb.size(1), nb.size(3)

        def first(s, u):
            hi = min(s + (U + 1) * self.m, len(self.tokens)) - r  # the last start that stays in the checked span
            return max(s, min(s + u * self.m + int(rng.integers(-max_shift, max_shift + 1)), hi))

        return self._replace_neighbour_0(starts, nb, frac, rng, first)

    def batch(self, starts, T, device):
        xs, ys, ns = zip(*(self.window(int(c), T) for c in starts))
        t = lambda a: torch.from_numpy(np.stack(a)).to(device)  # noqa: E731
        return t(xs), t(ys), t(ns)


def load_split(cfg, split, db):
    d, m, r = cfg["out_dir"], cfg["chunk_size"], cfg["neighbour_len"]
    data = db if split == "train" else load_tokens(os.path.join(d, "tokens", f"{split}.safetensors"))
    idx, _, meta = load_neighbours(os.path.join(d, "neighbours", f"{split}.safetensors"))
    if int(meta["chunk_size"]) != m or len(idx) != len(data["tokens"]) // m:
        raise ValueError(f"neighbours/{split}: chunk grid does not match the token file")
    return Data(data["tokens"], idx, db, m, r, cfg.get("lm_neighbour_min_match", 0.0), cfg.get("lm_neighbour_tail", 0))


def fit_and_eval_data(cfg, db):
    """(training data, evaluation data) per lm_fit_split."""
    val = load_split(cfg, "validation", db)
    if cfg["lm_fit_split"] == "train":
        return load_split(cfg, "train", db), val
    if cfg["lm_fit_split"] == "validation-spans":
        return validation_spans(cfg, val)
    if cfg["lm_fit_split"] != "validation-tail":
        raise SystemExit(f"lm_fit_split must be 'train', 'validation-tail' or 'validation-spans', "
                         f"got {cfg['lm_fit_split']!r}")
    m, T = cfg["chunk_size"], cfg["lm_seq_len"]
    n_eval = cfg["lm_final_eval_windows"] * T + m  # + the oracle's look-ahead
    offs = np.asarray(load_tokens(os.path.join(cfg["out_dir"], "tokens", "validation.safetensors"))["doc_offsets"])
    after = offs[offs >= n_eval]
    if not len(after):
        raise SystemExit("validation-tail: the validation split has no documents after the evaluation part")
    c_eval = int(after[0]) // m  # evaluation: whole chunks before the first document of the fitting part
    c_fit = -(-int(after[0]) // m)  # fitting: from the first chunk that starts inside that document
    C = len(val.tokens) // m
    fit = val.part(c_fit, C)
    held = held_out_documents(os.path.join(cfg["out_dir"], "tokens", "validation.safetensors"))
    fit.starts_allowed = starts_clear_of_held_out(fit, offs, held, c_fit, T)
    if len(fit.starts_allowed) < 16:
        raise SystemExit("validation-tail: too few validation windows after the evaluation part")
    return fit, val.part(0, c_eval)


def starts_clear_of_held_out(data, doc_offsets, held, c_from, T):
    """The window starts of `data` (chunk indices, from chunk c_from of its token file) whose window (tokens
    c*m .. c*m + T, the last one a target, and the chunk after) touches no held-out document (`held`: bool per
    document of the token file, whose documents start at doc_offsets)."""
    m = data.m
    C = c_from + len(data.tokens) // m
    doc_of = np.searchsorted(doc_offsets, np.arange(c_from * m, C * m), side="right") - 1
    bad_chunk = held[np.minimum(doc_of, len(held) - 1)].reshape(-1, m).any(axis=1)
    bad = np.concatenate([[0], np.cumsum(bad_chunk)])
    starts = np.arange(0, data.max_start(T) + 1)
    return starts[bad[np.minimum(starts + T // m + 1, len(bad_chunk))] - bad[starts] == 0]


def document_spans(doc_offsets, min_tokens):
    """Span index per document: consecutive documents are gathered until a span holds >= min_tokens tokens (a
    longer document is a span of its own; the last span may be shorter)."""
    lengths = np.diff(np.asarray(doc_offsets))
    out = np.zeros(len(lengths), np.int64)
    span, acc = 0, 0
    for i, n in enumerate(lengths):
        out[i] = span
        acc += int(n)
        if acc >= min_tokens:
            span, acc = span + 1, 0
    return out


def split_by_spans(doc_offsets, held, n_tokens, m, T, r, every=3, margin_before=1, margin_after=2):
    """The "validation-spans" split of a token file's chunk grid -> (evaluation window starts, fitting window starts),
    chunk indices. Documents are gathered into spans of >= 3 T + r tokens (document_spans) and every `every`-th span
    (0, every, 2 every, ...) is evaluation: so evaluation samples the whole file (whose documents come grouped by
    source) instead of its head, and no document is both fitted and evaluated. Evaluation windows: chunk-aligned, at
    stride T inside an evaluation span, each with the r tokens after it (the oracle's look-ahead) in the span.
    Fitting windows: any chunk start whose chunks start - margin_before .. start + T/m + margin_after (the window,
    the chunk it predicts into, and the stream a shifted oracle neighbour reads) touch only fitting documents and no
    held-out entry."""
    offs = np.asarray(doc_offsets)
    spans = document_spans(offs, 3 * T + r)
    evaluation_doc = spans % every == 0
    C = n_tokens // m
    first = np.searchsorted(offs, np.arange(C) * m, side="right") - 1
    last = np.searchsorted(offs, np.arange(C) * m + m - 1, side="right") - 1
    n_docs = len(offs) - 1
    first, last = np.minimum(first, n_docs - 1), np.minimum(last, n_docs - 1)
    ev_cum = np.concatenate([[0], np.cumsum(evaluation_doc)])
    held_cum = np.concatenate([[0], np.cumsum(np.asarray(held, bool))])
    touches_eval = ev_cum[last + 1] - ev_cum[first] > 0
    all_eval = ev_cum[last + 1] - ev_cum[first] == last - first + 1
    U, R = T // m, -(-r // m)
    eval_starts = []
    c = 0
    while c + U + R <= C:
        block = slice(c, c + U + R)
        # only evaluation documents, all of one span (spans are runs of consecutive documents)
        if all_eval[block].all() and spans[first[c]] == spans[last[c + U + R - 1]]:
            eval_starts.append(c)
            c += U
        else:
            c += 1
    bad = touches_eval | (held_cum[last + 1] - held_cum[first] > 0)
    bad_cum = np.concatenate([[0], np.cumsum(bad)])
    starts = np.arange(margin_before, C - U - margin_after)
    fit_starts = starts[bad_cum[starts + U + margin_after + 1] - bad_cum[starts - margin_before] == 0]
    return np.asarray(eval_starts, np.int64), fit_starts


def validation_spans(cfg, val):
    m, T, r = cfg["chunk_size"], cfg["lm_seq_len"], cfg["neighbour_len"]
    path = os.path.join(cfg["out_dir"], "tokens", "validation.safetensors")
    offs = np.asarray(load_tokens(path)["doc_offsets"])
    eval_starts, fit_starts = split_by_spans(offs, held_out_documents(path), len(val.tokens), m, T, r)
    if len(eval_starts) == 0 or len(fit_starts) < 16:
        raise SystemExit(f"validation-spans: {len(eval_starts)} evaluation and {len(fit_starts)} fitting windows; "
                         "the validation split is too small")
    fit = val.part(0, len(val.tokens) // m)
    fit.starts_allowed = fit_starts
    ev = val.part(0, len(val.tokens) // m)
    ev.eval_starts = eval_starts
    return fit, ev


def window_starts(data, T, windows, look_ahead):
    """The evaluation windows' start chunks: the data's eval_starts (validation-spans), spread evenly when there are
    more than `windows`; else the first `windows` windows at stride T that have look_ahead tokens after them."""
    starts = getattr(data, "eval_starts", None)
    if starts is None:
        return np.arange(0, max(0, (len(data.tokens) - T - look_ahead - 1) // data.m) + 1, T // data.m)[:windows]
    if len(starts) > windows:
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, windows).round().astype(np.int64))]
    return starts


# -----------------------------------------------------------------------------
# evaluation


def longest_common_span(a, b):
    """Length of the longest common contiguous run of tokens of a and b (1-D int arrays)."""
    a, b = np.asarray(a), np.asarray(b)
    if not len(a) or not len(b):
        return 0
    best, prev = 0, np.zeros(len(b) + 1, np.int64)
    for x in a:
        cur = np.zeros(len(b) + 1, np.int64)
        cur[1:] = np.where(b == x, prev[:-1] + 1, 0)
        best = max(best, int(cur.max()))
        prev = cur
    return best


def neighbour_match(chunk, neighbour_chunk):
    """The neighbour gate's score: the longest common token span of the query chunk (the chunk the neighbour was
    retrieved for, already known when the next chunk is predicted) and the neighbour's own chunk (its first m tokens,
    not the continuation), over m. A neighbour that repeats the text just read is likely to continue it; one that
    only shares the topic is not, and reading it costs bits (docs/training.md, "A gate on the neighbours").
    Retro.Engine's NeighbourGate computes the same."""
    return longest_common_span(chunk, neighbour_chunk) / len(chunk)


def neighbour_has_tail(chunk, neighbour, tail):
    """The gate's tail test: whether the neighbour (chunk + continuation, -1 padded) holds the last `tail` tokens of
    the query chunk in a row, with at least one token after them. A neighbour that continues the text must contain
    where the text has got to; one that repeats only the chunk's beginning (a shared heading, a boilerplate line)
    passes neighbour_match and then goes elsewhere (docs/training.md, "A tail on the gate"). Retro.Core's
    NeighbourGate computes the same."""
    if tail <= 0:
        return True
    n = np.asarray(neighbour)
    n = n[n >= 0]
    t = np.asarray(chunk)[-tail:]
    L = len(t)
    if len(n) < L + 1:
        return False
    win = np.lib.stride_tricks.sliding_window_view(n[:-1], L)  # windows that have a token after them
    return bool((win == t).all(axis=1).any())


def neighbour_read(chunk, neighbour, min_match, tail):
    """The neighbour gate: read the neighbour (chunk + continuation, -1 padded) retrieved for `chunk` only if
    neighbour_match(chunk, its own chunk) >= min_match and it holds the chunk's last `tail` tokens."""
    n = np.asarray(neighbour)
    m = len(chunk)
    if min_match > 0 and neighbour_match(chunk, n[:m][n[:m] >= 0]) < min_match:
        return False
    return neighbour_has_tail(chunk, n, tail)


def chunk_overlap(chunk, neighbours):
    """Overlap ratio of a target chunk (m,) with the neighbours (k, r) (-1 padded) that condition it:
    max over neighbours of the longest common token span / m."""
    best = 0
    for nb in neighbours:
        best = max(best, longest_common_span(chunk, nb[nb >= 0]))
    return best / len(chunk)


def copyable(inputs, targets, neighbours):
    """(m,) bool: which targets a reading of the neighbours could supply at all, i.e. whose bigram (input token,
    target token) occurs in one of the neighbours (k, r) (-1 padded). Retrieval can lower the loss of the others
    only by what a neighbour says about the topic, not by copying."""
    grams = set()
    for nb in neighbours:
        nb = nb[nb >= 0]
        grams.update(zip(nb[:-1].tolist(), nb[1:].tolist()))
    return np.array([(int(a), int(b)) in grams for a, b in zip(inputs, targets)], dtype=bool)


def bpb(nats, nbytes):
    return float(nats / math.log(2) / nbytes) if nbytes else float("nan")


def breakdown(ce_closed, ce_ret, nbytes, overlaps, alphas=ALPHAS):
    """Per target chunk sums (nats closed-book, nats retrieval, bytes) and overlaps -> leakage rows."""
    ce_closed, ce_ret, nbytes, overlaps = map(np.asarray, (ce_closed, ce_ret, nbytes, overlaps))
    rows = []
    for a in alphas:
        sel = overlaps <= a + 1e-9
        c, r_ = bpb(ce_closed[sel].sum(), nbytes[sel].sum()), bpb(ce_ret[sel].sum(), nbytes[sel].sum())
        rows.append({"alpha": a, "chunks": int(sel.sum()), "fraction": float(sel.mean()) if len(sel) else 0.0,
                     "bpb_closed_book": c, "bpb_retrieval": r_,
                     "relative_reduction": (1 - r_ / c) if sel.any() and c > 0 else float("nan")})
    return rows


def breakdown_above(ce_closed, ce_ret, nbytes, overlaps, alphas=(0.25, 0.5, 0.75)):
    """The complement of breakdown(): rows over the target chunks whose overlap is MORE than alpha (the chunks
    retrieval can help most; the issue's goal is on overlap > 0.5)."""
    ce_closed, ce_ret, nbytes, overlaps = map(np.asarray, (ce_closed, ce_ret, nbytes, overlaps))
    rows = []
    for a in alphas:
        sel = overlaps > a + 1e-9
        c = bpb(ce_closed[sel].sum(), nbytes[sel].sum()) if sel.any() else None  # None: no such chunk (JSON null)
        r_ = bpb(ce_ret[sel].sum(), nbytes[sel].sum()) if sel.any() else None
        rows.append({"above": a, "chunks": int(sel.sum()), "fraction": float(sel.mean()) if len(sel) else 0.0,
                     "bpb_closed_book": c, "bpb_retrieval": r_,
                     "relative_reduction": (1 - r_ / c) if sel.any() and c > 0 else None})
    return rows


def oracle_neighbours(x_next, U, m, r, k):
    """(B, U, k, r): neighbour 0 of chunk u = tokens u*m .. u*m+r-1 of the window's stream (chunk u and its
    continuation, i.e. the true next chunk where RETRO stores it), the others absent. x_next (B, >= U*m + r - m)."""
    B = x_next.size(0)
    nb = torch.full((B, U, k, r), -1, dtype=torch.long, device=x_next.device)
    for u in range(U):
        seg = x_next[:, u * m:u * m + r]
        nb[:, u, 0, :seg.size(1)] = seg
    return nb


@torch.no_grad()
def oracle(model, data, T, windows, device, dtype, batch=8):
    """The oracle test: mean loss (nats/token) on the targets of chunks 1..U-1 closed-book vs with the true next
    chunk as neighbour 0 (aligned as RETRO stores neighbours: chunk u + its continuation)."""
    was = model.training
    model.eval()
    m, r = data.m, data.r
    U = T // m
    starts = window_starts(data, T, windows, r)
    tot_c = tot_o = 0.0
    count = 0
    for s in range(0, len(starts), batch):
        seqs = np.stack([data.tokens[int(c) * m:int(c) * m + T + r] for c in starts[s:s + batch]]).astype(np.int64)
        seqs = torch.from_numpy(seqs).to(device)
        x, y = seqs[:, :T], seqs[:, 1:T + 1]
        nb = oracle_neighbours(seqs, U, m, r, model.config.num_neighbours)
        with autocast(device, dtype):
            lc, lo = model(x), model(x, nb)
        ce_c = F.cross_entropy(lc.float().transpose(1, 2), y.long(), reduction="none")[:, m - 1:]
        ce_o = F.cross_entropy(lo.float().transpose(1, 2), y.long(), reduction="none")[:, m - 1:]
        tot_c += float(ce_c.sum())
        tot_o += float(ce_o.sum())
        count += ce_c.numel()
    model.train(was)
    c, o = tot_c / max(1, count), tot_o / max(1, count)
    return {"oracle_loss_closed_book": c, "oracle_loss_with_next_chunk": o,
            "oracle_ratio": o / c if c > 0 else float("nan"), "oracle_windows": int(len(starts))}


@torch.no_grad()
def evaluate(model, data, token_bytes, T, windows, device, dtype, batch=8, copy="model"):
    """BPB closed-book vs retrieval over up to `windows` non-overlapping validation windows, with the overlap
    breakdown over target chunks 1..U-1 of each window (chunk 0 has no neighbours to be conditioned on).
    copy: the neighbour copy table ("model": the decoder's config.neighbour_copy; None: none); with one, "copy" holds
    the same figures with the copy mixed into the retrieval distribution (neighbour_copy_proposals over every
    retrieved neighbour, read or not)."""
    if copy == "model":
        copy = getattr(getattr(model, "config", None), "neighbour_copy", None)
    was = model.training
    model.eval()
    m = data.m
    U = T // m
    starts = window_starts(data, T, windows, 0)
    raw = data.ungated()  # the breakdown's overlaps and the copy bound are of the retrieved neighbours, read or not
    tot = {"closed": 0.0, "ret": 0.0, "bytes": 0, "closed_copyable": 0.0, "gated": 0, "neighbours": 0}
    per_chunk = {"closed": [], "ret": [], "bytes": [], "overlap": [], "copy": []}
    tot["copy"] = 0.0
    for s in range(0, len(starts), batch):
        x, y, nb = data.batch(starts[s:s + batch], T, device)
        with autocast(device, dtype):
            lc = model(x)
            lr = model(x, nb)
        ce_c = F.cross_entropy(lc.float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()  # (B, T)
        ce_r = F.cross_entropy(lr.float().transpose(1, 2), y.long(), reduction="none").cpu().numpy()
        yb = token_bytes[y.cpu().numpy()]
        tot["closed"] += ce_c.sum()
        tot["ret"] += ce_r.sum()
        tot["bytes"] += int(yb.sum())
        nb_np = nb.cpu().numpy()
        read_flags = nb_np[..., 0] >= 0  # (B, U, k)
        read = int(read_flags.sum())
        if data.gated:  # gated: the breakdown still measures every retrieved neighbour
            nb_np = np.stack([raw.neighbours(np.arange(int(c), int(c) + U)) for c in starts[s:s + batch]])
        ce_x = ce_r
        if copy is not None:
            ce_x = np.empty_like(ce_r)
            for b in range(len(x)):
                prop, L, from_read = neighbour_copy_proposals(x[b].cpu().numpy(), nb_np[b], read_flags[b], m,
                                                              copy["max_match"], positions=range(m - 1, T))
                ce_x[b] = neighbour_copy_nll(ce_r[b], y[b].cpu().numpy(), prop, neighbour_copy_lambda(copy, L, from_read))
            tot["copy"] += ce_x.sum()
        tot["neighbours"] += int((nb_np[..., 0] >= 0).sum())
        tot["gated"] += int((nb_np[..., 0] >= 0).sum()) - read
        y_np = y.cpu().numpy()
        x_np = x.cpu().numpy()
        for b in range(len(x)):
            for u in range(1, U):
                sl = slice(u * m - 1, u * m + m - 1)  # positions predicting chunk u's tokens
                tot["closed_copyable"] += ce_c[b, sl][copyable(x_np[b, sl], y_np[b, sl], nb_np[b, u - 1])].sum()
                per_chunk["closed"].append(ce_c[b, sl].sum())
                per_chunk["ret"].append(ce_r[b, sl].sum())
                per_chunk["copy"].append(ce_x[b, sl].sum())
                per_chunk["bytes"].append(yb[b, sl].sum())
                per_chunk["overlap"].append(chunk_overlap(y_np[b, sl], nb_np[b, u - 1]))
    model.train(was)
    c, r = bpb(tot["closed"], tot["bytes"]), bpb(tot["ret"], tot["bytes"])
    extra = {}
    if copy is not None:
        x_ = bpb(tot["copy"], tot["bytes"])
        extra["copy"] = {"table": copy, "bpb_retrieval": x_, "bpb_relative_reduction": 1 - x_ / c if c > 0 else float("nan"),
                         "leakage": breakdown(per_chunk["closed"], per_chunk["copy"], per_chunk["bytes"], per_chunk["overlap"]),
                         "leakage_above": breakdown_above(per_chunk["closed"], per_chunk["copy"], per_chunk["bytes"],
                                                          per_chunk["overlap"])}
    return {"bpb_closed_book": c, "bpb_retrieval": r, "bpb_relative_reduction": 1 - r / c if c > 0 else float("nan"),
            # the most that copying from these neighbours could lower the loss: the closed-book share of the
            # targets whose bigram occurs in their neighbours (if every one of them cost 0 nats)
            "copy_bound": float(tot["closed_copyable"] / tot["closed"]) if tot["closed"] > 0 else float("nan"),
            "eval_windows": int(len(starts)), "eval_tokens": int(len(starts) * T), "eval_bytes": int(tot["bytes"]),
            "neighbour_min_match": data.min_match, "neighbour_tail": data.tail,
            "neighbours_gated": tot["gated"] / tot["neighbours"] if tot["neighbours"] else 0.0,
            "leakage": breakdown(per_chunk["closed"], per_chunk["ret"], per_chunk["bytes"], per_chunk["overlap"]),
            "leakage_above": breakdown_above(per_chunk["closed"], per_chunk["ret"], per_chunk["bytes"],
                                             per_chunk["overlap"]), **extra}


# -----------------------------------------------------------------------------
# training


def train(cfg):
    seed_all(cfg["seed"])
    device = pick_device(cfg["device"])
    if not cfg["lm_stage"] or os.path.basename(cfg["lm_stage"]) != cfg["lm_stage"] or cfg["lm_stage"] in (".", ".."):
        raise SystemExit(f"lm_stage must be a folder name under out_dir, got {cfg['lm_stage']!r}")
    out = os.path.join(cfg["out_dir"], cfg["lm_stage"])
    ckpt = os.path.join(out, "ckpt")
    os.makedirs(out, exist_ok=True)
    tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
    token_bytes = tok.token_byte_lengths()
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    train_data, val_data = fit_and_eval_data(cfg, db)
    T, m = cfg["lm_seq_len"], cfg["chunk_size"]
    if T % m:
        raise SystemExit("lm_seq_len must be a multiple of chunk_size")
    if train_data.max_start(T) < 0 or val_data.max_start(T) < 0:
        raise SystemExit("a split is shorter than one training window")
    model = build_model(cfg, tok.vocab_size, tok.eos_id)
    induction_r2 = init_induction(cfg, model, train_data)  # a resumed run then loads its own weights over it
    reading = cfg["lm_reading_layers"] if cfg["lm_reading_layers"] is not None else cfg["lm_induction_layers"]
    n_train = trainable(model, cfg["lm_train"], reading or ())
    opt = adamw(model, cfg["lm_lr"], cfg["lm_weight_decay"])
    sinks = [p for n, p in model.named_parameters() if n.endswith(".cca.sink") and p.requires_grad]
    if sinks:  # their own group: lr x lm_sink_lr_ratio, no decay
        ids = {id(p) for p in sinks}
        for g in opt.param_groups:
            g["params"] = [p for p in g["params"] if id(p) not in ids]
        opt.add_param_group({"params": sinks, "weight_decay": 0.0, "lr_ratio": cfg["lm_sink_lr_ratio"]})
    start, wall_before = 0, 0.0
    if cfg["lm_resume"] and os.path.exists(os.path.join(ckpt, "index.json")):
        tensors, meta = load_sharded(ckpt)
        restore_training_state(model, opt, tensors, meta["adam_steps"])
        start, wall_before = meta["step"], meta.get("wall_seconds", 0.0)
        print(f"retro: resumed at step {start}")
    model.to(device)
    for st in opt.state.values():
        for k, v in st.items():
            if torch.is_tensor(v) and k != "step":
                st[k] = v.to(device)
    fwd = maybe_compile(model, cfg["compile"])
    log = LossLog(os.path.join(out, "loss.csv"), resume=start > 0)
    steps = cfg["lm_steps"]
    stop = steps if cfg["lm_max_steps_this_run"] is None else min(steps, start + cfg["lm_max_steps_this_run"])
    print(f"retro: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters ({n_train / 1e6:.2f} M "
          f"trained, {cfg['lm_train']}), cca_layers {model.config.cca_layers}, cca_positions "
          f"{model.config.cca_positions}, {len(train_data.tokens)} train tokens, device {device}")
    t0 = time.time()
    model.train()
    loss_val = float("nan")
    step = start
    for step in range(start, stop):
        lr = cosine_lr(step, cfg["lm_lr"], cfg["lm_warmup"], steps, cfg["lm_min_lr_ratio"])
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_ratio", 1.0)
        opt.zero_grad(set_to_none=True)
        loss_val = 0.0
        # per-step generators: a resumed run draws the same batches and dropouts as an uninterrupted one
        rng = np.random.default_rng([cfg["seed"], step])
        gen = torch.Generator().manual_seed(cfg["seed"] * 1_000_003 + step)
        for _ in range(cfg["lm_grad_accum"]):
            starts = train_data.pick_starts(rng, cfg["lm_batch"], T, cfg["lm_overlap_pool"])
            x, y, nb = train_data.batch(starts, T, "cpu")
            nb = train_data.with_oracle(starts, nb, T, cfg["lm_oracle_frac"], rng)
            nb = train_data.with_shifted_oracle(starts, nb, cfg["lm_shift_oracle_frac"], cfg["lm_shift_max"], rng)
            nb = drop_neighbours(nb, cfg["lm_neighbour_dropout"], gen)
            x, y, nb = x.to(device), y.to(device), nb.to(device)
            with autocast(device, cfg["dtype"]):
                logits = fwd(x, nb)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1).long())
            (loss / cfg["lm_grad_accum"]).backward()
            loss_val += loss.item() / cfg["lm_grad_accum"]
        if cfg["lm_grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg["lm_grad_clip"])
        opt.step()
        if step % cfg["lm_log_every"] == 0 or step == steps - 1:
            log.log(step, "train_loss", loss_val)
            print(f"retro step {step}: loss {loss_val:.4f} lr {lr:.2e} ({time.time() - t0:.0f} s)")
        if cfg["lm_eval_every"] and step > 0 and step % cfg["lm_eval_every"] == 0:
            ev = evaluate(model, val_data, token_bytes, T, cfg["lm_eval_windows"], device, cfg["dtype"])
            log.log(step, "val_bpb_closed_book", ev["bpb_closed_book"])
            log.log(step, "val_bpb_retrieval", ev["bpb_retrieval"])
        if cfg["lm_ckpt_every"] and step > start and step % cfg["lm_ckpt_every"] == 0:
            save_checkpoint(model, opt, ckpt, step + 1, wall_before + time.time() - t0)
    done = step + 1 if stop > start else start
    wall = wall_before + time.time() - t0
    save_checkpoint(model, opt, ckpt, done, wall)
    log.plot(os.path.join(out, "loss.png"), "RETRO: train loss (nats/token), validation bits per byte")
    if done < steps:
        print(f"retro: stopped at step {done} of {steps}; resume with --lm_resume=True")
        return None
    ev = evaluate(model, val_data, token_bytes, T, cfg["lm_final_eval_windows"], device, cfg["dtype"])
    if cfg["lm_oracle_windows"]:
        ev.update(oracle(model, val_data, T, cfg["lm_oracle_windows"], device, cfg["dtype"]))
        print(f"retro: oracle loss {ev['oracle_loss_with_next_chunk']:.4f} vs closed-book "
              f"{ev['oracle_loss_closed_book']:.4f} nats/token ({100 * ev['oracle_ratio']:.1f}%)")
    log.log(done, "val_bpb_closed_book", ev["bpb_closed_book"])
    log.log(done, "val_bpb_retrieval", ev["bpb_retrieval"])
    log.plot(os.path.join(out, "loss.png"), "RETRO: train loss (nats/token), validation bits per byte")
    model.cpu()
    save_model(model, os.path.join(out, "model_ckpt"))
    metrics = dict(ev)
    metrics.update({"steps": done, "batch": cfg["lm_batch"] * cfg["lm_grad_accum"], "seq_len": T,
                    "tokens_seen": done * cfg["lm_batch"] * cfg["lm_grad_accum"] * T,
                    "train_tokens": int(len(train_data.tokens)), "final_train_loss": loss_val,
                    "wall_seconds": round(wall, 1), "hardware": hardware(),
                    "parameters": sum(p.numel() for p in model.parameters()), "trained_parameters": n_train,
                    "induction_read_out_r2": {str(k): v for k, v in induction_r2.items()},
                    "config": {k: v for k, v in cfg.items() if k.startswith("lm_") or k in (
                        "seed", "dtype", "chunk_size", "neighbour_len", "nb_k")}})
    write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"retro: BPB closed-book {ev['bpb_closed_book']:.4f}, retrieval {ev['bpb_retrieval']:.4f} "
          f"({100 * ev['bpb_relative_reduction']:.1f}% lower), {wall:.0f} s")
    return metrics


def save_checkpoint(model, opt, folder, step, wall):
    tensors, steps = training_state(model, opt)
    save_sharded(tensors, folder, {"step": step, "wall_seconds": wall, "adam_steps": steps,
                                   "config": model.config.to_dict()})


if __name__ == "__main__":
    train(configure(DEFAULTS, sys.argv[1:]))
