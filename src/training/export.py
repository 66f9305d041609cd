"""
Exports a run's trained models to model folders (docs/model-format.md) with model cards.

    /usr/bin/python3 src/training/export.py --run runs/full --out models [--dtype bf16|fp16|fp32] [--command "..."]

<out>/encoder, <out>/reranker, <out>/retro: config.json, model.safetensors (BF16 by default), tokenizer.json,
MODEL_CARD.md (generated from the run's metrics.json files: data and licences, sizes, steps, hardware, wall
time, every metric, the command that reproduces it) and loss.png. Models whose checkpoint is missing are skipped.
"""

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import load_model, read_json, write_json  # noqa: E402

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
DATA = """Training text: the C4-style corpus of `src/training/prepare_corpus.py` — C4 / OLMo / RedPajama C4 samples and
Dolma Common Crawl samples (ODC-BY; web text under its authors' terms), WikiText-2 (CC BY-SA 3.0), GCIDE (Webster
1913 + GCIDE additions, GPL-3.0+), WordNet 3.0 (WordNet licence), FOLDOC (GFDL), the Jargon File (public domain),
Python 3.11 documentation (PSF licence) and Debian manual pages (their packages' licences). Question/paragraph
pairs: SQuAD v2.0 dev split as distributed for CS224N (CC BY-SA 4.0), split by article (held-out articles in
`squad_split.json` of the run). See each source's PROVENANCE.md under ../shared/data and the Debian copyright
files."""


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return str(v)


def card(name, kind, metrics, config, extra, command, size_bytes, dtype):
    lines = [f"# {name}", "", f"{kind}", "", "## Model", "",
             f"- format: docs/model-format.md, format_version 1; weights {dtype}, {size_bytes / 1e6:.1f} MB",
             f"- parameters: {metrics.get('parameters', '?'):,}" if isinstance(metrics.get("parameters"), int)
             else "- parameters: ?",
             "- config: " + ", ".join(f"`{k}`={json.dumps(v)}" for k, v in config.items()
                                      if k not in ("architectures", "model_type", "format_version")),
             "", "## Training", "",
             f"- steps: {metrics.get('steps')}; hardware: {metrics.get('hardware')}; wall time: "
             f"{metrics.get('wall_seconds')} s",
             "- hyper-parameters: " + ", ".join(f"`{k}`={json.dumps(v)}" for k, v in
                                                (metrics.get("config") or {}).items()),
             "", "## Data and licences", "", DATA, "", "## Metrics (measured by the training run)", ""]
    for k, v in metrics.items():
        if k in ("config", "leakage", "leakage_above", "hardware", "wall_seconds", "steps", "parameters", "tuning"):
            continue
        lines.append(f"- {k}: {_fmt(v)}")
    if metrics.get("leakage"):
        lines += ["", "Leakage breakdown (validation target chunks whose longest common token span with the "
                  "neighbours conditioning them is ≤ α·m):", "",
                  "| α | chunks | fraction | BPB closed-book | BPB retrieval | relative reduction |",
                  "|---|---|---|---|---|---|"]
        for r in metrics["leakage"]:
            lines.append(f"| {r['alpha']} | {r['chunks']} | {r['fraction']:.3f} | {r['bpb_closed_book']:.4f} | "
                         f"{r['bpb_retrieval']:.4f} | {r['relative_reduction']:.3f} |")
    if metrics.get("leakage_above"):
        lines += ["", "The complement: target chunks whose overlap is more than α·m (where retrieval can help most):", "",
                  "| overlap > | chunks | fraction | BPB closed-book | BPB retrieval | relative reduction |",
                  "|---|---|---|---|---|---|"]
        for r in (r for r in metrics["leakage_above"] if r["chunks"]):
            lines.append(f"| {r['above']} | {r['chunks']} | {r['fraction']:.3f} | {r['bpb_closed_book']:.4f} | "
                         f"{r['bpb_retrieval']:.4f} | {r['relative_reduction']:.3f} |")
    if metrics.get("tuning"):
        w = str(float(metrics.get("rerank_weight", 1.0)))
        lines += ["", f"Fusion with the first stage, on the tuning lines (training questions kept out of training; "
                  f"the weight {w} has the best mean nDCG@10, hence `Retro:Retrieval:RerankWeight`):", "",
                  "| dataset | lines | ranking | nDCG@10 | recall@1 | MRR |", "|---|---:|---|---:|---:|---:|"]
        for name, t in metrics["tuning"].items():
            for key, label in (("first", "first stage"), ("1.0", "cross-encoder alone"), (w, f"fused, weight {w}")):
                if key in t:
                    r = t[key]
                    lines.append(f"| {name} | {r['lines']} | {label} | {r['ndcg@10']:.3f} | {r['recall@1']:.3f} | "
                                 f"{r['mrr']:.3f} |")
    lines += [""] + extra + ["", "Loss curves: `loss.png` (data in the run's `loss.csv`).", "",
                             "## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)


def export_one(run, out, name, sub, kind, dtype, command, extra):
    ckpt = os.path.join(run, sub)
    if not os.path.exists(os.path.join(ckpt, "index.json")):
        print(f"export: {name}: no checkpoint at {ckpt}, skipped")
        return None
    stage = os.path.dirname(ckpt)
    model, _ = load_model(ckpt)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_folder(folder, dtype=DTYPES[dtype])
    tok = os.path.join(stage, "tokenizer.json") if name != "retro" else os.path.join(run, "tokenizer.json")
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    if os.path.exists(os.path.join(stage, "loss.png")):
        shutil.copyfile(os.path.join(stage, "loss.png"), os.path.join(folder, "loss.png"))
    metrics = read_json(os.path.join(stage, "metrics.json")) if os.path.exists(
        os.path.join(stage, "metrics.json")) else {}
    size = os.path.getsize(os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card(f"Retro {dict(encoder='bi-encoder', reranker='cross-encoder', retro='decoder')[name]}", kind, metrics, model.config.to_dict(), extra, command, size, dtype))
    return model


def export_folder(src, out, name, dtype, note):
    """An already exported model folder (e.g. the H200 bi-encoder) re-saved in `dtype` under out/name, with its own
    card, `note` added at the top, and its loss curve."""
    from model import from_folder
    model = from_folder(src)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_folder(folder, dtype=DTYPES[dtype])
    shutil.copyfile(os.path.join(src, "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    if os.path.exists(os.path.join(src, "loss.png")):
        shutil.copyfile(os.path.join(src, "loss.png"), os.path.join(folder, "loss.png"))
    card_text = ""
    if os.path.exists(os.path.join(src, "MODEL_CARD.md")):
        with open(os.path.join(src, "MODEL_CARD.md"), encoding="utf-8") as f:
            card_text = f.read()
    with open(os.path.join(folder, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(note.rstrip() + "\n\n" + card_text)
    return model


def copy_lines(copy):
    """The decoder card's lines on the neighbour copy (evaluate()'s "copy" block), none without one."""
    if not copy:
        return []
    return [f"- with the neighbour copy mixed in (config `neighbour_copy`, fitted by fit_copy.py on fitting windows; "
            f"the service's Retro:Retrieval:NeighbourCopy): BPB with retrieval {copy['bpb_retrieval']:.4f} (relative "
            f"reduction {copy['bpb_relative_reduction']:.3f})"] + [
            f"  - chunks overlapping their neighbours by at most {r['alpha']}: BPB {r['bpb_closed_book']:.4f} → "
            f"{r['bpb_retrieval']:.4f}" for r in copy.get("leakage", [])[:1] if r["chunks"]] + [
            f"  - chunks overlapping their neighbours by more than {r['above']}: BPB {r['bpb_closed_book']:.4f} → "
            f"{r['bpb_retrieval']:.4f}" for r in copy.get("leakage_above", []) if r["chunks"]]


def export(run, out, dtype="bf16", command=None, max_mb=150, retro_stage="retro", encoder_folder=None,
           encoder_note="", only=None):
    command = command or f"src/training/run_pipeline.sh --out {run}"
    tokens = read_json(os.path.join(run, "tokens", "report.json")) if os.path.exists(
        os.path.join(run, "tokens", "report.json")) else {}
    nb = read_json(os.path.join(run, "neighbours", "report.json")) if os.path.exists(
        os.path.join(run, "neighbours", "report.json")) else {}
    lm_eval = read_json(os.path.join(run, "eval", "retro.json")) if os.path.exists(
        os.path.join(run, "eval", "retro.json")) else {}
    split = lm_eval.get("lm_fit_split", "")
    where = (f"the evaluation windows of lm_fit_split \"{split}\"" if split.startswith("validation-")
             else "the validation split")
    lm_lines = [f"## Language modelling of this decoder (eval_retro.py, {where})", "",
                f"- BPB closed-book {lm_eval['bpb_closed_book']:.4f}, with retrieval {lm_eval['bpb_retrieval']:.4f} "
                f"(relative reduction {lm_eval['bpb_relative_reduction']:.3f}) over {lm_eval['eval_tokens']} tokens",
                f"- oracle test: loss with the true next chunk {lm_eval['oracle_loss_with_next_chunk']:.4f} vs "
                f"closed-book {lm_eval['oracle_loss_closed_book']:.4f} nats/token "
                f"({100 * lm_eval['oracle_ratio']:.1f} %)"] + ([
                "- neighbours read through the gate ("
                + "; ".join(([f"neighbour_match ≥ {lm_eval['neighbour_min_match']:g}, the service's "
                              "Retro:Retrieval:MinNeighbourMatch"] if lm_eval.get("neighbour_min_match") else [])
                            + ([f"the neighbour holds the chunk's last {lm_eval['neighbour_tail']} tokens, NeighbourTail"]
                               if lm_eval.get("neighbour_tail") else []))
                + f"): {100 * (1 - lm_eval.get('neighbours_gated', 0)):.1f} % "
                f"of those retrieved; the overlap rows below measure every retrieved neighbour"]
                if lm_eval.get("neighbour_min_match") or lm_eval.get("neighbour_tail") else []) + ([
                f"- the most copying from these neighbours could gain (closed-book share of the loss on targets "
                f"whose bigram is in their neighbours): {100 * lm_eval['copy_bound']:.1f} %"]
                if lm_eval.get("copy_bound") is not None else []) + [
                f"- chunks overlapping their neighbours by more than {r['above']}: {r['chunks']}, BPB "
                f"{r['bpb_closed_book']:.4f} → {r['bpb_retrieval']:.4f}" for r in lm_eval.get("leakage_above", [])
                if r["chunks"]] + copy_lines(lm_eval.get("copy")) if lm_eval.get("bpb_closed_book") is not None else []
    retro_metrics = read_json(os.path.join(run, "retro", "metrics.json")) if os.path.exists(
        os.path.join(run, "retro", "metrics.json")) else {}
    stage_keys = ("lm_init_from", "lm_cca_positions", "lm_cca_init", "lm_copy_layers", "lm_copy_gain",
                  "lm_induction_layers", "lm_induction_gain", "lm_induction_sharpness", "lm_previous_token_scale",
                  "lm_train", "lm_reading_layers", "lm_cca_sink", "lm_sink_init", "lm_sink_lr_ratio", "lm_steps",
                  "lm_lr", "lm_batch", "lm_fit_split", "lm_oracle_frac", "lm_shift_oracle_frac",
                  "lm_neighbour_min_match", "lm_neighbour_tail")
    retro_cfg = retro_metrics.get("config", {})
    if retro_cfg:
        lm_lines = ["## How CCA started (the RETRO stage before the QA stage: train_retro.py)", "",
                    "- " + ", ".join(f"`{k}`={json.dumps(retro_cfg[k])}" for k in stage_keys if k in retro_cfg)] + (
                    [f"- induction read-out R^2 (query, key) per layer: "
                     f"{json.dumps(retro_metrics['induction_read_out_r2'])}"]
                    if retro_metrics.get("induction_read_out_r2") else []) + [""] + lm_lines
    token_line = [f"Token files: " + "; ".join(f"{s}: {v.get('documents')} documents, {v.get('tokens')} tokens, "
                                                f"{v.get('bytes')} bytes" for s, v in tokens.items())] if tokens else []
    makers = {
        "encoder": lambda: export_folder(encoder_folder, out, "encoder", dtype, encoder_note) if encoder_folder else
        export_one(run, out, "encoder", os.path.join("encoder", "ckpt"),
                              "Bi-encoder (BERT family, mean pooling, L2-normalised) trained contrastively "
                              "(InfoNCE, in-batch + mined hard negatives) on neighbouring chunks, title/section "
                              "and headword/definition pairs and SQuAD question/paragraph pairs.", dtype, command,
                              token_line),
        "reranker": lambda: export_one(run, out, "reranker", os.path.join("reranker", "ckpt"),
                               "Cross-encoder (BertForSequenceClassification) trained listwise on the positive "
                               "and hard negatives (rr_groups: the product's own first stage; else the "
                               "bi-encoder's); body initialised from the bi-encoder.", dtype,
                               command, token_line),
        "retro": lambda: export_one(run, out, "retro", os.path.join(retro_stage, "model_ckpt"),
                            "RETRO decoder (chunked cross-attention, neighbour encoder) trained on tokens + k "
                            "neighbours from other documents, with neighbour dropout." if retro_stage == "retro" else
                            "RETRO decoder, then trained on question answering (train_qa.py): questions in the "
                            "service's prompt format with the product's own retrieved neighbours, mixed with LM "
                            "windows (the retro stage's lm_cca_init and lm_induction_layers say how CCA started; "
                            "docs/training.md has the measurements)." + (
                                " Then a reading pass (train_retro.py with config/reread_cpu.py): the body frozen, the "
                                "reading layers' queries, keys, values and outputs and the sinks trained on LM windows "
                                "again; the configuration and metrics below are that pass's." if retro_stage == "reread"
                                else " qa_layout, qa_target and qa_train below say how the neighbour is laid out, what "
                                     "the answer is and what trained."), dtype, command,
                            token_line + ([f"Neighbours: {json.dumps(nb)}"] if nb else []) +
                            ([""] + lm_lines if retro_stage in ("qa", "reread") else [])),
    }
    models = {name: make() for name, make in makers.items() if not only or name in only}
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"export: {out}: {total / 1e6:.1f} MB")
    write_json(os.path.join(run, "export.json"), {"out": out, "dtype": dtype, "bytes": total})
    if total > max_mb * 1e6:
        raise SystemExit(f"export: {out} holds {total / 1e6:.1f} MB, more than {max_mb} MB")
    return models


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--run", required=True, help="the run's out_dir")
    ap.add_argument("--out", required=True, help="folder to write encoder/, reranker/, retro/ into")
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    ap.add_argument("--command", default=None, help="the command to print in the model cards")
    ap.add_argument("--max_mb", type=float, default=150, help="fail when the exported folders exceed this (issue: 150)")
    ap.add_argument("--retro_stage", default="retro", choices=["retro", "qa", "reread"],
                    help="the decoder to export: the LM stage (train_retro.py), the QA stage (train_qa.py) or the "
                         "reading pass after it (train_retro.py with config/reread_cpu.py)")
    ap.add_argument("--encoder_folder", default=None,
                    help="ship this exported bi-encoder folder (e.g. runs/fit/h200/encoder) instead of the run's")
    ap.add_argument("--encoder_note", default="", help="text put at the top of that folder's model card")
    ap.add_argument("--only", default="", help="comma-separated subset of encoder,reranker,retro to export")
    args = ap.parse_args(argv)
    only = [m for m in args.only.split(",") if m]
    if any(m not in ("encoder", "reranker", "retro") for m in only):
        ap.error(f"--only takes encoder, reranker, retro; got {args.only!r}")
    export(args.run, args.out, args.dtype, args.command, args.max_mb, args.retro_stage, args.encoder_folder,
           args.encoder_note, only)


if __name__ == "__main__":
    main()
