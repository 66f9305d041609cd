"""The committed tests/fixtures: reproducible from fixtures.py, shaped as the doc says, and consistent with the
reference model (fp32 and bf16 weights) and the tokenizers."""

import json
import os

import pytest
import torch

import fixtures
from model import Bert, Retro
from safetensors_io import load_file
from tokenizers_ref import ByteLevelBPE, WordPiece

FOLDERS = ["bert-tiny", "cross-tiny", "retro-tiny", "retro-tiny-bf16"]
FILES = ["config.json", "model.safetensors", "tokenizer.json", "golden.safetensors"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fixtures"))
    fixtures.main(["--out", out])
    return out


def test_regeneration_reproduces_the_committed_fixtures(fixtures_dir, regenerated):
    for folder in FOLDERS:
        for name in FILES:
            a, b = os.path.join(fixtures_dir, folder, name), os.path.join(regenerated, folder, name)
            if name != "golden.safetensors":  # configs, tokenizers, weights: seeded numpy -> exact bytes
                with open(a, "rb") as fa, open(b, "rb") as fb:
                    assert fa.read() == fb.read(), f"{folder}/{name} differs from a fresh fixtures.py run"
                continue
            # golden outputs come from float64 torch math: exact on one build, compared with a tolerance so a
            # different torch/BLAS build does not fail on the last bit
            ta, ma = load_file(a, with_metadata=True)
            tb, mb = load_file(b, with_metadata=True)
            assert set(ta) == set(tb) and ma.keys() == mb.keys()
            for k in ta:
                assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape, k
                if ta[k].is_floating_point():
                    assert (ta[k] - tb[k]).abs().max() <= 1e-6 * max(float(ta[k].abs().max()), 1e-6), k
                else:
                    assert torch.equal(ta[k], tb[k]), k


def test_size_under_5_mb(fixtures_dir):
    """fixtures.py's folders stay under 5 MB; the trained-smoke fixture (smoke_fixture.py) under 1.5 MB; their ONNX
    exports (onnx/ subfolders, export_onnx.py: the weights again, as graphs) under 3 MB together."""
    def size(names, onnx=False):
        return sum(os.path.getsize(os.path.join(r, f)) for n in names
                   for r, _, fs in os.walk(os.path.join(fixtures_dir, n)) for f in fs
                   if (os.path.basename(r) == "onnx") == onnx)
    tiny = ["bert-tiny", "cross-tiny", "retro-tiny", "retro-tiny-bf16"]
    assert size(tiny) < 5_000_000
    assert size(["trained-smoke"]) < 1_500_000
    assert size(tiny + ["trained-smoke"], onnx=True) < 3_000_000


def test_tokenizer_ids_fit_the_model_vocabulary(fixtures_dir):
    """Every id a fixture's tokenizer can emit is a row of the model's embedding table, and the ids are dense."""
    for name in ("bert-tiny", "cross-tiny", "retro-tiny", "retro-tiny-bf16", "trained-smoke/encoder",
                 "trained-smoke/reranker", "trained-smoke/retro"):
        folder = os.path.join(fixtures_dir, name)
        vocab = json.load(open(os.path.join(folder, "tokenizer.json")))["model"]["vocab"]
        added = [t["id"] for t in json.load(open(os.path.join(folder, "tokenizer.json"))).get("added_tokens", [])]
        ids = sorted(set(vocab.values()) | set(added))
        cfg = json.load(open(os.path.join(folder, "config.json")))
        assert ids[-1] < cfg["vocab_size"], (name, ids[-1], cfg["vocab_size"])
        assert ids == list(range(len(ids))), name


def rel(a, b):
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-6)


def test_bert_goldens(fixtures_dir):
    g, meta = load_file(os.path.join(fixtures_dir, "bert-tiny", "golden.safetensors"), with_metadata=True)
    B, L = g["input_ids"].shape
    assert (B, L) == (3, 16) and all(g[k].dtype == torch.int32 for k in ("input_ids", "attention_mask",
                                                                       "token_type_ids"))
    assert g["hidden_states"].shape == (3, 16, 32) and g["embeddings"].shape == (3, 32)
    mask = g["attention_mask"]
    assert mask.sum(1).min() < L and torch.all(mask[:, :-1] >= mask[:, 1:])  # right-padded rows
    model = Bert.from_folder(os.path.join(fixtures_dir, "bert-tiny"))
    ids, types = g["input_ids"].long(), g["token_type_ids"].long()
    with torch.no_grad():
        assert rel(model(ids, mask, types), g["hidden_states"]) < 1e-5
        assert rel(model.embed(ids, mask, types), g["embeddings"]) < 1e-5
    wp = WordPiece(json.load(open(os.path.join(fixtures_dir, "bert-tiny", "tokenizer.json")))["model"]["vocab"])
    for b, text in enumerate(json.loads(meta["texts"])):
        n = int(mask[b].sum())
        assert wp.encode(text)[0] == g["input_ids"][b, :n].tolist()

    g, meta = load_file(os.path.join(fixtures_dir, "cross-tiny", "golden.safetensors"), with_metadata=True)
    model = Bert.from_folder(os.path.join(fixtures_dir, "cross-tiny"))
    with torch.no_grad():
        s = model.score(g["input_ids"].long(), g["attention_mask"], g["token_type_ids"].long())
    assert s.shape == (3,) and rel(s, g["scores"]) < 1e-5
    for b, (q, c) in enumerate(json.loads(meta["pairs"])):
        ids, types = wp.encode(q, c)
        assert ids == g["input_ids"][b, :len(ids)].tolist() and types == g["token_type_ids"][b, :len(ids)].tolist()


def test_retro_golden_shape_and_structure(fixtures_dir):
    g = load_file(os.path.join(fixtures_dir, "retro-tiny", "golden.safetensors"))
    cfg = json.load(open(os.path.join(fixtures_dir, "retro-tiny", "config.json")))
    m, k, r, V, D = cfg["chunk_size"], cfg["num_neighbours"], cfg["neighbour_len"], cfg["vocab_size"], cfg["d_model"]
    assert m == 64
    n = g["tokens"].shape[1]
    U = n // m
    assert n >= 4 * m and n % m != 0
    assert g["neighbours"].shape == (1, U, k, r) and g["neighbours"].dtype == torch.int32
    lengths = (g["neighbours"][0] >= 0).sum(-1)  # (U, k)
    assert (lengths < r).any() and (lengths > 0).any()
    assert ((lengths == 0).sum(-1) == 1).any() and ((lengths == 0).sum(-1) == k).any()  # partly / wholly absent
    assert g["logits"].shape == g["closed_book_logits"].shape == (1, n, V)
    assert g["encoded_neighbours_0"].shape == (k, r, D)
    p, gl = len(g["greedy_prompt"]), len(g["greedy_tokens"])
    assert g["greedy_step_logits"].shape == (gl, V)
    assert g["greedy_neighbours"].shape == ((p + gl - 1) // m, k, r)
    assert (p + gl - 2 + 1) // m - (p - 1 + 1) // m >= 3  # >= 3 chunk completions while generating
    assert torch.equal(g["greedy_step_logits"].argmax(-1).int(), g["greedy_tokens"])
    # CCA visibly changes the logits, and only from position m - 1 on
    diff = (g["logits"] - g["closed_book_logits"]).abs()
    assert diff[:, :m - 1].max() == 0 and diff.max() > 0.1 * g["logits"].abs().max()
    # E_0 padding rows are 0
    pad = g["neighbours"][0, 0] < 0
    assert pad.any() and torch.all(g["encoded_neighbours_0"][pad] == 0)
    same = load_file(os.path.join(fixtures_dir, "retro-tiny-bf16", "golden.safetensors"))
    assert all(torch.equal(g[x], same[x]) for x in g)


@pytest.mark.parametrize("folder, tol", [("retro-tiny", 1e-5), ("retro-tiny-bf16", 1e-2)])
def test_retro_model_reproduces_golden(fixtures_dir, folder, tol):
    g = load_file(os.path.join(fixtures_dir, folder, "golden.safetensors"))
    model = Retro.from_folder(os.path.join(fixtures_dir, folder)).eval()  # weights in fp32
    with torch.no_grad():
        logits, E, _ = model(g["tokens"].long(), g["neighbours"].long(), return_encoded=True)
        closed = model(g["tokens"].long(), None)
        toks, step_logits = model.generate_greedy(g["greedy_prompt"], g["greedy_neighbours"].long(),
                                                  len(g["greedy_tokens"]))
    assert rel(logits, g["logits"]) < tol
    assert rel(closed, g["closed_book_logits"]) < tol
    assert rel(E[0, 0], g["encoded_neighbours_0"]) < tol
    assert rel(step_logits, g["greedy_step_logits"]) < tol
    assert torch.equal(toks.int(), g["greedy_tokens"])


def test_retro_tokenizer_check(fixtures_dir):
    _, meta = load_file(os.path.join(fixtures_dir, "retro-tiny", "golden.safetensors"), with_metadata=True)
    tj = json.load(open(os.path.join(fixtures_dir, "retro-tiny", "tokenizer.json"), encoding="utf-8"))
    cfg = json.load(open(os.path.join(fixtures_dir, "retro-tiny", "config.json")))
    assert len(tj["model"]["vocab"]) == cfg["vocab_size"]
    assert sorted(tj["model"]["vocab"].values()) == list(range(cfg["vocab_size"]))
    specials = [t["content"] for t in tj["added_tokens"]]
    bpe = ByteLevelBPE([tuple(x.split(" ")) for x in tj["model"]["merges"]], specials)
    assert bpe.vocab == tj["model"]["vocab"]
    ids = json.loads(meta["tokenizer_ids"])
    assert bpe.encode(meta["tokenizer_text"]) == ids
    assert bpe.decode(ids) == meta["tokenizer_text"]
    assert tj["model"]["vocab"]["<|endoftext|>"] == cfg["eos_token_id"] == cfg["bos_token_id"]
