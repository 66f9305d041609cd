"""Tensor names and shapes in exported files equal docs/model-format.md (written out here from the doc)."""

import os

import pytest
import torch

from fixtures import init_weights
from model import Retro, RetroConfig, load_config
from safetensors_io import load_file


def bert_names(c, cross):
    H, I, V, P, T = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["max_position_embeddings"], \
        c["type_vocab_size"]
    s = {"embeddings.word_embeddings.weight": (V, H), "embeddings.position_embeddings.weight": (P, H),
         "embeddings.token_type_embeddings.weight": (T, H), "embeddings.LayerNorm.weight": (H,),
         "embeddings.LayerNorm.bias": (H,), "pooler.dense.weight": (H, H), "pooler.dense.bias": (H,)}
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            s[p + f"attention.self.{n}.weight"], s[p + f"attention.self.{n}.bias"] = (H, H), (H,)
        s[p + "attention.output.dense.weight"], s[p + "attention.output.dense.bias"] = (H, H), (H,)
        s[p + "attention.output.LayerNorm.weight"] = s[p + "attention.output.LayerNorm.bias"] = (H,)
        s[p + "intermediate.dense.weight"], s[p + "intermediate.dense.bias"] = (I, H), (I,)
        s[p + "output.dense.weight"], s[p + "output.dense.bias"] = (H, I), (H,)
        s[p + "output.LayerNorm.weight"] = s[p + "output.LayerNorm.bias"] = (H,)
    if cross:
        s = {"bert." + k: v for k, v in s.items()}
        s["classifier.weight"], s["classifier.bias"] = (1, H), (1,)
    return s


def retro_names(c):
    D, F, Fe, V = c["d_model"], c["d_ff"], c["encoder_d_ff"], c["vocab_size"]
    s = {"tok_embeddings.weight": (V, D), "norm_f.weight": (D,), "norm_f.bias": (D,),
         "encoder.norm_f.weight": (D,), "encoder.norm_f.bias": (D,)}
    if not c["tie_embeddings"]:
        s["lm_head.weight"] = (V, D)
    for i in range(c["n_layers"]):
        p = f"layers.{i}."
        norms = ["attn_norm", "mlp_norm"] + (["cca_norm"] if i in c["cca_layers"] else [])
        for n in norms:
            s[p + n + ".weight"] = s[p + n + ".bias"] = (D,)
        for a in ["attn"] + (["cca"] if i in c["cca_layers"] else []):
            for x in "qkvo":
                s[p + f"{a}.{x}_proj.weight"] = (D, D)
        s[p + "mlp.fc_in.weight"], s[p + "mlp.fc_out.weight"] = (F, D), (D, F)
        if c.get("cca_sink") and i in c["cca_layers"]:
            s[p + "cca.sink"] = (c["n_heads"],)
    for j in range(c["encoder_layers"]):
        p = f"encoder.layers.{j}."
        for n in ("attn_norm", "cross_norm", "mlp_norm"):
            s[p + n + ".weight"] = s[p + n + ".bias"] = (D,)
        for a in ("attn", "cross"):
            for x in "qkvo":
                s[p + f"{a}.{x}_proj.weight"] = (D, D)
        s[p + "mlp.fc_in.weight"], s[p + "mlp.fc_out.weight"] = (Fe, D), (D, Fe)
    return s


def shapes(path):
    return {k: tuple(v.shape) for k, v in load_file(path).items()}


@pytest.mark.parametrize("folder, dtype", [("bert-tiny", torch.float32), ("cross-tiny", torch.float32),
                                           ("retro-tiny", torch.float32), ("retro-tiny-bf16", torch.bfloat16)])
def test_fixture_files_have_the_doc_names_and_shapes(fixtures_dir, folder, dtype):
    path = os.path.join(fixtures_dir, folder)
    cfg = load_config(path)
    c = cfg.__dict__
    want = retro_names(c) if c["model_type"] == "retro" else bert_names(c, cfg.is_cross_encoder)
    assert shapes(os.path.join(path, "model.safetensors")) == want
    assert all(t.dtype == dtype for t in load_file(os.path.join(path, "model.safetensors")).values())


@pytest.mark.parametrize("cca, tie", [([0], True), ([1, 3], False), ([0, 1, 2, 3], True)])
def test_exported_retro_names_follow_the_config(tmp_path, cca, tie):
    cfg = RetroConfig(vocab_size=50, d_model=16, n_layers=4, n_heads=2, d_ff=24, cca_layers=cca, encoder_layers=3,
                      encoder_n_heads=2, encoder_d_ff=20, tie_embeddings=tie)
    model = init_weights(Retro(cfg), seed=0, emb_std=0.5)
    for dtype in (torch.float32, torch.bfloat16):
        model.save_folder(str(tmp_path), dtype=dtype)
        assert shapes(os.path.join(tmp_path, "model.safetensors")) == retro_names(cfg.to_dict())
        back = Retro.from_folder(str(tmp_path))
        tokens = torch.arange(70)[None] % 50
        nb = torch.arange(2 * 7)[None, None].view(1, 1, 2, 7) % 50
        with torch.no_grad():
            want = model(tokens, nb) if dtype == torch.float32 else None
            got = back(tokens, nb)
        if want is not None:
            assert torch.equal(got, want)
