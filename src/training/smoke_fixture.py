"""
Writes tests/fixtures/trained-smoke: the three models of a tiny trained run (run_pipeline.sh --tiny), exported
as fp32 model folders, each with a golden.safetensors computed by the PyTorch reference in float64 — so the C#
engine is checked on weights that went through training and export, not only on random ones.

    src/training/run_pipeline.sh --tiny && /usr/bin/python3 src/training/smoke_fixture.py [--run runs/tiny] [--out DIR]

encoder/  golden: input_ids, attention_mask, token_type_ids (B, L) I32 (`S text S`, right-padded),
          hidden_states (B, L, H) F32, embeddings (B, H) F32; metadata `texts`
reranker/ golden: input_ids, attention_mask, token_type_ids (B, L) I32 (`S q S c S`), scores (B) F32;
          metadata `pairs`
retro/    golden: tokens (1, n) I32 (validation text, n = m + 20), neighbours (1, 1, k, r) I32 (chunk 0's
          retrieved neighbours from the run's neighbour file, -1 padded), logits and closed_book_logits
          (1, n, V) F32, encoded_neighbours_0 (k, r, D) F32 (padding rows 0); metadata tokenizer_text/_ids
Token ids come from tokenizer.json (metadata carries the texts so the C# tokenizer can be checked too).
Deterministic for a given run; the run itself is deterministic on one machine (seeded, 1 thread).
"""

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import REPO, BpeTokenizer, bert_tokenizer_json, load_model, load_tokens, write_json  # noqa: E402
from fixtures import as_f32, as_i32  # noqa: E402
from neighbours import load_neighbours, materialize  # noqa: E402
from pairs import bert_batch, cross_batch  # noqa: E402
from safetensors_io import save_file  # noqa: E402

TEXTS = ["Who wrote the dictionary in 1913?",
         "The neighbour encoder reads retrieved chunks of text.",
         "Normandy is a region in France."]
PAIRS = [["In what country is Normandy located?", "The Normans were the people who gave their name to Normandy, "
          "a region in France."],
         ["What is a token?", "A token is a piece of text produced by byte-pair encoding."],
         ["When was the dictionary published?", "The weather was cold and the river froze early that year."]]
TOKENIZER_TEXT = "Retrieval reads neighbours; the café's index holds 12,345 chunks.\n  Done!"


def f64(model):
    ref = type(model)(model.config)
    ref.load_state_dict(model.state_dict())
    return ref.double().eval()


def write(run, out):
    tok = BpeTokenizer.load(os.path.join(run, "tokenizer.json"))
    sep = tok.eos_id
    if os.path.isdir(out):
        shutil.rmtree(out)
    # bi-encoder
    enc, _ = load_model(os.path.join(run, "encoder", "ckpt"))
    folder = os.path.join(out, "encoder")
    enc.save_folder(folder)
    write_json(os.path.join(folder, "tokenizer.json"), bert_tokenizer_json(tok.json))
    ids, mask, tt = bert_batch([tok.encode(t) for t in TEXTS], sep, 512, "cpu")
    ref = f64(enc)
    with torch.no_grad():
        hidden, emb = ref(ids, mask, tt), ref.embed(ids, mask, tt)
    save_file({"input_ids": as_i32(ids), "attention_mask": as_i32(mask), "token_type_ids": as_i32(tt),
               "hidden_states": as_f32(hidden), "embeddings": as_f32(emb)},
              os.path.join(folder, "golden.safetensors"), metadata={"texts": json.dumps(TEXTS)})
    # cross-encoder
    rr, _ = load_model(os.path.join(run, "reranker", "ckpt"))
    folder = os.path.join(out, "reranker")
    rr.save_folder(folder)
    write_json(os.path.join(folder, "tokenizer.json"), bert_tokenizer_json(tok.json))
    ids, mask, tt = cross_batch([tok.encode(q) for q, _ in PAIRS], [tok.encode(c) for _, c in PAIRS], sep, 512, "cpu")
    with torch.no_grad():
        scores = f64(rr).score(ids, mask, tt)
    save_file({"input_ids": as_i32(ids), "attention_mask": as_i32(mask), "token_type_ids": as_i32(tt),
               "scores": as_f32(scores)}, os.path.join(folder, "golden.safetensors"),
              metadata={"pairs": json.dumps(PAIRS)})
    # RETRO decoder
    lm, _ = load_model(os.path.join(run, "retro", "model_ckpt"))
    c = lm.config
    m, n = c.chunk_size, c.chunk_size + 20
    folder = os.path.join(out, "retro")
    lm.save_folder(folder)
    shutil.copyfile(os.path.join(run, "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    val = load_tokens(os.path.join(run, "tokens", "validation.safetensors"))
    db = load_tokens(os.path.join(run, "tokens", "train.safetensors"))
    idx, _, _ = load_neighbours(os.path.join(run, "neighbours", "validation.safetensors"))
    tokens = torch.from_numpy(val["tokens"][:n].copy())[None]
    nb = materialize(db["tokens"], db["doc_offsets"], idx[:1], m, c.neighbour_len)  # (1, k, r)
    nb[0, 1, 100:] = -1  # one shorter neighbour: exercises key padding
    neighbours = torch.from_numpy(nb)[None]  # (1, 1, k, r)
    ref = f64(lm)
    with torch.no_grad():
        logits, E, _ = ref(tokens, neighbours, return_encoded=True)
        closed = ref(tokens, None)
    save_file({"tokens": as_i32(tokens), "neighbours": as_i32(neighbours), "logits": as_f32(logits),
               "closed_book_logits": as_f32(closed), "encoded_neighbours_0": as_f32(E[0, 0])},
              os.path.join(folder, "golden.safetensors"),
              metadata={"tokenizer_text": TOKENIZER_TEXT, "tokenizer_ids": json.dumps(tok.encode(TOKENIZER_TEXT))})
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"trained-smoke fixture written to {out}: {total / 1e6:.2f} MB")
    if total >= 1_500_000:
        raise SystemExit("trained-smoke fixture exceeds 1.5 MB")
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--run", default=os.path.join(REPO, "runs", "tiny"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "trained-smoke"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    write(args.run, args.out)


if __name__ == "__main__":
    main()

