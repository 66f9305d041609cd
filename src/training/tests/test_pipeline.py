"""The training pipeline at tiny scale on CPU: a few steps of every stage, export, and the pieces (BPB, overlap
breakdown, neighbour files, sharded checkpoints, resume, configuration) against hand-computed cases."""

import json
import math
import os
import shutil
import types

import numpy as np
import pytest
import torch

import export
import neighbours as nbmod
import train_encoder
import train_reranker
import train_qa
import train_retro
from conftest import one_document_data
from common import (BpeTokenizer, configure, load_model, load_sharded, load_tokens, save_sharded, write_json)
from model import Bert, BertConfig, RetroConfig, from_folder
from pretokenize import make_tiny_corpus, pretokenize
from safetensors_io import load_file
from train_tokenizer import train_tokenizer

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(TRAINING, "config", "tiny_cpu.py")
FAST = ["--enc_steps=4", "--enc_mine_every=2", "--rr_steps=3", "--lm_steps=4", "--lm_eval_every=2",
        "--lm_ckpt_every=2", "--lm_final_eval_windows=6", "--squad_max_train_questions=150",
        "--squad_max_heldout_questions=40", "--rr_eval_max_questions=10", "--enc_eval_max_pairs=60",
        "--rr_max_corpus_queries=60"]


def cfg_for(defaults, run, *extra):
    return configure(defaults, [TINY, f"--out_dir={run}", *FAST, *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A complete tiny run: corpus, tokenizer, token files, encoder, neighbours, reranker, decoder, export."""
    root = tmp_path_factory.mktemp("run")
    run = str(root / "run")
    corpus = make_tiny_corpus(str(root / "corpus"), train_docs=24, validation_docs=6, max_chars=4000)
    os.makedirs(run)
    train_tokenizer(os.path.join(corpus, "train"), os.path.join(run, "tokenizer.json"), vocab=384, max_chars=20000)
    pretokenize(corpus, os.path.join(run, "tokenizer.json"), os.path.join(run, "tokens"))
    out = {"dir": run, "corpus": corpus}
    out["encoder"] = train_encoder.train(cfg_for(train_encoder.DEFAULTS, run))
    out["neighbours"] = nbmod.compute(cfg_for(nbmod.DEFAULTS, run))
    out["reranker"] = train_reranker.train(cfg_for(train_reranker.DEFAULTS, run))
    out["retro"] = train_retro.train(cfg_for(train_retro.DEFAULTS, run))
    export.export(run, os.path.join(run, "models"), "fp32")
    export.export(run, os.path.join(run, "models-bf16"), "bf16")
    return out


# -----------------------------------------------------------------------------
# end to end


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_metrics_files_have_the_expected_keys(run):
    enc, rr, lm = (json.load(open(os.path.join(run["dir"], s, "metrics.json"))) for s in
                   ("encoder", "reranker", "retro"))
    assert enc == run["encoder"] and rr == run["reranker"] and lm == run["retro"]
    for k in ("recall@1", "recall@10", "squad_ndcg@10", "steps", "wall_seconds", "hardware", "parameters"):
        assert k in enc, k
    assert all(finite(enc[k]) for k in ("recall@1", "recall@10", "squad_ndcg@10"))
    assert 0 <= enc["recall@1"] <= enc["recall@10"] <= 1
    for k in ("squad_ndcg@10_before", "squad_ndcg@10_after", "squad_recall@1_before", "squad_recall@1_after"):
        assert finite(rr[k]) and 0 <= rr[k] <= 1, k
    for k in ("bpb_closed_book", "bpb_retrieval", "bpb_relative_reduction", "eval_bytes", "tokens_seen"):
        assert finite(lm[k]), k
    assert [r["alpha"] for r in lm["leakage"]] == list(train_retro.ALPHAS)
    assert lm["leakage"][-1]["fraction"] == 1.0
    for r in lm["leakage"]:
        assert set(r) == {"alpha", "chunks", "fraction", "bpb_closed_book", "bpb_retrieval", "relative_reduction"}
    split = json.load(open(os.path.join(run["dir"], "encoder", "squad_split.json")))
    assert split["heldout_articles"] and not set(split["heldout_articles"]) & set(split["train_articles"])
    for stage in ("encoder", "reranker", "retro"):
        rows = open(os.path.join(run["dir"], stage, "loss.csv")).read().splitlines()
        assert rows[0] == "step,series,value,seconds" and len(rows) > 2


def test_exported_folders_load_and_match_the_trained_models(run):
    for name, ckpt in (("encoder", "encoder/ckpt"), ("reranker", "reranker/ckpt"), ("retro", "retro/model_ckpt")):
        trained, _ = load_model(os.path.join(run["dir"], ckpt))
        folder = os.path.join(run["dir"], "models", name)
        assert {"MODEL_CARD.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(folder))
        loaded = from_folder(folder)
        bf16 = from_folder(os.path.join(run["dir"], "models-bf16", name))
        assert load_file(os.path.join(run["dir"], "models-bf16", name, "model.safetensors"))[
            "tok_embeddings.weight" if name == "retro" else
            ("bert." if name == "reranker" else "") + "embeddings.word_embeddings.weight"].dtype == torch.bfloat16
        for k, v in trained.state_dict().items():
            assert torch.equal(loaded.state_dict()[k], v), k
        tok = BpeTokenizer.load(os.path.join(folder, "tokenizer.json"))
        ids = torch.tensor([[tok.eos_id] + tok.encode("The river froze early that year.") + [tok.eos_id]])
        with torch.no_grad():
            if name == "retro":
                x = torch.from_numpy(load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))
                                     ["tokens"][:140].copy())[None]
                nb = torch.randint(0, trained.config.vocab_size, (1, 2, 2, 128))
                a, b, c = trained(x, nb), loaded(x, nb), bf16(x, nb)
            elif name == "encoder":
                mask = torch.ones_like(ids)
                a, b, c = (m.embed(ids, mask) for m in (trained, loaded, bf16))
            else:
                mask, tt = torch.ones_like(ids), torch.zeros_like(ids)
                a, b, c = (m.score(ids, mask, tt) for m in (trained, loaded, bf16))
        assert torch.equal(a, b)
        assert float((a - c).abs().max() / a.abs().max()) < 5e-2, name
        card = open(os.path.join(folder, "MODEL_CARD.md"), encoding="utf-8").read()
        assert "## Reproduce" in card and "Data and licences" in card
    card = open(os.path.join(run["dir"], "models", "retro", "MODEL_CARD.md"), encoding="utf-8").read()
    assert f"bpb_closed_book: {run['retro']['bpb_closed_book']:.4f}" in card and "Leakage breakdown" in card
    cfg = json.load(open(os.path.join(run["dir"], "models", "encoder", "tokenizer.json")))
    assert cfg["post_processor"]["type"] == "TemplateProcessing"


def test_retrofit_trains_only_cca_and_the_encoder_and_keeps_closed_book_exact(run, tmp_path):
    """RETRO-fitting from the exported decoder: the body and embeddings stay bit-identical, CCA starts at o_proj = 0
    (so closed-book is the source model exactly, before and after), and every CCA/encoder tensor moves."""
    other = str(tmp_path / "fit")
    shutil.copytree(run["dir"], other, ignore=shutil.ignore_patterns("retro", "models*"))
    source = os.path.join(run["dir"], "models", "retro")
    metrics = train_retro.train(cfg_for(train_retro.DEFAULTS, other, f"--lm_init_from={source}", "--lm_train=retrofit",
                                        "--lm_cca_positions=rope", "--lm_lr=1e-2", "--lm_oracle_windows=2"))
    assert metrics["trained_parameters"] < metrics["parameters"]
    assert finite(metrics["oracle_loss_with_next_chunk"]) and finite(metrics["oracle_ratio"])
    before = from_folder(source)
    after, _ = load_model(os.path.join(other, "retro", "model_ckpt"))
    assert after.config.cca_positions == "rope"
    for (name, a), b in zip(after.state_dict().items(), before.state_dict().values()):
        moved = not torch.equal(a, b)
        assert moved == (".cca" in name or name.startswith("encoder.")) or name.endswith("cca_norm.bias"), name
    x = torch.from_numpy(load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))["tokens"][:140]
                         .astype(np.int64))[None]
    with torch.no_grad():
        assert torch.equal(after(x), before(x))  # closed-book: the source decoder, bit for bit


def test_retrofit_on_the_validation_tail_with_copy_init_never_reads_the_evaluation_part(run, tmp_path):
    """lm_fit_split "validation-tail": the fitting windows lie after the evaluation part (cut at a document
    boundary); lm_cca_init "copy" starts CCA reading the aligned continuation, so the oracle test is below
    closed-book before any step (only a little with this 4-step model's tiny embeddings: 0.93; the H200 decoder's
    is 0.17, docs/training.md; test_retro checks the mechanism with full-size embeddings)."""
    cfg = cfg_for(train_retro.DEFAULTS, run["dir"], "--lm_fit_split=validation-tail", "--lm_final_eval_windows=2")
    db = load_tokens(os.path.join(run["dir"], "tokens", "train.safetensors"))
    fit, ev = train_retro.fit_and_eval_data(cfg, db)
    val = load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))
    m, T = cfg["chunk_size"], cfg["lm_seq_len"]
    n_ev, n_fit = len(ev.tokens), len(fit.tokens)
    assert n_ev >= 2 * T and n_ev % m == 0 and n_ev + n_fit <= len(val["tokens"])
    first_fit = len(val["tokens"]) // m * m - n_fit
    assert first_fit >= n_ev and np.array_equal(val["tokens"][first_fit:first_fit + n_fit], fit.tokens)
    offs = np.asarray(val["doc_offsets"])
    doc = lambda t: int(np.searchsorted(offs, t, side="right")) - 1  # noqa: E731 - the document holding token t
    assert doc(first_fit) > doc(n_ev - 1) and len(fit.starts_allowed)  # no document in both parts
    other = str(tmp_path / "fit")
    shutil.copytree(run["dir"], other, ignore=shutil.ignore_patterns("retro", "models*"))
    source = os.path.join(run["dir"], "models", "retro")
    metrics = train_retro.train(cfg_for(train_retro.DEFAULTS, other, f"--lm_init_from={source}", "--lm_train=retrofit",
                                        "--lm_cca_positions=rope", "--lm_cca_init=copy", "--lm_steps=0",
                                        "--lm_fit_split=validation-tail", "--lm_final_eval_windows=2",
                                        "--lm_oracle_windows=2"))
    assert metrics["oracle_ratio"] < 0.97, metrics["oracle_ratio"]
    assert "leakage_above" in metrics
    # eval_retro.py measures any decoder folder the same way, on the same evaluation part
    import eval_retro
    out = str(tmp_path / "eval.json")
    ev = eval_retro.run(configure({**train_retro.DEFAULTS, **eval_retro.DEFAULTS},
                                  [TINY, f"--out_dir={other}", *FAST, f"--eval_model={os.path.join(other, 'retro', 'model_ckpt')}",
                                   f"--eval_out={out}", "--lm_fit_split=validation-tail", "--lm_final_eval_windows=2",
                                   "--lm_oracle_windows=2"]))
    assert json.load(open(out))["bpb_retrieval"] == ev["bpb_retrieval"]
    assert abs(ev["bpb_retrieval"] - metrics["bpb_retrieval"]) < 1e-6 and ev["eval_windows"] == metrics["eval_windows"]


def test_validation_spans_sample_every_part_and_keep_documents_apart():
    """lm_fit_split "validation-spans": documents gathered into spans of >= 3 T + r tokens, every third span is
    evaluation; evaluation windows lie inside one evaluation span with their look-ahead; fitting windows (with a
    chunk before and two after) touch no evaluation document and no held-out entry; documents never straddle."""
    m, T, r = 4, 8, 8  # spans of >= 32 tokens
    lengths = [10, 30, 5, 40, 7, 7, 7, 7, 7, 50, 3, 30, 30, 30, 12, 40]
    offs = np.concatenate([[0], np.cumsum(lengths)])
    assert train_retro.document_spans(offs, 32).tolist() == [0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4, 5, 5, 6, 6]
    held = np.zeros(len(lengths), bool)
    held[12] = True  # a held-out entry in a fitting span
    ev, fit = train_retro.split_by_spans(offs, held, int(offs[-1]), m, T, r)
    spans = train_retro.document_spans(offs, 3 * T + r)
    doc = lambda t: int(np.searchsorted(offs, t, side="right")) - 1  # noqa: E731 - the document holding token t
    eval_docs = {d for d in range(len(lengths)) if spans[d] % 3 == 0}
    assert len(ev) and len(fit)
    for c in ev:
        docs = {doc(t) for t in range(c * m, c * m + T + r)}
        assert docs <= eval_docs and len({spans[d] for d in docs}) == 1
    assert all(b - a >= T // m for a, b in zip(ev, ev[1:]))  # windows do not overlap
    assert {spans[doc(c * m)] for c in ev} == {0, 3, 6}  # every evaluation span that can hold a window has some
    for c in fit:
        docs = {doc(t) for t in range(max(0, (c - 1) * m), min(int(offs[-1]), (c + T // m + 3) * m))}
        assert not docs & eval_docs and 12 not in docs
    # every start that satisfies that is taken (nothing fittable is thrown away)
    C = int(offs[-1]) // m
    ok = [c for c in range(1, C - T // m - 2)
          if not {doc(t) for t in range((c - 1) * m, (c + T // m + 3) * m)} & (eval_docs | {12})]
    assert fit.tolist() == ok
    # evaluation windows are spread over all of them when fewer are asked for
    data = types.SimpleNamespace(eval_starts=np.arange(0, 100, 2), tokens=np.zeros(400), m=m)
    assert train_retro.window_starts(data, T, 3, 0).tolist() == [0, 48, 98]
    assert len(train_retro.window_starts(data, T, 500, 0)) == 50
    plain = types.SimpleNamespace(tokens=np.zeros(100), m=m)  # the head at stride T (the other splits)
    assert train_retro.window_starts(plain, T, 4, 0).tolist() == [0, 2, 4, 6]
    assert train_retro.window_starts(plain, T, 100, 8).tolist() == list(range(0, 21, 2))


def test_retrofit_and_eval_on_validation_spans(run, tmp_path):
    """The span split through train_retro and eval_retro: both score the same evaluation windows (the spans'), the
    steps draw only fitting windows."""
    other = str(tmp_path / "fit")
    shutil.copytree(run["dir"], other, ignore=shutil.ignore_patterns("retro", "models*"))
    args = ["--lm_fit_split=validation-spans", "--lm_final_eval_windows=3", "--lm_oracle_windows=2"]
    cfg = cfg_for(train_retro.DEFAULTS, other, *args)
    fit, ev = train_retro.fit_and_eval_data(cfg, load_tokens(os.path.join(other, "tokens", "train.safetensors")))
    assert len(ev.eval_starts) and not set(ev.eval_starts) & set(fit.starts_allowed)
    assert set(fit.pick_starts(np.random.default_rng(0), 50, cfg["lm_seq_len"], 1)) <= set(fit.starts_allowed)
    source = os.path.join(run["dir"], "models", "retro")
    metrics = train_retro.train(cfg_for(train_retro.DEFAULTS, other, f"--lm_init_from={source}", "--lm_steps=2",
                                        "--lm_train=retrofit", "--lm_cca_positions=rope", *args))
    assert metrics["eval_windows"] == min(3, len(ev.eval_starts)) and finite(metrics["oracle_ratio"])
    import eval_retro
    out = eval_retro.run(configure({**train_retro.DEFAULTS, **eval_retro.DEFAULTS},
                                   [TINY, f"--out_dir={other}", *FAST, *args, f"--eval_out={tmp_path / 'e.json'}",
                                    f"--eval_model={os.path.join(other, 'retro', 'model_ckpt')}"]))
    assert abs(out["bpb_retrieval"] - metrics["bpb_retrieval"]) < 1e-6 and out["lm_fit_split"] == "validation-spans"
    # the gate sweep: gate 0 is the plain evaluation; a gate of 1 reads only whole repeats; fitting windows are
    # whole fitting windows, never overlapping each other
    sweep = eval_retro.run(configure({**train_retro.DEFAULTS, **eval_retro.DEFAULTS},
                                     [TINY, f"--out_dir={other}", *FAST, *args, "--eval_gates=0,1",
                                      f"--eval_model={os.path.join(other, 'retro', 'model_ckpt')}"]))
    g0, g1 = sweep["gates"]
    assert abs(g0["bpb_retrieval"] - metrics["bpb_retrieval"]) < 1e-6 and g0["neighbours_gated"] == 0
    assert abs(g0["bpb_closed_book"] - metrics["bpb_closed_book"]) < 1e-6 and g1["neighbours_gated"] > 0.5
    for got, want in zip(g0["leakage"] + g0["leakage_above"], metrics["leakage"] + metrics["leakage_above"]):
        assert got["chunks"] == want["chunks"]
        assert got["bpb_retrieval"] == want["bpb_retrieval"] or abs(got["bpb_retrieval"] - want["bpb_retrieval"]) < 1e-6
    fw = eval_retro.fitting_windows(fit, cfg["lm_seq_len"])
    U = cfg["lm_seq_len"] // cfg["chunk_size"]
    assert set(fw.eval_starts) <= set(fit.starts_allowed) and (np.diff(fw.eval_starts) >= U).all()
    on_fit = eval_retro.run(configure({**train_retro.DEFAULTS, **eval_retro.DEFAULTS},
                                      [TINY, f"--out_dir={other}", *FAST, *args, "--eval_gates=0", "--eval_part=fitting",
                                       f"--eval_model={os.path.join(other, 'retro', 'model_ckpt')}"]))
    assert on_fit["eval_part"] == "fitting" and on_fit["windows"] == min(3, len(fw.eval_starts))


@pytest.mark.parametrize("sink", [False, True])
def test_induction_reading_trains_only_the_queries_and_keys_of_its_layer(run, tmp_path, sink):
    """lm_induction_layers + lm_train "reading": the previous-token encoder layer and the fitted read-outs are set
    up before training (their R^2 is recorded), shifted-oracle neighbours feed the steps, and nothing but layer
    3's CCA queries and keys moves (and, with lm_cca_sink, every CCA layer's sinks, added to a source without them
    at lm_sink_init): every other tensor equals a 0-step run's, closed-book equals the source."""
    source = os.path.join(run["dir"], "models", "retro")
    args = [f"--lm_init_from={source}", "--lm_cca_positions=rope", "--lm_cca_init=copy", "--lm_induction_layers=[3]",
            "--lm_train=reading", "--lm_fit_split=validation-tail", "--lm_final_eval_windows=2",
            "--lm_oracle_windows=0", "--lm_shift_oracle_frac=0.5", "--lm_induction_fit_windows=2"]
    if sink:
        args += ["--lm_cca_sink=True", "--lm_sink_init=1.5"]
    models = {}
    for steps in (0, 3):
        other = str(tmp_path / f"s{steps}")
        shutil.copytree(run["dir"], other, ignore=shutil.ignore_patterns("retro", "models*"))
        metrics = train_retro.train(cfg_for(train_retro.DEFAULTS, other, *args, f"--lm_steps={steps}"))
        assert set(metrics["induction_read_out_r2"]) == {"3"}
        models[steps] = load_model(os.path.join(other, "retro", "model_ckpt"))[0]
    before, after = models[0].state_dict(), models[3].state_dict()
    moved = {n for n in before if not torch.equal(before[n], after[n])}
    sinks = {n for n in before if n.endswith(".cca.sink")}
    assert sinks == ({f"layers.{i}.cca.sink" for i in models[0].config.cca_layers} if sink else set())
    live = set()
    assert all(float(before[n].min()) == float(before[n].max()) == 1.5 for n in sinks)
    # a sink moves where its layer's reading reaches the residual (a CCA layer with o_proj = 0 gives it no gradient)
    live = {n for n in sinks if before[n.replace(".sink", ".o_proj.weight")].abs().max() > 0}
    assert bool(live) == sink and moved == {"layers.3.cca.q_proj.weight", "layers.3.cca.k_proj.weight"} | live, moved
    src = from_folder(source)
    x = torch.from_numpy(load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))["tokens"][:128]
                         .astype(np.int64))[None]
    with torch.no_grad():
        assert torch.allclose(models[3](x), src(x), atol=1e-5)


def test_reading_values_pass_continues_a_stage_checkpoint_in_its_own_folder(run, tmp_path):
    """lm_stage + lm_train "reading-values" (config/reread_cpu.py): a pass over an earlier stage's model_ckpt (fp32
    shards) with CCA kept as it was writes <out_dir>/<lm_stage>/, leaves the earlier stage's folder alone, and moves
    only the queries, keys, values and outputs of its reading layer and the live sinks; closed-book is unchanged."""
    source = os.path.join(run["dir"], "models", "retro")
    other = str(tmp_path / "fit")
    shutil.copytree(run["dir"], other, ignore=shutil.ignore_patterns("retro", "models*"))
    common = ["--lm_cca_positions=rope", "--lm_fit_split=validation-tail", "--lm_final_eval_windows=2",
              "--lm_oracle_windows=0"]
    train_retro.train(cfg_for(train_retro.DEFAULTS, other, f"--lm_init_from={source}", "--lm_cca_init=copy",
                              "--lm_induction_layers=[3]", "--lm_train=reading", "--lm_induction_fit_windows=2",
                              "--lm_cca_sink=True", "--lm_sink_init=1.5", "--lm_steps=0", *common))
    first = os.path.join(other, "retro", "model_ckpt")
    stamp = {f: os.path.getmtime(os.path.join(first, f)) for f in os.listdir(first)}
    metrics = train_retro.train(cfg_for(train_retro.DEFAULTS, other, f"--lm_init_from={first}", "--lm_stage=reread",
                                        "--lm_reinit_cca=False", "--lm_induction_layers=[]",
                                        "--lm_train=reading-values", "--lm_reading_layers=[3]",
                                        "--lm_shift_oracle_frac=0.5", "--lm_steps=3", *common))
    assert metrics["steps"] == 3 and os.path.exists(os.path.join(other, "reread", "metrics.json"))
    assert {f: os.path.getmtime(os.path.join(first, f)) for f in os.listdir(first)} == stamp
    before = load_model(first)[0]
    after = load_model(os.path.join(other, "reread", "model_ckpt"))[0]
    b, a = before.state_dict(), after.state_dict()
    moved = {n for n in b if not torch.equal(b[n], a[n])}
    live = {n for n in b if n.endswith(".cca.sink") and b[n.replace(".sink", ".o_proj.weight")].abs().max() > 0}
    projections = {f"layers.3.cca.{p}_proj.weight" for p in ("q", "k", "v", "o")}
    assert live and moved == projections | live, moved
    x = torch.from_numpy(load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))["tokens"][:128]
                         .astype(np.int64))[None]
    with torch.no_grad():
        assert torch.equal(after(x), before(x))
    with pytest.raises(SystemExit, match="lm_stage"):
        train_retro.train(cfg_for(train_retro.DEFAULTS, other, "--lm_stage=../elsewhere", *common))
    with pytest.raises(SystemExit, match="reading-values"):
        train_retro.trainable(after, "values")


def test_induction_read_outs_are_fitted_on_allowed_windows_only(run):
    """The read-outs are fitted on windows of the fitting text that touch no held-out document."""
    source = os.path.join(run["dir"], "models", "retro")
    cfg = cfg_for(train_retro.DEFAULTS, run["dir"], f"--lm_init_from={source}", "--lm_cca_positions=rope",
                  "--lm_cca_init=copy", "--lm_induction_layers=[3]", "--lm_fit_split=validation-tail",
                  "--lm_final_eval_windows=2", "--lm_induction_fit_windows=8")
    fit, _ = train_retro.fit_and_eval_data(cfg, load_tokens(os.path.join(run["dir"], "tokens", "train.safetensors")))
    fit.starts_allowed = fit.starts_allowed[1::2][:3]  # as if the others touched held-out entries
    seen, batch = [], fit.batch
    fit.batch = lambda starts, T, device: (seen.extend(int(c) for c in starts), batch(starts, T, device))[1]
    model = train_retro.build_model(cfg, from_folder(source).config.vocab_size, 0)
    train_retro.init_induction(cfg, model, fit)
    assert sorted(seen) == sorted(int(c) for c in fit.starts_allowed)


def test_shifted_oracle_puts_the_window_stream_at_an_offset_in_neighbour_0():
    tokens = np.arange(1000, dtype=np.int64)
    db = {"tokens": np.arange(640, dtype=np.int64) + 5000, "doc_offsets": np.array([0, 640])}
    data = train_retro.Data(tokens, np.zeros((1000 // 8, 2), np.int64), db, 8, 16)
    starts = [3, 40]
    _, _, nb = data.batch(starts, 32, "cpu")
    out = data.with_shifted_oracle(starts, nb, 1.0, 5, np.random.default_rng(0))
    for b, c0 in enumerate(starts):
        for u in range(4):
            row = out[b, u, 0].numpy()
            assert np.array_equal(row, np.arange(row[0], row[0] + 16))  # a run of the window's own stream
            assert abs(int(row[0]) - (c0 * 8 + u * 8)) <= 5
            assert c0 * 8 <= row[0] and row[-1] < c0 * 8 + 32 + 8  # inside the window and its target chunk
            assert torch.equal(out[b, u, 1], nb[b, u, 1])  # the other neighbour is untouched
    assert data.with_shifted_oracle(starts, nb, 0.0, 5, np.random.default_rng(0)) is nb


def _qa_lines(run, n=12, dataset="definitions-train"):
    """qa-data lines (as Retro.Eval writes them) made from the tiny run's validation tokens."""
    toks = load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))["tokens"].astype(np.int64)
    lines = []
    for i in range(n):
        s = 7 * i
        q, a = toks[s:s + 9].tolist(), toks[s + 9:s + 20].tolist()
        url = next(f"foldoc:t{i}-{j}" for j in range(100) if not train_qa.held_out_definition(f"foldoc:t{i}-{j}"))
        lines.append({"dataset": dataset, "id": url, "question": "q", "answer": "a", "gold": url,
                      "question_tokens": q, "answer_tokens": a, "hit": True,
                      "neighbours": [toks[s:s + 128].tolist(), toks[s + 300:s + 400].tolist()]})
    return lines


def test_qa_lines_become_the_service_prompt_format():
    line = {"question_tokens": [5, 6, 7], "answer_tokens": [8, 9], "neighbours": [[1, 2, 3], [4]]}
    x, y, nb = train_qa.encode_line(line, m=8, r=6, k=2, pad_id=0, eos_id=0, max_q=8, max_a=5, layout="chunk")
    assert x.tolist() == [0, 0, 0, 0, 0, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0]  # left-padded question fills chunk 0
    assert y.tolist() == [-1] * 7 + [8, 9, 0] + [-1] * 6  # loss on the answer and the end token only
    assert nb[0].tolist() == [[1, 2, 3, -1, -1, -1], [4, -1, -1, -1, -1, -1]] and (nb[1] == -1).all()
    # the answer layout (RetroGenerator's for a model with question_layout "answer"): the question chunk, then the
    # neighbour, cut to r
    _, _, nb = train_qa.encode_line(line, m=8, r=12, k=1, pad_id=0, eos_id=0, max_q=8, max_a=5)
    assert nb.shape == (2, 1, 12) and nb[0, 0].tolist() == [0, 0, 0, 0, 0, 5, 6, 7, 1, 2, 3, -1]
    assert train_qa.encode_line({**line, "question_tokens": list(range(9))}, 8, 6, 2, 0, 0, 8, 5) is None
    cut = train_qa.encode_line({**line, "answer_tokens": list(range(1, 9))}, 8, 6, 2, 0, 0, 8, 5)
    assert cut[1].tolist()[7:13] == [1, 2, 3, 4, 5, -1]  # cut answers have no end token


def test_passage_targets_read_the_first_chunk_of_a_relevant_entry_to_its_first_sentence():
    decode = lambda ids: "".join(map(chr, ids))  # noqa: E731 - one token per character
    enc = lambda text: [ord(ch) for ch in text]  # noqa: E731
    assert train_qa.headword("foldoc:control%20code") == "control code" and train_qa.headword("squad:x") is None
    assert train_qa.headword("wordnet:rock_pigeon") == "rock pigeon"
    entry = "control code\n\n<character> A {character code} for a control character. More text follows here."
    line = {"dataset": "definitions-train", "gold": "foldoc:control%20code", "relevant_docs": ["foldoc:control%20code"],
            "neighbour_docs": ["foldoc:control%20code"], "neighbours": [enc(entry)], "answer_tokens": [1]}
    toks, ended = train_qa.passage_answer(line, decode, visible=200)
    assert decode(toks) == "control code\n\n<character> A {character code} for a control character." and ended
    toks, ended = train_qa.passage_answer(line, decode, visible=30)  # the sentence runs past the visible part
    assert decode(toks) == entry[:30] and not ended
    wordnet = "toga\n\n1. noun: a one-piece cloak worn by men in ancient Rome; \"he wore a toga\""
    wn = {**line, "gold": "wordnet:toga", "relevant_docs": ["wordnet:toga"], "neighbour_docs": ["wordnet:toga"],
          "neighbours": [enc(wordnet)]}
    assert decode(train_qa.passage_answer(wn, decode, 200)[0]) == "toga\n\n1. noun: a one-piece cloak worn by men in ancient Rome"
    short = {**wn, "neighbours": [enc("toga\n\n1. noun: a cloak")]}  # the entry ends inside the visible part
    assert train_qa.passage_answer(short, decode, 200) == (enc("toga\n\n1. noun: a cloak"), True)
    jargon = "adware\n\nn.\n\n Software which is free to download, e.g. a game. See also {-ware}."
    jg = {**line, "gold": "jargon:adware", "relevant_docs": ["jargon:adware"], "neighbour_docs": ["jargon:adware"],
          "neighbours": [enc(jargon)]}  # neither the part of speech on its own line nor "e.g." ends the sentence
    assert decode(train_qa.passage_answer(jg, decode, 200)[0]) == jargon[:jargon.index("game.") + 5]
    assert train_qa.passage_answer({**line, "neighbour_docs": ["foldoc:other"]}, decode, 200) is None  # irrelevant
    assert train_qa.passage_answer({**line, "neighbours": [enc("a middle chunk. Of it.")]}, decode, 200) is None
    out = train_qa.passage_lines([line, {**line, "dataset": "squad-train"}], decode, 200)
    assert len(out) == 1 and out[0]["answer_tokens"] == enc(entry[:entry.index(".") + 1])
    # the answer ends with the end token only when its sentence ended inside the neighbour's visible part
    short_line = {**out[0], "question_tokens": [5, 6], "answer_tokens": [1, 2, 3]}
    targets = [(train_qa.encode_line({**short_line, "passage_answer_ended": e}, m=8, r=16, k=1, pad_id=0, eos_id=0,
                                     max_q=8, max_a=99)[1] >= 0).sum() for e in (True, False)]
    assert targets == [4, 3]


def test_qa_train_modes_choose_what_trains(run):
    model = from_folder(os.path.join(run["dir"], "models", "retro"))
    cfg = {"qa_weight_decay": 0.1, "qa_body_lr_ratio": 0.3}
    for mode, trains_new, trains_body in (("all", True, True), ("retrofit", True, False), ("body", False, True)):
        groups = train_qa.param_groups(model, {**cfg, "qa_train": mode})
        for name, p in model.named_parameters():
            new = ".cca" in name or name.startswith("encoder.")
            assert p.requires_grad == (trains_new if new else trains_body), (mode, name)
        assert {g["lr_scale"] for g in groups} == ({1.0, 0.3} if mode == "all" else {1.0})
    with pytest.raises(SystemExit):
        train_qa.param_groups(model, {**cfg, "qa_train": "cca"})


def test_qa_training_refuses_held_out_entries_and_trains(run, tmp_path):
    lines = _qa_lines(run)
    held = next(f"wordnet:h{j}" for j in range(100) if train_qa.held_out_definition(f"wordnet:h{j}"))
    with pytest.raises(SystemExit, match="held-out definition"):
        train_qa.check_held_out(lines + [{**lines[0], "gold": held}])
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    source = os.path.join(run["dir"], "models", "retro")
    metrics = train_qa.train(configure(train_qa.DEFAULTS, [TINY, f"--out_dir={run['dir']}", f"--qa_data={data}",
                                                             f"--qa_init_from={source}", "--qa_steps=3",
                                                             "--qa_batch=4", "--qa_val_lines=2", "--qa_eval_every=0",
                                                             "--qa_lm_seq_len=128"]))
    assert metrics["train_questions"] == 10 and metrics["validation_questions"] == 2 and metrics["lm_rows"] == 1
    assert metrics["config"]["lm_neighbour_min_match"] == 0.0  # the LM rows' gate is on the card
    assert finite(metrics["val_answer_loss_retrieval"]) and finite(metrics["val_answer_loss_closed_book"])
    trained, _ = load_model(os.path.join(run["dir"], "qa", "model_ckpt"))
    assert trained.config.cca_positions == from_folder(source).config.cca_positions


def test_qa_lm_rows_read_through_the_gate_the_config_sets(run):
    """--lm_neighbour_min_match reaches the QA stage's LM rows (a key train_qa did not know was dropped silently as
    another stage's), for both LM splits."""
    for split in ("train", "fit"):
        cfg = configure(train_qa.DEFAULTS, [TINY, f"--out_dir={run['dir']}", f"--qa_lm_split={split}",
                                            "--lm_fit_split=validation-spans", "--lm_neighbour_min_match=0.125"])
        lm = train_qa.lm_rows_data(cfg)
        assert lm.min_match == 0.125
        assert train_qa.lm_rows_data({**cfg, "lm_neighbour_min_match": 0.0}).min_match == 0.0


def test_the_decoder_card_says_the_gate_it_was_measured_with(run, tmp_path):
    """A gated evaluation (eval/retro.json with neighbour_min_match) puts the gate and the share read on the card."""
    dst = tmp_path / "run"
    os.makedirs(dst / "qa")
    shutil.copytree(os.path.join(run["dir"], "retro", "model_ckpt"), dst / "qa" / "model_ckpt")
    shutil.copyfile(os.path.join(run["dir"], "tokenizer.json"), dst / "tokenizer.json")
    ev = {"bpb_closed_book": 1.2, "bpb_retrieval": 1.1, "bpb_relative_reduction": 0.083, "eval_tokens": 512,
          "oracle_loss_with_next_chunk": 1.0, "oracle_loss_closed_book": 3.0, "oracle_ratio": 1 / 3,
          "neighbour_min_match": 0.125, "neighbours_gated": 0.75, "lm_fit_split": "validation-spans",
          "leakage_above": [{"above": 0.5, "chunks": 3, "bpb_closed_book": 0.8, "bpb_retrieval": 0.4}]}
    write_json(str(dst / "eval" / "retro.json"), ev)
    export.export(str(dst), str(tmp_path / "models"), "fp32", retro_stage="qa", only=["retro"])
    text = (tmp_path / "models" / "retro" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "neighbours read through the gate (neighbour_match ≥ 0.125" in text and "25.0 % of those retrieved" in text
    write_json(str(dst / "eval" / "retro.json"), {**ev, "neighbour_min_match": 0.0, "neighbours_gated": 0.0})
    export.export(str(dst), str(tmp_path / "models2"), "fp32", retro_stage="qa", only=["retro"])
    assert "through the gate" not in (tmp_path / "models2" / "retro" / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_reranker_groups_from_the_product_first_stage(tmp_path):
    lines = [
        {"question_tokens": [1, 2], "gold": "a", "relevant_docs": ["a", "a2"],
         "candidates": [{"doc": "b", "tokens": [5]}, {"doc": "a2", "tokens": [6]}, {"doc": "c", "tokens": [7]},
                        {"doc": "a", "tokens": [8]}, {"doc": "d", "tokens": [9]}]},
        {"question_tokens": [3], "gold": "x", "candidates": [{"doc": "y", "tokens": [1]}, {"doc": "z", "tokens": [2]}]},
        {"question_tokens": [4], "gold": "x", "candidates": [{"doc": "x", "tokens": [1]}]},
    ]
    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    groups, skipped, datasets = train_reranker.product_groups(str(path), 2)
    # the first relevant candidate is the positive (a sibling entry of the term counts), others in order negatives
    assert groups == [([1, 2], [[6], [5], [7]])] and skipped == 2 and datasets == [""]


def test_reranker_fusion_orders_as_the_service_does():
    # the C# test Rerank_weight_fuses_the_cross_encoder_rank_with_the_first_stage_rank: first stage 0, 1, 2;
    # cross-encoder scores 5, 12, 21; RRF k = 1
    orders = {w: train_reranker.fused_order([5.0, 12.0, 21.0], w, 1) for w in (0.0, 0.45, 0.7, 1.0)}
    assert orders == {0.0: [0, 1, 2], 0.45: [0, 2, 1], 0.7: [2, 1, 0], 1.0: [2, 1, 0]}
    # ties keep the first stage's order
    assert train_reranker.fused_order([1.0, 1.0, 1.0], 1.0, 10) == [0, 1, 2]
    # ranks are of distinct documents: a second chunk of a document ranked above does not count
    assert train_reranker.doc_rank(["b", "b", "c", "a"], {"a"}) == 2
    assert train_reranker.doc_rank(["b", "c"], {"a"}) is None


def test_reranker_tuning_lines_stay_out_of_training_and_choose_the_weight():
    lines = []
    for i in range(400):
        # the first stage puts the relevant document third; the "cross-encoder" below scores it first
        cands = [{"doc": f"n{i}a", "tokens": [1]}, {"doc": f"n{i}b", "tokens": [2]}, {"doc": f"r{i}", "tokens": [9]},
                 {"doc": f"n{i}c", "tokens": [3]}]
        lines.append({"dataset": "squad-train" if i % 2 else "definitions-train", "id": str(i),
                      "question_tokens": [4], "gold": f"r{i}", "candidates": cands})
    tuning = [ln for ln in lines if train_reranker.is_tuning(ln, 0.25)]
    assert 60 < len(tuning) < 140
    assert tuning == [ln for ln in lines if train_reranker.is_tuning(dict(ln), 0.25)]  # stable
    groups, skipped, datasets = train_reranker.product_groups("", 3, 0.25, lines)
    assert len(groups) + len(tuning) == len(lines) and skipped == 0
    assert {tuple(map(str, g[1][0])) for g in groups} == {("9",)}

    class FirstToken(torch.nn.Module):
        def score(self, ids, mask, types):  # the candidate's first token (after `S q S`) as the score
            return ids[:, 3].float()

    cfg = {"rr_weights": "0,0.5,1", "rr_fusion_k": 10, "rr_max_len": 32, "dtype": "float32"}
    out = train_reranker.tune_fusion(FirstToken(), tuning, cfg, "cpu", 0)
    # w = 0.5 already ranks the relevant candidate first (k = 10: 0.5/13 + 0.5/11 > 0.5/11 + 0.5/14): the smallest
    # weight of the best mean nDCG@10 wins
    assert out["rerank_weight"] == 0.5
    for t in out["tuning"].values():
        assert t["first"]["recall@1"] == 0.0 and t["1.0"]["recall@1"] == 1.0 and t["0.5"]["recall@1"] == 1.0
        assert abs(t["first"]["ndcg@10"] - 0.5) < 1e-9

    class FirstStage(torch.nn.Module):
        def score(self, ids, mask, types):  # agrees with the first stage: every weight ranks alike
            return -torch.arange(len(ids), dtype=torch.float32)

    assert train_reranker.tune_fusion(FirstStage(), tuning, cfg, "cpu", 0)["rerank_weight"] == 0.0


def test_neighbour_files_exclude_the_documents_they_condition(run):
    m = 64
    db = load_tokens(os.path.join(run["dir"], "tokens", "train.safetensors"))
    idx, scores, meta = nbmod.load_neighbours(os.path.join(run["dir"], "neighbours", "train.safetensors"))
    C = len(db["tokens"]) // m
    assert idx.shape == (C, 2) and meta["k"] == "2" and meta["exclude"] == "own-documents"
    assert ((idx >= -1) & (idx < C)).all() and (idx[:, 0] >= 0).all()
    assert (scores[:, 0] >= scores[:, 1]).all()
    first, _ = nbmod.chunk_docs(db["doc_offsets"], len(db["tokens"]), m)
    lo, hi = nbmod.exclusion_ranges(db["doc_offsets"], len(db["tokens"]), m)
    d = first[idx]
    assert not ((d >= lo[:, None]) & (d <= hi[:, None]) & (idx >= 0)).any()
    val = nbmod.load_neighbours(os.path.join(run["dir"], "neighbours", "validation.safetensors"))[0]
    assert len(val) == len(load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))["tokens"]) // m


def test_token_files_decode_to_the_corpus(run):
    tok = BpeTokenizer.load(os.path.join(run["dir"], "tokenizer.json"))
    data = load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))
    from common import iter_shard_documents
    docs = list(iter_shard_documents(os.path.join(run["corpus"], "validation")))
    offs = data["doc_offsets"]
    assert len(offs) == len(docs) + 1 and offs[-1] == len(data["tokens"])
    for i, d in enumerate(docs):
        ids = data["tokens"][offs[i]:offs[i + 1]]
        assert ids[-1] == tok.eos_id and tok.decode(ids[:-1]) == d["text"]
    assert int(data["meta"]["bytes"]) == sum(len(d["text"].encode()) + 1 for d in docs)
    assert tok.token_byte_lengths()[data["tokens"]].sum() == int(data["meta"]["bytes"])


def test_checkpoints_are_small_files_and_resume_reproduces_the_uninterrupted_run(run, tmp_path):
    ckpt = os.path.join(run["dir"], "retro", "ckpt")
    for f in os.listdir(ckpt):
        assert os.path.getsize(os.path.join(ckpt, f)) <= 16 * 1024 * 1024
    other = str(tmp_path / "resumed")
    os.makedirs(other)
    for item in ("tokenizer.json", "tokens", "neighbours"):
        src = os.path.join(run["dir"], item)
        (shutil.copytree if os.path.isdir(src) else shutil.copyfile)(src, os.path.join(other, item))
    assert train_retro.train(cfg_for(train_retro.DEFAULTS, other, "--lm_max_steps_this_run=3")) is None
    assert load_sharded(os.path.join(other, "retro", "ckpt"))[1]["step"] == 3
    train_retro.train(cfg_for(train_retro.DEFAULTS, other, "--lm_resume=True"))
    a, _ = load_sharded(os.path.join(run["dir"], "retro", "model_ckpt"))
    b, _ = load_sharded(os.path.join(other, "retro", "model_ckpt"))
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), k


# -----------------------------------------------------------------------------
# loss goes down on a repeated batch (each model's real training step)


def _descends(step_fn, params, steps=25, lr=2e-3):
    opt = torch.optim.AdamW(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = step_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_bi_encoder_loss_decreases_on_a_repeated_batch():
    torch.manual_seed(0)
    model = train_encoder.init_bert(Bert(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64,
                                                    max_position_embeddings=32)))
    pairs = type("P", (), {})()
    g = torch.Generator().manual_seed(1)
    pairs.queries = [torch.randint(1, 50, (6,), generator=g).tolist() for _ in range(8)]
    pairs.positives = [torch.randint(1, 50, (9,), generator=g).tolist() for _ in range(8)]
    pairs.groups = list(range(8))
    hard = {0: torch.randint(1, 50, (9,), generator=g).tolist()}
    cfg = {"dtype": "float32", "enc_temperature": 0.05}
    losses = _descends(lambda: train_encoder.contrastive_step(model, pairs, np.arange(8), hard, 0, 16, cfg, "cpu"),
                       model.parameters())
    assert losses[-1] < 0.3 * losses[0], losses


def test_info_nce_masks_same_group_negatives_and_uses_hard_negatives():
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    p = q.clone()
    # same group: the other positive is not a negative -> each row has only its positive: loss 0
    assert train_encoder.info_nce(q, p, ["a", "a"], 0.1).item() == pytest.approx(0.0, abs=1e-6)
    t = 1.0
    expect = -math.log(math.exp(1 / t) / (math.exp(1 / t) + math.exp(0)))
    assert train_encoder.info_nce(q, p, ["a", "b"], t).item() == pytest.approx(expect, rel=1e-5)
    hard = torch.tensor([[1.0, 0.0]])  # equals q0: a hard negative as good as the positive for row 0
    e = math.e
    row0 = -math.log(e / (2 * e + 1))  # positive, the other positive (0), the hard negative (= positive)
    row1 = -math.log(e / (e + 2))  # positive, the other positive (0), the hard negative (0)
    assert train_encoder.info_nce(q, p, ["a", "b"], t, hard).item() == pytest.approx((row0 + row1) / 2, rel=1e-5)


def test_cross_encoder_loss_decreases_on_a_repeated_batch():
    torch.manual_seed(0)
    enc = Bert(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=64, max_position_embeddings=64))
    model = train_reranker.cross_from_encoder(enc)
    for k, v in enc.state_dict().items():
        if not k.startswith("pooler."):
            assert torch.equal(model.state_dict()[k], v)
    g = torch.Generator().manual_seed(2)
    batch = [(torch.randint(1, 50, (5,), generator=g).tolist(),
              [torch.randint(1, 50, (8,), generator=g).tolist() for _ in range(4)]) for _ in range(4)]
    cfg = {"dtype": "float32", "rr_max_len": 32}
    losses = _descends(lambda: train_reranker.listwise_step(model, batch, 0, cfg, "cpu", 4), model.parameters())
    assert losses[-1] < 0.3 * losses[0], losses


def test_retro_loss_decreases_on_a_repeated_batch_with_neighbours():
    torch.manual_seed(0)
    cfg = configure(train_retro.DEFAULTS, [TINY])
    model = train_retro.build_model(cfg, 64, 0)
    g = torch.Generator().manual_seed(3)
    x = torch.randint(1, 64, (2, 129), generator=g)
    nb = torch.randint(1, 64, (2, 2, 2, 128), generator=g)
    losses = _descends(lambda: model.loss(x[:, :-1], x[:, 1:], nb), model.parameters(), steps=30, lr=3e-3)
    assert losses[-1] < 0.75 * losses[0], losses


# -----------------------------------------------------------------------------
# hand-computed cases


def test_longest_common_span_and_overlap():
    lcs = train_retro.longest_common_span
    assert lcs([1, 2, 3, 4], [9, 2, 3, 4, 7]) == 3
    assert lcs([1, 2, 3], [3, 2, 1]) == 1
    assert lcs([5, 5, 5], [5, 5]) == 2
    assert lcs([1, 2], []) == 0
    chunk = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    nbs = np.array([[9, 2, 3, -1, -1], [4, 5, 6, 7, 9]])  # spans 2 and 4 (padding never matches)
    assert train_retro.chunk_overlap(chunk, nbs) == 0.5
    assert train_retro.chunk_overlap(chunk, np.full((2, 5), -1)) == 0.0


def test_bpb_and_breakdown():
    ln2 = math.log(2)
    assert train_retro.bpb(10 * ln2, 5) == pytest.approx(2.0)
    # three target chunks: nats (closed, retrieval), bytes, overlap
    rows = train_retro.breakdown([4 * ln2, 6 * ln2, 10 * ln2], [2 * ln2, 6 * ln2, 1 * ln2], [2, 3, 5],
                                 [0.0, 0.3, 1.0], alphas=(0.25, 0.5, 1.0))
    assert rows[0]["chunks"] == 1 and rows[0]["bpb_closed_book"] == pytest.approx(2.0)
    assert rows[0]["bpb_retrieval"] == pytest.approx(1.0) and rows[0]["relative_reduction"] == pytest.approx(0.5)
    assert rows[1]["chunks"] == 2 and rows[1]["fraction"] == pytest.approx(2 / 3)
    assert rows[1]["bpb_closed_book"] == pytest.approx(10 / 5) and rows[1]["bpb_retrieval"] == pytest.approx(8 / 5)
    assert rows[2]["bpb_closed_book"] == pytest.approx(2.0) and rows[2]["bpb_retrieval"] == pytest.approx(0.9)


class _Oracle(torch.nn.Module):
    """Closed-book: uniform logits; with neighbours: all mass on the true next token (known through `seq`)."""

    def __init__(self, V, seq):
        super().__init__()
        self.V, self.seq = V, seq

    def forward(self, x, nb=None):
        B, T = x.shape
        out = torch.zeros(B, T, self.V)
        if nb is not None:
            for b in range(B):
                start = int(self.seq.index_of(x[b]))
                out[b, torch.arange(T), torch.from_numpy(self.seq.tokens[start + 1:start + T + 1].copy())] = 50.0
        return out


def test_evaluate_counts_bytes_and_slices_target_chunks():
    m, r, V, T = 4, 6, 16, 12
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, V, 4 * T + 1)
    C = len(tokens) // m
    # neighbour of chunk c = chunk c+1 (+ continuation), the target chunk, only for even chunks
    data = one_document_data(tokens, np.where(np.arange(C) % 2 == 0, (np.arange(C) + 1) % C, -1), m, r)
    data.index_of = lambda row: next(s for s in range(0, len(tokens) - T, m) if (tokens[s:s + T] == row.numpy()).all())
    token_bytes = np.arange(V) % 3 + 1
    ev = train_retro.evaluate(_Oracle(V, data), data, token_bytes, T, windows=10, device="cpu", dtype="float32")
    starts = np.arange(0, data.max_start(T) + 1, T // m)
    nbytes = sum(token_bytes[tokens[s * m + 1:s * m + T + 1]].sum() for s in starts)
    assert ev["eval_windows"] == len(starts) and ev["eval_bytes"] == nbytes
    assert ev["bpb_closed_book"] == pytest.approx(len(starts) * T * math.log(V) / math.log(2) / nbytes)
    assert ev["bpb_retrieval"] == pytest.approx(0.0, abs=1e-6)
    # target chunk u is conditioned on chunk u-1's neighbours: a copy of chunk u (overlap 1) for even u-1
    full = ev["leakage"][-1]
    assert full["chunks"] == len(starts) * (T // m - 1)
    low = ev["leakage"][0]  # alpha 0.125: only chunks whose conditioning chunk has no neighbour (odd global index)
    expected_low = sum(1 for s in starts for u in range(1, T // m) if (s + u - 1) % 2 == 1)
    assert low["chunks"] == expected_low


def test_neighbours_embedded_by_workers_equal_one_process(run):
    """nb_workers splits the database's embedding over processes: the same embeddings, so the same neighbours."""
    cfg = cfg_for(nbmod.DEFAULTS, run["dir"])
    encoder, _ = nbmod.load_encoder(cfg, "cpu")
    db = load_tokens(os.path.join(run["dir"], "tokens", "train.safetensors"))
    one = nbmod.embed_database({**cfg, "nb_workers": 1}, encoder, db, "cpu")
    two = nbmod.embed_database({**cfg, "nb_workers": 2}, encoder, db, "cpu")
    assert one.shape == two.shape and len(one) >= 4
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
    assert all(not n.startswith("tmp") for n in os.listdir(os.path.join(run["dir"], "neighbours")))


def test_neighbour_match_and_the_gate():
    """neighbour_match compares the query chunk with the neighbour's own chunk only; Data drops the neighbours under
    min_match, and evaluate() reads only those kept but measures its breakdown against all retrieved."""
    assert train_retro.neighbour_match(np.array([1, 2, 3, 4]), np.array([9, 2, 3, 7])) == 0.5
    assert train_retro.neighbour_match(np.array([1, 2, 3, 4]), np.array([5, 6, 7, 8])) == 0.0
    m, r, V, T = 4, 8, 32, 12
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, V, 6 * T + 1)
    C = len(tokens) // m
    db_tokens = np.concatenate([tokens, rng.integers(1, V, 8 * m)])  # the split itself + unrelated chunks
    db = {"tokens": db_tokens, "doc_offsets": np.array([0, len(db_tokens)])}
    nb_idx = np.full((C, 2), -1)
    nb_idx[:, 0] = np.arange(C)  # neighbour 0 of chunk c: chunk c itself and its continuation (match 1)
    nb_idx[:, 1] = len(tokens) // m + 1 + np.arange(C) % 6  # neighbour 1: an unrelated database chunk
    open_ = train_retro.Data(tokens, nb_idx, db, m, r)
    gated = train_retro.Data(tokens, nb_idx, db, m, r, min_match=0.5)
    got, full = gated.neighbours(np.arange(C)), open_.neighbours(np.arange(C))
    assert (got[:, 0] == full[:, 0]).all() and (full[:, 1] >= 0).any()
    keep1 = np.array([train_retro.neighbour_match(tokens[c * m:(c + 1) * m], full[c, 1, :m]) >= 0.5 for c in range(C)])
    assert (got[~keep1, 1] == -1).all() and (got[keep1, 1] == full[keep1, 1]).all() and not keep1.all()
    assert (gated.ungated().neighbours(np.arange(C)) == full).all() and gated.min_match == 0.5
    assert (gated.part(2, C).neighbours(np.arange(3)) == got[2:5]).all()  # the gate survives part()
    # evaluate(): the same overlaps (breakdown rows' chunk counts) with and without the gate, and the share gated
    data_ev = {}
    for name, d in (("open", open_), ("gated", gated)):
        d.index_of = lambda row: next(s for s in range(0, len(tokens) - T, m) if (tokens[s:s + T] == row.numpy()).all())
        data_ev[name] = train_retro.evaluate(_Oracle(V, d), d, np.ones(V, int), T, windows=4, device="cpu",
                                             dtype="float32")
    assert [row["chunks"] for row in data_ev["open"]["leakage"]] == [row["chunks"] for row in data_ev["gated"]["leakage"]]
    assert data_ev["open"]["neighbours_gated"] == 0.0 and 0.0 < data_ev["gated"]["neighbours_gated"] <= 0.5
    assert data_ev["gated"]["neighbour_min_match"] == 0.5


def test_the_gates_tail_test():
    """neighbour_has_tail: the neighbour (chunk + continuation, -1 padded) holds the chunk's last `tail` tokens in a row
    with a token after them; Data reads through both tests, and ungated() drops both. The C# twin is tested on the same
    cases (RetroGeneratorTests.NeighbourGate_tail_asks_for_the_chunks_end_with_a_token_after_it)."""
    import eval_retro
    has = train_retro.neighbour_has_tail
    assert has([1, 2, 3, 4], [9, 3, 4, 5, -1], 2) and not has([1, 2, 3, 4], [9, 3, 4, -1, -1], 2)
    assert not has([1, 2, 3, 4], [4, 3, 9], 2) and has([1, 2, 3, 4], [7, 8], 0) and has([3, 4], [3, 4, 5], 5)
    assert not has([1, 2, 3, 4], [2, 3, 4, 1, 2, 3, 4], 4) and has([1, 2, 3, 4], [2, 3, 4, 1, 2, 3, 4, 0], 4)
    assert train_retro.neighbour_read([1, 2, 3, 4], [9, 9, 3, 4, 5], 0.5, 2)  # the match's run "3 4" and the tail
    assert not train_retro.neighbour_read([1, 2, 3, 4], [9, 9, 3, 4, 5], 0.75, 0)
    assert not train_retro.neighbour_read([1, 2, 3, 4], [2, 3, 9, 9, 9], 0.5, 2)  # matches the start, not the end
    m, r = 4, 8
    tokens = np.arange(1, 4 * m + 1)
    db_tokens = np.concatenate([tokens, [1, 2, 3, 90, 91, 92, 93, 94]])  # chunk 4: "1 2 3" then goes elsewhere
    db = {"tokens": db_tokens, "doc_offsets": np.array([0, len(db_tokens)])}
    nb_idx = np.array([[0, 4]] + [[-1, -1]] * 3)  # chunk 0's neighbours: itself (+ continuation) and chunk 4
    both = train_retro.Data(tokens, nb_idx, db, m, r, min_match=0.5, tail=2).neighbours(np.array([0]))
    match_only = train_retro.Data(tokens, nb_idx, db, m, r, min_match=0.5).neighbours(np.array([0]))
    assert (match_only[0, :, 0] >= 0).all() and both[0, 0, 0] == 1 and (both[0, 1] == -1).all()
    gated = train_retro.Data(tokens, nb_idx, db, m, r, tail=2)
    assert gated.gated and not gated.ungated().gated and (gated.ungated().neighbours(np.array([0])) == match_only).all()
    assert eval_retro.parse_gates("0,0.125:4") == [(0.0, 0), (0.125, 4)] and eval_retro.parse_gates((0, 0.5)) == [(0.0, 0), (0.5, 0)]
    with pytest.raises(SystemExit):
        eval_retro.parse_gates("0.125:x")


def test_gate_check_counts_what_each_gate_reads_by_overlap():
    """gate_check.separation: a neighbour that continues chunk u (overlap 1 with chunk u+1) and one that repeats chunk
    u's beginning and then goes elsewhere (overlap 0): the match reads both, the tail test only the first."""
    import gate_check
    chunk, nxt = np.arange(1, 9), np.arange(9, 17)
    cont = np.concatenate([chunk, nxt])  # chunk u and its continuation
    away = np.concatenate([chunk[:4], np.arange(50, 62)])  # "1 2 3 4" then elsewhere
    nbs = np.stack([cont, away])[None]  # (1 chunk, k = 2, r = 16)
    out = gate_check.separation(chunk[None], nxt[None], nbs, [(0.125, 0), (0.125, 2)])
    assert (out["neighbours"], out["above_half"], out["at_most_eighth"]) == (2, 1, 1)
    match, tail = out["gates"]
    assert (match["read_above_half"], match["read_at_most_eighth"], match["read"]) == (1.0, 1.0, 1.0)
    assert (tail["read_above_half"], tail["read_at_most_eighth"], tail["read"]) == (1.0, 0.0, 0.5)
    empty = gate_check.separation(chunk[None], nxt[None], np.full((1, 2, 16), -1), [(0.125, 0)])
    assert empty["neighbours"] == 0 and np.isnan(empty["gates"][0]["read"])


def test_materialize_and_search():
    toks = np.arange(100, 112)
    offs = np.array([0, 5, 12])
    got = nbmod.materialize(toks, offs, np.array([[2, -1], [0, 3]]), m=2, r=4)
    assert got.tolist() == [[[104, -1, -1, -1], [-1, -1, -1, -1]], [[100, 101, 102, 103], [106, 107, 108, 109]]]
    db = np.eye(4, dtype=np.float32)
    q = np.array([[1, 0.5, 0, 0], [0.2, 0.1, 1, 0.9]], np.float32)
    idx, sc = nbmod.search(q, db, 2)
    assert idx.tolist() == [[0, 1], [2, 3]]
    doc = np.array([0, 0, 1, 2])
    idx, sc = nbmod.search(q, db, 3, doc, np.array([0, 1]), np.array([0, 2]), block=1)
    assert idx.tolist() == [[2, 3, -1], [0, 1, -1]] and np.isneginf(sc[:, 2]).all()
    lo, hi = nbmod.exclusion_ranges(np.array([0, 5, 12]), 12, 2)
    assert lo.tolist() == [0, 0, 0, 1, 1, 1] and hi.tolist() == [0, 1, 1, 1, 1, 1]


def test_search_with_exclusion_equals_the_fully_masked_search():
    """search() takes k + a few candidates and redoes only rows with too many excluded: the same result as masking
    every excluded row first, also when the excluded documents fill the whole top (queries = their own chunks)."""
    rng = np.random.default_rng(3)
    db = rng.standard_normal((300, 16)).astype(np.float32)
    doc = np.repeat(np.arange(10), 30)  # 10 documents of 30 chunks: a query's own document fills its top 16 and more
    q = db[::7] + 0.01 * rng.standard_normal((43, 16)).astype(np.float32)
    lo = doc[::7]
    hi = np.minimum(lo + rng.integers(0, 2, len(lo)), 9)
    got_i, got_s = nbmod.search(q, db, 3, doc, lo, hi, block=8)
    S = q @ db.T
    S[(doc[None] >= lo[:, None]) & (doc[None] <= hi[:, None])] = -np.inf
    want_i = np.argsort(-S, axis=1, kind="stable")[:, :3]
    # the same neighbours; scores equal up to rounding (BLAS may sum a block of 8 query rows in another order than 43)
    assert (got_i == want_i).all()
    np.testing.assert_allclose(got_s, np.take_along_axis(S, want_i, 1), rtol=1e-5, atol=1e-5)


def test_sharded_checkpoint_round_trip(tmp_path):
    t = {"a": torch.randn(300, 50), "b": torch.arange(7, dtype=torch.int64), "c": torch.randn(3).to(torch.bfloat16)}
    folder = str(tmp_path / "ck")
    save_sharded(t, folder, {"step": 5}, max_bytes=80 * 1024)
    files = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    assert len(files) >= 2 and all(os.path.getsize(os.path.join(folder, f)) <= 80 * 1024 for f in files)
    back, meta = load_sharded(folder)
    assert meta == {"step": 5} and set(back) == set(t)
    for k in t:
        assert back[k].dtype == t[k].dtype and torch.equal(back[k], t[k])


def test_configure_overrides():
    d = {"a": 1, "b": 0.5, "c": "x", "d": None, "e": [1]}
    c = configure(d, ["--a=3", "--b=2", "--c=hello", "--d=[4, 5]"])
    assert c == {"a": 3, "b": 2.0, "c": "hello", "d": [4, 5], "e": [1]}
    with pytest.raises(SystemExit):
        configure(d, ["--zz=1"])
    assert configure(d, ["--lm_steps=5"]) == d  # another stage's key: ignored here
    with pytest.raises(SystemExit):
        configure(d, ["--a=hello"])
    tiny = configure(train_retro.DEFAULTS, [TINY])
    assert tiny["lm_d_model"] == 32 and tiny["device"] == "cpu"
    assert train_retro.cca_layers({"lm_n_layers": 8, "lm_cca_layers": None}) == [4, 7]


def test_retro_config_of_the_full_run_matches_the_issue():
    full = configure(train_retro.DEFAULTS, [os.path.join(TRAINING, "config", "full_gpu.py")])
    assert (full["lm_n_layers"], full["lm_d_model"], full["lm_encoder_layers"]) == (8, 512, 2)
    assert full["lm_seq_len"] >= 512 and train_retro.cca_layers(full) == [4, 7]
    cfg = RetroConfig(n_layers=8, d_model=512, n_heads=8, cca_layers=[4, 7], encoder_n_heads=8)
    cfg.validate()
    enc = configure(train_encoder.DEFAULTS, [os.path.join(TRAINING, "config", "full_gpu.py")])
    assert (enc["enc_layers"], enc["enc_hidden"]) == (6, 384)


def test_h200_and_cpu_retrofit_configs_train_rope_decoders_and_qa():
    h200 = os.path.join(TRAINING, "config", "h200_10min.py")
    lm = configure(train_retro.DEFAULTS, [h200])
    assert lm["lm_cca_positions"] == "rope" and lm["device"] == "cuda" and lm["lm_train"] == "all"
    qa = configure(train_qa.DEFAULTS, [h200])
    assert qa["qa_init_from"] == "runs/gpu/retro/model_ckpt" and qa["qa_data"] == "runs/gpu/qa/train.jsonl"
    fit = configure(train_retro.DEFAULTS, [os.path.join(TRAINING, "config", "retrofit_cpu.py")])
    assert fit["lm_train"] == "reading" and fit["lm_induction_layers"] == [5] and fit["lm_shift_oracle_frac"] > 0
    assert fit["lm_init_from"] and fit["lm_cca_positions"] == "rope"
    assert fit["lm_cca_init"] == "copy" and fit["lm_fit_split"] == "validation-spans" and lm["lm_cca_init"] == "copy"
    for path in ("retrofit_cpu.py", "h200_10min.py"):  # the service's question layout, trained as served
        q = configure(train_qa.DEFAULTS, [os.path.join(TRAINING, "config", path)])
        assert (q["qa_layout"], q["qa_neighbours"], q["qa_target"]) == ("answer", 1, "passage"), path
    assert configure(train_qa.DEFAULTS, [os.path.join(TRAINING, "config", "retrofit_cpu.py")])["qa_init_from"] == \
        "runs/fit/retro/model_ckpt"


def test_full_models_fit_the_150_mb_budget_in_bf16():
    """The full config's three models with the product vocabulary (16,384) stay under models/'s 150 MB."""
    full = os.path.join(TRAINING, "config", "full_gpu.py")
    lm = train_retro.build_model(configure(train_retro.DEFAULTS, [full]), 16384, 0)
    enc = train_encoder.build_model(configure(train_encoder.DEFAULTS, [full]), 16384, 0)
    n_lm = sum(t.numel() for t in lm.export_state().values())  # tied head: not stored
    n_enc = sum(t.numel() for t in enc.export_state().values())
    n_rr = n_enc + enc.config.hidden_size + 1  # + classifier
    total = 2 * (n_lm + n_enc + n_rr) + 3_000_000  # BF16 weights + tokenizers, cards, plots
    assert total < 150_000_000, total / 1e6


# -----------------------------------------------------------------------------
# reading_check.py: the decision figures on data without held-out entries


def test_reading_check_windows_skip_documents_of_held_out_entries():
    import reading_check
    # windows of T + r = 6 tokens; documents [0, 4), [4, 9), [9, 20), [20, 40); the second is a held-out entry
    val = {"tokens": np.arange(40), "doc_offsets": np.array([0, 4, 9, 20, 40]),
           "held": np.array([False, True, False, False])}
    # window 0 covers tokens 0..6 (documents 0 and 1), 6 covers 6..12 (1, 2), 12 and 18 only clean ones
    assert reading_check.clean_windows(val, 5, 4, 2).tolist() == [12, 18, 24, 30]
    assert reading_check.clean_windows(val, 1, 4, 2).tolist() == [12]


def test_reading_check_neighbours_are_what_they_claim():
    import reading_check
    cfg = {"chunk_size": 4, "neighbour_len": 8, "nb_k": 2, "lm_seq_len": 16, "lm_shift_max": 3}
    vt, dbt = np.arange(1000, 1100), np.arange(0, 400)
    sets = reading_check.proxy_sets(vt, dbt, np.array([0, 40]), cfg, np.random.default_rng(0))
    again = reading_check.proxy_sets(vt, dbt, np.array([0, 40]), cfg, np.random.default_rng(0))
    assert all(torch.equal(a, b) for k in sets for a, b in zip(sets[k], again[k]))  # seeded: every model sees the same
    x, y, nb = sets["random"]
    assert x.shape == (2, 16) and torch.equal(y, x + 1) and nb.shape == (2, 4, 2, 8)
    assert torch.equal(nb, nb[..., :1] + torch.arange(8)) and (nb[..., 0] % 4 == 0).all() and (nb < 400).all()  # chunk-aligned database slices
    _, _, oracle = sets["oracle"]
    for b, s in enumerate((0, 40)):
        for u in range(4):
            assert oracle[b, u, 0].tolist() == list(range(1000 + s + 4 * u, 1000 + s + 4 * u + 8))  # chunk u + u+1
            assert (oracle[b, u, 1] < 400).all()
    _, _, shift = sets["shift"]
    starts = shift[..., 0, 0] - 1000 - torch.tensor([0, 40])[:, None] - 4 * torch.arange(4)
    assert (starts.abs() <= 3).all() and (starts != 0).any()
    assert torch.equal(shift[..., 0, :], shift[..., 0, :1] + torch.arange(8))  # a contiguous stretch of the stream


def test_reading_check_measures_the_model_and_the_qa_lines(run, tmp_path):
    import reading_check
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(ln) + "\n" for ln in _qa_lines(run)))
    folder = os.path.join(run["dir"], "models", "retro")
    out = tmp_path / "check.json"
    argv = [TINY, f"--out_dir={run['dir']}", f"--qa_data={data}", "--qa_val_lines=3", "--qa_target=answer",
            f"--check_models={folder},{os.path.join(run['dir'], 'retro', 'model_ckpt')}", "--check_windows=3",
            f"--check_out={out}"]
    results = reading_check.main(argv)
    assert json.load(open(out))["models"] == json.loads(json.dumps(results))
    exported, ckpt = results
    for r in results:
        assert r["windows"] == 3
        for k in ("proxy_closed", "proxy_random", "proxy_oracle", "proxy_shift", "qa_val_answer_loss_closed_book",
                  "qa_val_answer_loss_retrieval"):
            assert finite(r[k]) and r[k] > 0, k
        assert r["oracle_ratio"] == pytest.approx(r["proxy_oracle"] / r["proxy_closed"])
    # the exported folder and the checkpoint it was exported from measure the same (fp32 export)
    assert exported["proxy_oracle"] == pytest.approx(ckpt["proxy_oracle"], rel=1e-5)
    # a decoder whose cross-attention writes nothing reads nothing: every neighbour kind costs what closed-book does
    model = from_folder(folder)
    with torch.no_grad():
        for i in model.config.cca_layers:
            model.layers[i].cca.o_proj.weight.zero_()
    val = load_tokens(os.path.join(run["dir"], "tokens", "validation.safetensors"))
    cfg = reading_check.configure(dict(reading_check.DEFAULTS), [TINY])
    sets = reading_check.proxy_sets(val["tokens"], val["tokens"], np.array([0]), cfg, np.random.default_rng(0))
    losses = reading_check.proxy_losses(model, sets, cfg["chunk_size"], 8)
    assert all(losses[k] == pytest.approx(losses["closed"], rel=1e-5) for k in ("random", "oracle", "shift"))
    with pytest.raises(SystemExit, match="no model folder"):
        reading_check.main([TINY, f"--out_dir={run['dir']}", "--check_models=nowhere"])


def test_split_overlap_reports_every_part(run, capsys):
    import split_overlap
    split_overlap.main([TINY, f"--out_dir={run['dir']}", "--lm_fit_split=validation-spans", "--lm_final_eval_windows=3"])
    out = capsys.readouterr().out
    assert "| whole validation split |" in out and "evaluation windows' targets" in out and "fitting windows" in out
    db = load_tokens(os.path.join(run["dir"], "tokens", "train.safetensors"))
    val = train_retro.load_split(cfg_for(train_retro.DEFAULTS, run["dir"]), "validation", db)
    ov = split_overlap.chunk_overlaps(val)
    m = val.m
    assert ov[0] == 0 and ov[3] == train_retro.chunk_overlap(val.tokens[3 * m:4 * m], val.neighbours(np.array([2]))[0])
    assert split_overlap.target_chunks(np.array([0, 2]), 3).tolist() == [1, 2, 3, 4]


def test_oracle_neighbours_go_to_every_chunk_retrieval_served_whatever_the_gate_read():
    """With the gate on, a chunk whose retrieved neighbours were all gated out still gets its oracle neighbour (the
    gate would read it: it repeats the chunk), so the oracle share is lm_oracle_frac with the gate on or off; a chunk
    retrieval gave nothing stays without."""
    m, r = 4, 8
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, 50, 64 + 1)
    db_tokens = rng.integers(100, 150, 40)  # shares no token with the split: the gate drops every neighbour
    db = {"tokens": db_tokens, "doc_offsets": np.array([0, len(db_tokens)])}
    nb_idx = np.tile(np.array([[1, 2]]), (len(tokens) // m, 1))
    nb_idx[5] = -1  # retrieval found nothing for chunk 5
    gated = train_retro.Data(tokens, nb_idx, db, m, r, min_match=0.5)
    starts = [0, 2]
    _, _, nb = gated.batch(starts, 16, "cpu")
    assert (nb == -1).all()  # everything gated out
    for out in (gated.with_oracle(starts, nb, 16, 1.0, np.random.default_rng(0)),
                gated.with_shifted_oracle(starts, nb, 1.0, 2, np.random.default_rng(0))):
        for b, c0 in enumerate(starts):
            for u in range(4):
                has = c0 + u != 5
                assert bool((out[b, u, 0] >= 0).any()) == has
                assert (out[b, u, 1] == -1).all()
    ungated = gated.ungated()
    _, _, nb_open = ungated.batch(starts, 16, "cpu")
    a = gated.with_oracle(starts, nb, 16, 1.0, np.random.default_rng(0))
    b = ungated.with_oracle(starts, nb_open, 16, 1.0, np.random.default_rng(0))
    assert torch.equal(a[:, :, 0], b[:, :, 0])  # the same oracle neighbours, gate or not


def test_fit_copy_on_a_train_split_decoder_and_its_copy_in_the_evaluation(run, tmp_path):
    """fit_copy.py on a decoder trained on the train split (the GPU configurations): it fits on windows of that split,
    writes the table into the checkpoint, and eval_retro then reports the copy beside the decoder alone."""
    import eval_retro
    import fit_copy
    from common import load_decoder
    model = str(tmp_path / "ckpt")
    shutil.copytree(os.path.join(run["dir"], "retro", "model_ckpt"), model)
    cfg = cfg_for({**train_retro.DEFAULTS, **fit_copy.DEFAULTS}, run["dir"], f"--fc_model={model}", "--fc_windows=2",
                  f"--fc_out={tmp_path / 'copy.json'}")
    assert cfg["lm_fit_split"] == "train"
    out = fit_copy.run(cfg)
    assert 1 <= out["windows"] <= 2 and out["positions"] > 0 and os.path.exists(tmp_path / "copy.json")
    assert load_decoder(model).config.neighbour_copy == out["table"]
    ev = eval_retro.run(configure({**train_retro.DEFAULTS, **eval_retro.DEFAULTS},
                                  [TINY, f"--out_dir={run['dir']}", *FAST, f"--eval_model={model}",
                                   "--lm_final_eval_windows=2", "--lm_oracle_windows=0"]))
    assert ev["copy"]["table"] == out["table"] and finite(ev["copy"]["bpb_retrieval"])
