"""export_onnx.py: the graphs pass the ONNX checker, carry the names and dynamic axes the C# engine binds, and
compute what model.py computes (max abs diff <= 1e-4, fp32), run by onnx_eval (Debian has no onnxruntime for
Python; the C# tests run the same files on ONNX Runtime against the PyTorch goldens). The committed exports in
tests/fixtures/*/onnx are what a fresh export writes."""

import json
import os

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import export_onnx
import onnx_eval
from model import Bert, Retro

TOL = 1e-4
RETRO_FOLDERS = ["retro-tiny", "trained-smoke/retro"]  # cca_positions "rope" and legacy "none"
BERT_FOLDERS = ["bert-tiny", "cross-tiny"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fixtures_dir):
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for name in RETRO_FOLDERS + BERT_FOLDERS:
        target = str(root / name.replace("/", "_"))
        export_onnx.export_folder(os.path.join(fixtures_dir, name), target)
        out[name] = target
    return out


def load(folder, graph):
    m = onnx.load(os.path.join(folder, graph + ".onnx"))
    onnx.checker.check_model(m)
    return m


def io_names(m):
    inits = {t.name for t in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits], [o.name for o in m.graph.output]


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


class OnnxDecoder:
    """The C# engine's use of the three RETRO graphs, in numpy: per-layer caches (P, D), segments of positions
    that share their CCA chunk, neighbours encoded when a chunk completes."""

    def __init__(self, folder, config):
        self.c = config
        self.lower, self.upper = load(folder, "decoder_lower"), load(folder, "decoder_upper")
        self.encoder = load(folder, "neighbour_encoder")
        D = config.d_model
        self.kv = {i: [np.zeros((1, 0, D), np.float32)] * 2 for i in range(config.n_layers)}
        self.h_chunk = np.zeros((1, 0, D), np.float32)
        self.cca = None
        self.pos = 0

    def feed(self, tokens, neighbours=None):
        """tokens: positions pos.. sharing u(p) (only the first may complete a chunk) -> last logits (V,)."""
        c, m, T = self.c, self.c.chunk_size, len(tokens)
        p0 = self.pos
        positions = np.arange(p0, p0 + T, dtype=np.int64)[None]
        mask = np.ones((1, p0 + T), np.int64)
        first = c.cca_layers[0]
        feeds = {"input_ids": np.array([tokens], np.int64), "positions": positions, "attention_mask": mask}
        for i in range(first):
            feeds[f"past_key_{i}"], feeds[f"past_value_{i}"] = self.kv[i]
        out = onnx_eval.run(self.lower, feeds)
        self._append(out, range(first))
        hidden = out["hidden"]
        self.h_chunk = np.concatenate([self.h_chunk, hidden], axis=1)
        if (p0 + 1) % m == 0:  # the first token completes a chunk
            H = self.h_chunk[:, :m]
            self.h_chunk = self.h_chunk[:, m:]
            self.cca = self._encode(H, neighbours) if neighbours is not None else None
        S = 1 if self.cca is None else self.cca["cca_mask"].shape[1]
        feeds = {"hidden": hidden, "positions": positions, "attention_mask": mask,
                 "cca_mask": np.zeros((1, S), np.int64) if self.cca is None else self.cca["cca_mask"]}
        for i in range(first, c.n_layers):
            feeds[f"past_key_{i}"], feeds[f"past_value_{i}"] = self.kv[i]
        for j in range(len(c.cca_layers)):
            for kv in ("key", "value"):
                name = f"cca_{kv}_{j}"
                feeds[name] = np.zeros((1, S, c.d_model), np.float32) if self.cca is None else self.cca[name]
        out = onnx_eval.run(self.upper, feeds)
        self._append(out, range(first, c.n_layers))
        self.pos = p0 + T
        return out["logits"][0]

    def _append(self, out, layers):
        for i in layers:
            self.kv[i] = [np.concatenate([self.kv[i][0], out[f"new_key_{i}"]], 1),
                          np.concatenate([self.kv[i][1], out[f"new_value_{i}"]], 1)]

    def _encode(self, H, neighbours):
        nb = np.asarray(neighbours, np.int64)  # (k, r), -1 = padding
        keep = (nb >= 0).any(1)
        nb = nb[keep]
        if len(nb) == 0:
            return None
        out = onnx_eval.run(self.encoder, {"neighbours": np.maximum(nb, 0), "neighbour_mask": (nb >= 0).astype(np.int64),
                                           "chunk_states": np.repeat(H, len(nb), axis=0)})
        cca = {"cca_mask": (nb >= 0).astype(np.int64).reshape(1, -1), "encoded": out["encoded"]}
        for name, v in out.items():
            if name.startswith("cca_"):
                cca[name] = v.reshape(1, -1, self.c.d_model)
        return cca


def segments(p0, n, m):
    """Splits positions p0..p0+n-1 into runs that share u(p): a run may complete a chunk only with its first."""
    out, start = [], p0
    for p in range(p0 + 1, p0 + n):
        if (p + 1) % m == 0:
            out.append((start, p))
            start = p
    out.append((start, p0 + n))
    return out


@pytest.mark.parametrize("name", RETRO_FOLDERS)
def test_retro_graphs_names_and_dynamic_axes(exported, name, fixtures_dir):
    model = Retro.from_folder(os.path.join(fixtures_dir, name))
    c = model.config
    for part in ("lower", "upper"):
        m = load(exported[name], f"decoder_{part}")
        inputs, outputs = export_onnx.decoder_names(c, part)
        assert io_names(m) == (inputs, outputs)
        by = {i.name: i for i in list(m.graph.input) + list(m.graph.output)}
        first = c.cca_layers[0]
        past = f"past_key_{0 if part == 'lower' else first}"
        if past in by:
            assert dims(by[past])[:2] == ["batch", "past"] and dims(by[past])[2] == c.d_model
        assert dims(by["positions"]) == ["batch", "length"]
    enc = load(exported[name], "neighbour_encoder")
    assert io_names(enc) == export_onnx.encoder_names(c)
    manifest = json.load(open(os.path.join(exported[name], export_onnx.MANIFEST)))
    assert manifest["cca_positions"] == c.cca_positions and manifest["model_type"] == "retro"
    assert manifest["source_sha256"] == export_onnx.sha256_file(os.path.join(fixtures_dir, name, "model.safetensors"))


@pytest.mark.parametrize("name", RETRO_FOLDERS)
def test_retro_steps_and_prefill_match_pytorch(exported, name, fixtures_dir):
    """Token by token (T = 1, KV cache) and in prefill segments (T > 1), with neighbours at every completed chunk
    (one partly padded, one chunk without any), the graphs' logits equal model.py's within 1e-4."""
    torch.manual_seed(0)
    model = Retro.from_folder(os.path.join(fixtures_dir, name)).eval()
    c, m = model.config, model.config.chunk_size
    n = 2 * m + 5
    tokens = torch.randint(0, c.vocab_size, (1, n))
    U = n // m
    nb = torch.randint(0, c.vocab_size, (1, U, 2, c.neighbour_len))
    nb[0, 0, 1, 90:] = -1
    nb[0, 1] = -1  # chunk 1: no neighbours
    with torch.no_grad():
        ref = model(tokens, nb)[0].numpy()  # (n, V)

    step = OnnxDecoder(exported[name], c)
    worst = 0.0
    for p in range(n):
        u = (p + 1) // m - 1
        got = step.feed([int(tokens[0, p])], nb[0, u].numpy() if (p + 1) % m == 0 else None)
        worst = max(worst, float(np.abs(got - ref[p]).max()))
    assert worst <= TOL, f"step logits differ from model.py by {worst:.2e}"

    pre = OnnxDecoder(exported[name], c)
    worst = 0.0
    for a, b in segments(0, n, m):
        completes = (a + 1) % m == 0
        got = pre.feed([int(t) for t in tokens[0, a:b]], nb[0, (a + 1) // m - 1].numpy() if completes else None)
        worst = max(worst, float(np.abs(got - ref[b - 1]).max()))
    assert worst <= TOL, f"prefill logits differ from model.py by {worst:.2e}"


@pytest.mark.parametrize("name", RETRO_FOLDERS)
def test_neighbour_encoder_matches_pytorch(exported, name, fixtures_dir):
    torch.manual_seed(1)
    model = Retro.from_folder(os.path.join(fixtures_dir, name)).eval()
    c = model.config
    H = torch.randn(1, 1, c.chunk_size, c.d_model)
    nb = torch.randint(0, c.vocab_size, (1, 1, 2, c.neighbour_len))
    nb[0, 0, 0, 70:] = -1
    with torch.no_grad():
        E, _ = model.encode_neighbours(H, nb)
    out = onnx_eval.run(load(exported[name], "neighbour_encoder"), {
        "neighbours": nb[0, 0].clamp(min=0).numpy(), "neighbour_mask": (nb[0, 0] >= 0).long().numpy(),
        "chunk_states": H[0].repeat(2, 1, 1).numpy()})
    assert np.abs(out["encoded"] - E[0, 0].numpy()).max() <= TOL
    with torch.no_grad():
        hd = c.d_model // c.n_heads
        rope = model.rope(0, c.neighbour_len, hd, E.device, E.dtype) if c.cca_rope else None
        k, v, _ = model.layers[c.cca_layers[0]].cca_kv(E, nb >= 0, rope)  # (1, 1, nh, k*r, hd)
    k = k[0, 0].permute(1, 0, 2).reshape(2, c.neighbour_len, c.d_model).numpy()
    assert np.abs(out["cca_key_0"] - k).max() <= TOL


@pytest.mark.parametrize("name", BERT_FOLDERS)
def test_bert_graph_matches_pytorch(exported, name, fixtures_dir):
    model = Bert.from_folder(os.path.join(fixtures_dir, name)).eval()
    m = load(exported[name], "encoder")
    cross = model.config.is_cross_encoder
    assert io_names(m) == (["input_ids", "attention_mask", "token_type_ids"],
                           ["scores"] if cross else ["last_hidden_state", "embeddings"])
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, model.config.vocab_size, (3, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    ids = ids * mask
    types = torch.zeros_like(ids)
    types[:, 5:] = 1 if cross else 0
    out = onnx_eval.run(m, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()})
    with torch.no_grad():
        if cross:
            assert np.abs(out["scores"] - model.score(ids, mask, types).numpy()).max() <= TOL
        else:
            assert np.abs(out["last_hidden_state"] - model(ids, mask, types).numpy()).max() <= TOL
            assert np.abs(out["embeddings"] - model.embed(ids, mask, types).numpy()).max() <= TOL


@pytest.mark.parametrize("name", RETRO_FOLDERS + BERT_FOLDERS)
def test_committed_exports_are_what_a_fresh_export_writes(exported, name, fixtures_dir):
    committed = os.path.join(fixtures_dir, name, "onnx")
    a = json.load(open(os.path.join(committed, export_onnx.MANIFEST)))
    b = json.load(open(os.path.join(exported[name], export_onnx.MANIFEST)))
    a.pop("torch"), b.pop("torch")
    assert a == b, f"{committed}: stale manifest; run export_onnx.py {name} --out {committed}"
    for graph in b["graphs"].values():
        ma, mb = onnx.load(os.path.join(committed, graph)), onnx.load(os.path.join(exported[name], graph))
        assert io_names(ma) == io_names(mb)
        # same weights (constant folding may name and order them differently across torch versions)
        wa = sorted((tuple(t.dims), numpy_helper.to_array(t).tobytes()) for t in ma.graph.initializer if len(t.dims) == 2)
        wb = sorted((tuple(t.dims), numpy_helper.to_array(t).tobytes()) for t in mb.graph.initializer if len(t.dims) == 2)
        assert [w[0] for w in wa] == [w[0] for w in wb] and all(x[1] == y[1] for x, y in zip(wa, wb)), graph
