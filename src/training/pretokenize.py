"""
Corpus shards -> token files for training and evaluation.

    /usr/bin/python3 src/training/pretokenize.py --corpus data/corpus --tokenizer runs/full/tokenizer.json \
        --out runs/full/tokens [--splits train,validation] [--max_docs N]

Input: prepare_corpus.py's C4-style shards (<corpus>/<split>/*.json.gz, {"text", "url", "source"}), and a
byte-level BPE tokenizer.json (the C# trainer's, see train_tokenizer.sh; tokenizers_ref's in tiny tests).

Output per split, <out>/<split>.safetensors:
  tokens       (N,)   I16 when vocab_size <= 32768, else I32: every document's tokens followed by <|endoftext|>
  doc_offsets  (D+1,) I64: document d is tokens[doc_offsets[d]:doc_offsets[d+1]] (its EOS included)
  __metadata__ vocab_size, tokenizer_sha256, documents, tokens, bytes (UTF-8 bytes of the texts, +1 per EOS:
               the denominator of bits-per-byte), sources (JSON counts), pair_docs (JSON: see below)
Chunks are the fixed grid tokens[c*m:(c+1)*m] over the whole stream (m = chunk_size of the decoder), so chunk c
belongs to the document of its first token; neighbours.py and train_retro.py use the same grid.

<out>/<split>.docs.jsonl.gz: one line per document {"url", "source", "title"} (title = first line when it is a
heading or headword: short, and the document has more lines), used by train_encoder.py's pair builders.

--tiny_corpus DIR writes a small C4-style corpus from ../shared/data (C4 sample and WikiText-2 articles) into DIR
for the tiny CPU pipeline and the tests.
"""

import argparse
import gzip
import json
import os
import sys
from collections import Counter

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import SHARED_DATA, BpeTokenizer, iter_shard_documents, write_json  # noqa: E402
from safetensors_io import save_file  # noqa: E402

SPLITS = ("train", "validation", "test")


def title_of(text):
    """First line when it reads as a title / headword: <= 12 words, no terminal period, and more text follows."""
    head, sep, rest = text.partition("\n")
    head = head.strip()
    if not sep or not rest.strip() or not head or len(head.split()) > 12 or head.endswith("."):
        return None
    return head


def tokenize_documents(docs, tok):
    """-> (tokens int64 np, doc_offsets int64 np, n_bytes, sources Counter, doc infos)."""
    eos = tok.eos_id
    if eos is None:
        raise ValueError("tokenizer has no special token to end documents with")
    pieces, offsets, n_bytes, sources, infos = [], [0], 0, Counter(), []
    for d in docs:
        text = d["text"]
        ids = tok.encode(text)
        ids.append(eos)
        pieces.append(np.asarray(ids, np.int64))
        offsets.append(offsets[-1] + len(ids))
        n_bytes += len(text.encode("utf-8")) + 1
        sources[d.get("source", "?")] += 1
        infos.append({"url": d.get("url", ""), "source": d.get("source", "?"), "title": title_of(text)})
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    return tokens, np.asarray(offsets, np.int64), n_bytes, sources, infos


def write_token_file(path, tokens, offsets, tok, n_bytes, sources, infos):
    if len(tokens) and int(tokens.max()) >= tok.vocab_size:
        raise ValueError("token id out of range")
    dtype = torch.int16 if tok.vocab_size <= 32768 else torch.int32
    meta = {"vocab_size": str(tok.vocab_size), "tokenizer_sha256": tok.sha256(), "documents": str(len(offsets) - 1),
            "tokens": str(len(tokens)), "bytes": str(n_bytes), "sources": json.dumps(dict(sorted(sources.items())))}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file({"tokens": torch.from_numpy(tokens).to(dtype), "doc_offsets": torch.from_numpy(offsets)}, path,
              metadata=meta)
    with gzip.open(path.replace(".safetensors", ".docs.jsonl.gz"), "wt", encoding="utf-8") as f:
        for info in infos:
            f.write(json.dumps(info, ensure_ascii=False) + "\n")
    return meta


def pretokenize(corpus, tokenizer_path, out, splits=("train", "validation"), max_docs=None):
    tok = BpeTokenizer.load(tokenizer_path)
    report = {}
    for split in splits:
        folder = os.path.join(corpus, split)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no shards for split {split!r}")
        docs = []
        for d in iter_shard_documents(folder):
            docs.append(d)
            if max_docs and len(docs) >= max_docs:
                break
        tokens, offsets, n_bytes, sources, infos = tokenize_documents(docs, tok)
        meta = write_token_file(os.path.join(out, f"{split}.safetensors"), tokens, offsets, tok, n_bytes, sources,
                                infos)
        report[split] = {k: (json.loads(v) if k == "sources" else v) for k, v in meta.items()}
        print(f"{split}: {meta['documents']} documents, {meta['tokens']} tokens, {meta['bytes']} bytes "
              f"({int(meta['bytes']) / max(1, int(meta['tokens'])):.2f} bytes/token)")
    write_json(os.path.join(out, "report.json"), report)
    return report


# -----------------------------------------------------------------------------
# tiny corpus for the CPU smoke pipeline


def _wikitext_articles(path):
    """WikiText raw -> [(title, text)] split at ' = Title = ' headings, paragraphs joined by newlines."""
    arts, title, paras = [], None, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s.startswith("= ") and s.endswith(" =") and not s.startswith("= ="):
                if title and paras:
                    arts.append((title, "\n".join(paras)))
                title, paras = s.strip("= ").strip(), []
            elif s and not s.startswith("="):
                paras.append(s.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
                             .replace(" ,", ",").replace(" .", ".").replace(" 's", "'s"))
    if title and paras:
        arts.append((title, "\n".join(paras)))
    return arts


def make_tiny_corpus(out, train_docs=60, validation_docs=8, max_chars=6000):
    """Writes <out>/{train,validation}/c4-<split>.00000-of-00001.json.gz from ../shared/data: WikiText-2
    articles (title line + text; gives title/section pairs) and C4 sample documents, alternating. Deterministic."""
    docs = []
    wiki = os.path.join(SHARED_DATA, "wikitext-2", "raw", "wiki.test.raw")
    c4 = os.path.join(SHARED_DATA, "c4-en-sample", "c4_sample.jsonl")
    arts = _wikitext_articles(wiki) if os.path.exists(wiki) else []
    webs = []
    if os.path.exists(c4):
        with open(c4, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if len(d["text"]) > 500:
                    webs.append(d)
                if len(webs) >= train_docs + validation_docs:
                    break
    for i in range(train_docs + validation_docs):
        if i % 2 == 0 and i // 2 < len(arts):
            t, body = arts[i // 2]
            docs.append({"text": f"{t}\n{body}"[:max_chars], "url": f"wikipedia:{t}", "source": "wikitext"})
        elif i // 2 < len(webs):
            docs.append({"text": webs[i // 2]["text"][:max_chars], "url": webs[i // 2].get("url", ""),
                         "source": "c4"})
    if len(docs) < train_docs + validation_docs:
        raise FileNotFoundError(f"not enough documents under {SHARED_DATA} for the tiny corpus")
    for split, part in (("train", docs[:train_docs]), ("validation", docs[train_docs:])):
        os.makedirs(os.path.join(out, split), exist_ok=True)
        with gzip.open(os.path.join(out, split, f"c4-{split}.00000-of-00001.json.gz"), "wt", encoding="utf-8") as f:
            for d in part:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--corpus", help="folder with train/ validation/ test/ shards")
    ap.add_argument("--tokenizer", help="byte-level BPE tokenizer.json")
    ap.add_argument("--out", help="output folder for <split>.safetensors")
    ap.add_argument("--splits", default="train,validation")
    ap.add_argument("--max_docs", type=int, default=None, help="first N documents per split (smoke runs)")
    ap.add_argument("--tiny_corpus", default=None, help="write the tiny corpus into this folder and stop")
    args = ap.parse_args(argv)
    if args.tiny_corpus:
        make_tiny_corpus(args.tiny_corpus)
        print(f"tiny corpus written to {args.tiny_corpus}")
        return
    if not (args.corpus and args.tokenizer and args.out):
        ap.error("--corpus, --tokenizer and --out are required")
    pretokenize(args.corpus, args.tokenizer, args.out, tuple(args.splits.split(",")), args.max_docs)


if __name__ == "__main__":
    main()
