"""
Byte-level BPE tokenizer for the pipeline.

    /usr/bin/python3 src/training/train_tokenizer.py --corpus DIR/train --out RUN/tokenizer.json --vocab 512

The product's tokenizer is trained by the C# trainer (src/Retro.Tokenizers/Training, see train_tokenizer.sh;
16,384 tokens, <|endoftext|> = id 0). This Python path (tokenizers_ref.train_bpe, pure Python, slow) exists for
the tiny CPU pipeline and the tests only: it trains on the first --max_chars characters of the shards.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import iter_shard_documents, write_json  # noqa: E402
from tokenizers_ref import ByteLevelBPE, train_bpe  # noqa: E402

SPECIALS = ["<|endoftext|>"]


def train_tokenizer(corpus, out, vocab=512, max_chars=60_000):
    text, n = [], 0
    for d in iter_shard_documents(corpus):
        text.append(d["text"])
        n += len(d["text"])
        if n >= max_chars:
            break
    merges = train_bpe("\n".join(text)[:max_chars], vocab - 256 - len(SPECIALS))
    bpe = ByteLevelBPE(merges, SPECIALS)
    write_json(out, bpe.to_json())
    return bpe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--max_chars", type=int, default=60_000)
    args = ap.parse_args(argv)
    train_tokenizer(args.corpus, args.out, args.vocab, args.max_chars)
    print(f"tokenizer ({args.vocab} tokens) written to {args.out}")


if __name__ == "__main__":
    main()
