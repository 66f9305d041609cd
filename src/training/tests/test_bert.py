"""BERT reference: literal functional re-implementation from the exported tensors (HF names), padding
invariance, pooling, cross-encoder head, folder round trip."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from fixtures import bert_config, init_weights, pad_batch, wordpiece_vocab
from model import Bert, from_folder
from safetensors_io import load_file, save_file
from tokenizers_ref import WordPiece

TEXTS = ["the model reads a chunk.", "retrieval", "which layer is the decoder of the model, and why?"]


def make(cross=False, seed=0, **kw):
    cfg = bert_config(wordpiece_vocab(), cross)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return init_weights(Bert(cfg), seed=seed, emb_std=0.5).double().eval()


def literal(t, ids, mask, types, nh, eps=1e-12):
    """HF BertModel written out from the tensor names of the doc."""
    def ln(x, p):
        return F.layer_norm(x, x.shape[-1:], t[p + ".weight"], t[p + ".bias"], eps)

    def lin(x, p):
        return x @ t[p + ".weight"].t() + t[p + ".bias"]

    L = ids.shape[1]
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:L] \
        + t["embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "embeddings.LayerNorm")
    i = 0
    while f"encoder.layer.{i}.attention.self.query.weight" in t:
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n) for n in ("query", "key", "value"))
        H = q.shape[-1]
        hd = H // nh
        ctx = torch.zeros_like(x)
        for b in range(ids.shape[0]):
            for h in range(nh):
                s = slice(h * hd, (h + 1) * hd)
                sc = q[b, :, s] @ k[b, :, s].t() / math.sqrt(hd) + (1.0 - mask[b].double()) * -1e9
                ctx[b, :, s] = torch.softmax(sc, -1) @ v[b, :, s]
        x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        hmid = lin(x, p + "intermediate.dense")
        hmid = 0.5 * hmid * (1 + torch.erf(hmid / math.sqrt(2)))
        x = ln(x + lin(hmid, p + "output.dense"), p + "output.LayerNorm")
        i += 1
    return x


def batch(wp, texts, pairs=None):
    enc = [wp.encode(a, b) for a, b in pairs] if pairs else [wp.encode(a) for a in texts]
    return pad_batch([e[0] for e in enc], [e[1] for e in enc])


def test_bi_encoder_matches_literal_bert_and_pools_mean():
    model = make()
    wp = WordPiece(wordpiece_vocab())
    ids, mask, types = batch(wp, TEXTS)
    t = {k: v.double() for k, v in model.export_state(torch.float64).items()}
    with torch.no_grad():
        h = model(ids, mask, types)
        e = model.embed(ids, mask, types)
    want = literal(t, ids, mask, types, 4)
    valid = mask.bool()
    assert (h[valid] - want[valid]).abs().max() < 1e-10
    pooled = torch.stack([want[b, valid[b]].mean(0) for b in range(len(TEXTS))])
    assert (e - pooled / pooled.norm(dim=-1, keepdim=True)).abs().max() < 1e-10
    assert torch.allclose(e.norm(dim=-1), torch.ones(3, dtype=torch.float64))


def test_padding_does_not_change_unpadded_outputs():
    wp = WordPiece(wordpiece_vocab())
    model = make(seed=3)
    ids, mask, types = batch(wp, TEXTS)
    cross = make(cross=True, seed=4)
    pairs = [(a, b) for a, b in zip(TEXTS, reversed(TEXTS))]
    pids, pmask, ptypes = batch(wp, None, pairs)
    with torch.no_grad():
        h, e, s = model(ids, mask, types), model.embed(ids, mask, types), cross.score(pids, pmask, ptypes)
        for b in range(3):
            L = int(mask[b].sum())
            hb = model(ids[b:b + 1, :L], mask[b:b + 1, :L], types[b:b + 1, :L])
            assert (hb[0] - h[b, :L]).abs().max() < 1e-10
            assert (model.embed(ids[b:b + 1, :L], mask[b:b + 1, :L]) - e[b]).abs().max() < 1e-10
            P = int(pmask[b].sum())
            sb = cross.score(pids[b:b + 1, :P], pmask[b:b + 1, :P], ptypes[b:b + 1, :P])
            assert abs(float(sb - s[b])) < 1e-10
    assert int(mask.sum(1).min()) < ids.shape[1]  # there was padding


def test_cross_encoder_score_is_classifier_of_tanh_pooler():
    model = make(cross=True, seed=5)
    wp = WordPiece(wordpiece_vocab())
    ids, mask, types = batch(wp, None, [("a query", "a chunk of text"), ("what?", "retrieval")])
    assert types[0].tolist()[:5] == [0, 0, 0, 0, 1]  # [CLS] a query [SEP] | a ...
    t = {k.removeprefix("bert."): v for k, v in model.export_state(torch.float64).items()}
    h = literal(t, ids, mask, types, 4)
    want = torch.tanh(h[:, 0] @ t["pooler.dense.weight"].t() + t["pooler.dense.bias"]) @ t["classifier.weight"].t() \
        + t["classifier.bias"]
    with torch.no_grad():
        got = model.score(ids, mask, types)
    assert got.shape == (2,)
    assert (got - want[:, 0]).abs().max() < 1e-10


def test_cls_pooling_and_no_normalisation():
    model = make(retro_pooling="cls", retro_normalize=False)
    wp = WordPiece(wordpiece_vocab())
    ids, mask, types = batch(wp, TEXTS)
    with torch.no_grad():
        assert torch.equal(model.embed(ids, mask, types), model(ids, mask, types)[:, 0])


def test_folder_round_trip_and_loader_rules(tmp_path):
    wp = WordPiece(wordpiece_vocab())
    ids, mask, types = batch(wp, TEXTS)
    for cross in (False, True):
        model = make(cross=cross, seed=6).float()
        folder = str(tmp_path / f"m{cross}")
        model.save_folder(folder)
        names = set(load_file(os.path.join(folder, "model.safetensors")))
        assert all(n.startswith("bert.") for n in names if not n.startswith("classifier.")) == cross
        back = from_folder(folder)
        assert back.config == model.config
        with torch.no_grad():
            assert torch.equal(back(ids, mask, types), model(ids, mask, types))
    # position_ids buffers are ignored; unknown tensors fail the load
    path = os.path.join(str(tmp_path / "mFalse"), "model.safetensors")
    t = load_file(path)
    t["embeddings.position_ids"] = torch.arange(64)[None]
    save_file(t, path)
    from_folder(str(tmp_path / "mFalse"))
    t["encoder.layer.0.extra.weight"] = torch.zeros(2)
    save_file(t, path)
    with pytest.raises(RuntimeError, match="extra"):
        from_folder(str(tmp_path / "mFalse"))


def test_rejects_unsupported_activation():
    cfg = bert_config(wordpiece_vocab(), False)
    cfg.hidden_act = "relu"
    with pytest.raises(ValueError, match="hidden_act"):
        Bert(cfg)
