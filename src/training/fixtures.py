"""
Writes the parity fixtures of docs/model-format.md ("Fixtures"):

    /usr/bin/python3 src/training/fixtures.py [--out tests/fixtures]

bert-tiny/, cross-tiny/, retro-tiny/, retro-tiny-bf16/: config.json, model.safetensors, tokenizer.json,
golden.safetensors. neighbour-copy.json: cases of the neighbour copy (neighbour_copy_cases). ranker-features.json:
cases of the learned ranker's features and scores (ranker_cases, fit_ranker.py). Deterministic: weights and inputs come from numpy's seeded PCG64 generator (stable across
numpy/torch versions); golden outputs are computed in float64 from the fp32 weights, then stored as F32.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from model import Bert, BertConfig, Retro, RetroConfig  # noqa: E402
from safetensors_io import save_file  # noqa: E402
from tokenizers_ref import ByteLevelBPE, WordPiece, train_bpe  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures")

# -----------------------------------------------------------------------------
# weights


def init_weights(model, seed, emb_std):
    """Seeded, version-stable init: Linear weights N(0, 1/fan_in), biases N(0, 0.1^2), LayerNorm weights
    1 + N(0, 0.1^2) and biases N(0, 0.1^2), embeddings N(0, emb_std^2), CCA sinks 1 + N(0, 1). Large enough that attention is not
    uniform and chunked cross-attention visibly moves the logits."""
    rng = np.random.default_rng(seed)
    kinds = {}
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            kinds[f"{mname}.{pname}" if mname else pname] = (type(mod).__name__, pname)
    with torch.no_grad():
        for name, p in model.named_parameters():  # registration order: deterministic
            kind, pname = kinds[name]
            z = rng.standard_normal(tuple(p.shape))
            if kind == "Linear" and pname == "weight":
                v = z / np.sqrt(p.shape[1])
            elif kind == "Embedding":
                v = z * emb_std
            elif kind == "LayerNorm" and pname == "weight":
                v = 1.0 + 0.1 * z
            elif pname == "sink":  # CCA sinks near the scores, so that some heads mostly read and others mostly not
                v = 1.0 + z
            else:
                v = 0.1 * z
            p.copy_(torch.from_numpy(v.astype(np.float32)))
    return model


def as_f32(t):
    return t.detach().to(torch.float32).contiguous()


def as_i32(t):
    return torch.as_tensor(t).to(torch.int32).contiguous()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# -----------------------------------------------------------------------------
# BERT fixtures

BERT_WORDS = """
the a an of and to in is are was for on with as by it that this from at or be not can which
retrieval retrieve model models chunk chunks token tokens text neighbour neighbours query
document search vector index dense sparse encoder decoder attention layer memory answer question
""".split()
BERT_SUFFIXES = "s es ed ing er ly tion al ment".split()
BERT_PUNCT = list(".,?!'-:;()\"")


def wordpiece_vocab():
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_PUNCT + list("0123456789")
    toks += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    toks += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    toks += ["##" + s for s in BERT_SUFFIXES] + BERT_WORDS
    # Each token once ("a" and "##s" recur in the lists), so that ids run 0..len-1 and vocab_size covers them all.
    return {t: i for i, t in enumerate(dict.fromkeys(toks))}


BERT_TEXTS = [  # bi-encoder inputs; the longest sets L = 16
    "Dense retrieval encodes the query as a vector.",
    "Neighbours help the decoder.",
    "Café #42 is open!",
]
CROSS_PAIRS = [  # cross-encoder (query, candidate)
    ("which layer reads neighbours?", "Chunked cross-attention layers read the encoded neighbours."),
    ("what is a token?", "A token is a piece of text."),
    ("index size", "Searching is fast."),
]


def pad_batch(rows, types):
    L = max(len(r) for r in rows)
    ids = np.zeros((len(rows), L), np.int64)  # [PAD] = 0
    mask = np.zeros((len(rows), L), np.int64)
    tt = np.zeros((len(rows), L), np.int64)
    for b, (r, t) in enumerate(zip(rows, types)):
        ids[b, :len(r)], mask[b, :len(r)], tt[b, :len(t)] = r, 1, t
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(tt)


def bert_config(vocab, cross):
    return BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                      architectures=["BertForSequenceClassification"] if cross else ["BertModel"])


def write_bert(out):
    wp = WordPiece(wordpiece_vocab())
    # bi-encoder
    folder = os.path.join(out, "bert-tiny")
    os.makedirs(folder, exist_ok=True)
    model = init_weights(Bert(bert_config(wp.vocab, cross=False)), seed=1, emb_std=0.5).eval()
    enc = [wp.encode(t) for t in BERT_TEXTS]
    ids, mask, tt = pad_batch([e[0] for e in enc], [e[1] for e in enc])
    assert ids.shape[1] == 16 and (mask.sum(1) < 16).sum() == 2, "BERT texts must give L = 16 with padding"
    ref = Bert(model.config)
    ref.load_state_dict(model.state_dict())
    ref = ref.double().eval()
    with torch.no_grad():
        hidden = ref(ids, mask, tt)
        emb = ref.embed(ids, mask, tt)
    model.save_folder(folder)
    write_json(os.path.join(folder, "tokenizer.json"), wp.to_json())
    save_file({"input_ids": as_i32(ids), "attention_mask": as_i32(mask), "token_type_ids": as_i32(tt),
               "hidden_states": as_f32(hidden), "embeddings": as_f32(emb)},
              os.path.join(folder, "golden.safetensors"), metadata={"texts": json.dumps(BERT_TEXTS)})
    # cross-encoder
    folder = os.path.join(out, "cross-tiny")
    os.makedirs(folder, exist_ok=True)
    model = init_weights(Bert(bert_config(wp.vocab, cross=True)), seed=2, emb_std=0.5).eval()
    enc = [wp.encode(q, c) for q, c in CROSS_PAIRS]
    ids, mask, tt = pad_batch([e[0] for e in enc], [e[1] for e in enc])
    ref = Bert(model.config)
    ref.load_state_dict(model.state_dict())
    ref = ref.double().eval()
    with torch.no_grad():
        scores = ref.score(ids, mask, tt)
    model.save_folder(folder)
    write_json(os.path.join(folder, "tokenizer.json"), wp.to_json())
    save_file({"input_ids": as_i32(ids), "attention_mask": as_i32(mask), "token_type_ids": as_i32(tt),
               "scores": as_f32(scores)},
              os.path.join(folder, "golden.safetensors"), metadata={"pairs": json.dumps(CROSS_PAIRS)})


# -----------------------------------------------------------------------------
# RETRO fixtures

BPE_CORPUS = """
Retrieval-enhanced transformers split their input into chunks of sixty-four tokens. For every chunk, the
retriever searches a large database of text for the nearest neighbours of that chunk, using the embedding of
a frozen encoder, and returns each neighbour together with its continuation. The decoder reads the
neighbours through chunked cross-attention: the last token of a chunk and the first tokens of the next chunk
attend to the encoded neighbours, so the model never sees the future. Without neighbours the same model runs
closed-book, like an ordinary language model. The neighbour encoder is a small bidirectional transformer
conditioned on the hidden states of the chunk it was retrieved for. Tokens are bytes merged by byte-pair
encoding; special tokens mark the end of a document. A question such as "Who wrote the dictionary in 1913?"
is answered better when the retrieved passages contain the answer: the decoder copies names, dates and
numbers (3.14, 42, 2026) from its neighbours instead of guessing. Café, naïve and résumé keep their accents.
Indexing a corpus means tokenizing every document, cutting it into chunks, encoding the chunks, and storing
the vectors in an approximate nearest-neighbour index such as HNSW; searching then costs a few milliseconds.
"""
TOKENIZER_CHECK_TEXT = "Retrieval reads neighbours; the café's index holds 12,345 chunks.\n  Done!"
BPE_SPECIALS = ["<|endoftext|>", "<|pad|>"]

M = 64
N_TOKENS = 4 * M + 6  # 262: four complete chunks and a partial one
GREEDY_PROMPT = 60
GREEDY_STEPS = 134  # positions fed: 0 .. 192, chunk boundaries at 63, 127, 191


def retro_config():
    return RetroConfig(vocab_size=512, d_model=64, n_layers=4, n_heads=4, d_ff=128, max_seq_len=512,
                       chunk_size=M, neighbour_len=128, num_neighbours=2, cca_layers=[2, 3],
                       encoder_layers=2, encoder_n_heads=4, encoder_d_ff=128, rope_theta=10000.0,
                       layer_norm_eps=1e-5, tie_embeddings=True, bos_token_id=510, eos_token_id=510,
                       pad_token_id=511, cca_sink=True)


def neighbour_rows(rng, lengths, r, vocab):
    """(k, r) int64: row j holds lengths[j] random tokens, then -1 padding (0 = absent neighbour)."""
    out = np.full((len(lengths), r), -1, np.int64)
    for j, n in enumerate(lengths):
        out[j, :n] = rng.integers(0, vocab, n)
    return out


def write_retro(out):
    cfg = retro_config()
    bpe = ByteLevelBPE(train_bpe(BPE_CORPUS, cfg.vocab_size - 256 - len(BPE_SPECIALS)), BPE_SPECIALS)
    assert len(bpe.vocab) == cfg.vocab_size and bpe.vocab["<|endoftext|>"] == cfg.eos_token_id
    model = init_weights(Retro(cfg), seed=6, emb_std=0.5).eval()
    ref = Retro(cfg)
    ref.load_state_dict(model.state_dict())
    ref = ref.double().eval()

    rng = np.random.default_rng(4)
    V, r, k = cfg.vocab_size - len(BPE_SPECIALS), cfg.neighbour_len, cfg.num_neighbours
    tokens = torch.from_numpy(rng.integers(0, V, (1, N_TOKENS)))
    U = N_TOKENS // M
    # chunk 0: full + short; 1: two short; 2: one neighbour only; 3: none
    lengths = [(128, 100), (77, 128), (128, 0), (0, 0)]
    neighbours = torch.from_numpy(np.stack([neighbour_rows(rng, l, r, V) for l in lengths])[None])
    assert neighbours.shape == (1, U, k, r)
    rng = np.random.default_rng(18)  # picked: large greedy margins, tokens change at chunk boundaries
    prompt = torch.from_numpy(rng.integers(0, V, GREEDY_PROMPT))
    umax = (GREEDY_PROMPT + GREEDY_STEPS - 1) // M  # chunks completed while feeding
    g_lengths = [(128, 128), (90, 0), (128, 50)]
    greedy_nb = torch.from_numpy(np.stack([neighbour_rows(rng, l, r, V) for l in g_lengths]))
    assert len(g_lengths) == umax

    with torch.no_grad():
        logits, E, _ = ref(tokens, neighbours, return_encoded=True)
        closed = ref(tokens, None)
        g_tokens, g_logits = ref.generate_greedy(prompt, greedy_nb, GREEDY_STEPS)
    top2 = g_logits.topk(2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    assert margin > 1e-3, f"greedy margin {margin} too small for fp32 parity; change the seed"

    golden = {"tokens": as_i32(tokens), "neighbours": as_i32(neighbours), "logits": as_f32(logits),
              "closed_book_logits": as_f32(closed), "encoded_neighbours_0": as_f32(E[0, 0]),
              "greedy_prompt": as_i32(prompt), "greedy_neighbours": as_i32(greedy_nb),
              "greedy_tokens": as_i32(g_tokens), "greedy_step_logits": as_f32(g_logits)}
    meta = {"tokenizer_text": TOKENIZER_CHECK_TEXT,
            "tokenizer_ids": json.dumps(bpe.encode(TOKENIZER_CHECK_TEXT)),
            "greedy_min_margin": f"{margin:.6f}"}
    folder = os.path.join(out, "retro-tiny")
    os.makedirs(folder, exist_ok=True)
    model.save_folder(folder)
    write_json(os.path.join(folder, "tokenizer.json"), bpe.to_json())
    save_file(golden, os.path.join(folder, "golden.safetensors"), metadata=meta)

    folder16 = os.path.join(out, "retro-tiny-bf16")
    os.makedirs(folder16, exist_ok=True)
    model.save_folder(folder16, dtype=torch.bfloat16)
    for name in ("tokenizer.json", "golden.safetensors"):
        shutil.copyfile(os.path.join(folder, name), os.path.join(folder16, name))


def neighbour_copy_cases(seed=7, n=24):
    """Cases of the neighbour copy (model.neighbour_copy_*), for Retro.Engine's NeighbourCopy: seeded sequences over a
    small vocabulary (so matches occur by chance as well as where planted), each chunk's candidates partly copied
    from the text that follows it, random read flags, a table; per position the proposal, match, read flag, lambda,
    and the mixture's bits of the true next token for a given decoder probability."""
    from model import neighbour_copy_lambda, neighbour_copy_nll, neighbour_copy_proposals, neighbour_copy_table
    rng = np.random.default_rng(seed)
    table = neighbour_copy_table([0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 0.9], [0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7],
                                 max_match=12, edges=(1, 2, 3, 4, 6, 8, 10, 12))
    cases = []
    for i in range(n):
        m = int(rng.integers(4, 9))
        T = m * int(rng.integers(2, 5)) + int(rng.integers(0, m))
        vocab = int(rng.integers(3, 12))
        tokens = rng.integers(0, vocab, T + 1)
        U = T // m
        neighbours, read = [], []
        for u in range(U):
            cands, flags = [], []
            for _ in range(int(rng.integers(0, 4))):
                r = int(rng.integers(1, 4 * m))
                nb = rng.integers(0, vocab, r)
                if rng.random() < 0.8:  # plant a stretch of the text around the next chunk
                    a = int(rng.integers(max(0, u * m - m), min(T, (u + 1) * m + m // 2)))
                    b = min(T + 1, a + int(rng.integers(1, 3 * m)))
                    at = int(rng.integers(0, r))
                    seg = tokens[a:b][:r - at]
                    nb[at:at + len(seg)] = seg
                cands.append([int(x) for x in nb])
                flags.append(bool(rng.random() < 0.5))
            neighbours.append(cands)
            read.append(flags)
        prop, L, fr = neighbour_copy_proposals(tokens[:T], neighbours, read, m, table["max_match"])
        lam = neighbour_copy_lambda(table, L, fr)
        p = rng.uniform(0.001, 0.999, T)
        nll = neighbour_copy_nll(-np.log(p), tokens[1:T + 1], prop, lam)
        cases.append({"chunk_size": m, "tokens": [int(x) for x in tokens], "neighbours": neighbours, "read": read,
                      "proposal": prop.tolist(), "match": L.tolist(), "from_read": fr.tolist(),
                      "lambda": [float(x) for x in lam], "p": [float(x) for x in p],
                      "mixed_bits": [float(x / np.log(2)) for x in nll]})
    return {"table": table, "cases": cases}


def write_neighbour_copy(out):
    write_json(os.path.join(out, "neighbour-copy.json"), neighbour_copy_cases())


RANKER_WORDS = ("compiler compilers compiling compiled parser parsing yacc grammar token tokens the a of is what which "
                "language languages program programs source code machine 1913 64 bit café straße naïve").split()


def ranker_cases(seed=11, n=16):
    """Cases of the learned ranker (fit_ranker.features / scores), for Retro.Core's LexicalRanker: hand-made ones for
    the edges (titles, repeated documents, stems, stop-word-only questions, non-ASCII letters, digits, punctuation, text
    shorter than the window, empty text) and seeded ones over a small vocabulary. Window 5, so the window slides."""
    from fit_ranker import features, scores, spec
    s = spec(window=5, rank_k=10, weights=[2.0, 1.5, -0.75, 1.25, 3.0, 0.5, 2.5])
    cases = [
        ("What is a compiler?", [("d1", "compiler", "A program that translates source code into machine code."),
                                 ("d2", "yacc", "Yet another compiler-compiler: a parser generator."),
                                 ("d1", "compiler", "Compilers parse, then generate code."),
                                 ("d3", "", "The grammar of a language.")]),
        ("Who wrote the 1913 Webster's?", [("w", "Webster", "Webster's Revised Unabridged Dictionary (1913)."),
                                            ("x", "", "..."), ("y", "", "")]),
        ("what is the of", [("a", "the", "what is the of"), ("b", "", "nothing here")]),
        ("Naïve café: STRASSE or Straße?", [("u", "Café", "naïve CAFÉ straße—strasse, 64-bit"), ("v", "", "cafe naive")]),
        ("parsing tokens in compiling programs", [("p", "", "tokens tokens parsing, parser; compiled programs"),
                                                  ("q", "parser", "a b c d e f g h parsing x y z tokens w programs")]),
        ("", [("e", "t", "text")]),
        ("Define pessimising compiler.", [("f", "pessimising compiler", "a compiler"), ("g", "compiler", "x"),
                                          ("h", "the compiler of it", "y"), ("i", "of the", "z")]),
    ]
    rng = np.random.default_rng(seed)
    for _ in range(n):
        q = " ".join(rng.choice(RANKER_WORDS, int(rng.integers(1, 8))))
        cands = []
        for _ in range(int(rng.integers(1, 9))):
            title = " ".join(rng.choice(RANKER_WORDS, int(rng.integers(0, 3))))
            text = " ".join(rng.choice(RANKER_WORDS, int(rng.integers(0, 20))))
            cands.append((f"doc{int(rng.integers(0, 4))}", title, text))
        cases.append((q, cands))
    out = []
    for q, cands in cases:
        out.append({"query": q, "candidates": [{"doc": d, "title": t, "text": x} for d, t, x in cands],
                    "features": [[float(v) for v in row] for row in features(q, cands, s)],
                    "scores": [float(v) for v in scores(q, cands, s)]})
    return {"spec": s, "cases": out}


def write_ranker(out):
    write_json(os.path.join(out, "ranker-features.json"), ranker_cases())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: tests/fixtures)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # reproducible reductions, and polite on a shared machine
    write_bert(args.out)
    write_retro(args.out)
    write_neighbour_copy(args.out)
    write_ranker(args.out)
    total = 0  # this script's folders only (trained-smoke is smoke_fixture.py's, with its own budget)
    for n in ("bert-tiny", "cross-tiny", "retro-tiny", "retro-tiny-bf16"):  # the files it writes (not onnx/ exports)
        folder = os.path.join(args.out, n)
        for f in os.listdir(folder):
            if os.path.isfile(os.path.join(folder, f)):
                total += os.path.getsize(os.path.join(folder, f))
    print(f"fixtures written to {args.out}: {total / 1e6:.2f} MB")
    if total >= 5_000_000:
        raise SystemExit("fixtures exceed 5 MB")


if __name__ == "__main__":
    main()
