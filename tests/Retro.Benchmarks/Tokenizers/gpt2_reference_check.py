#!/usr/bin/python3
"""Cross-checks our byte-level BPE against an independent reference: OpenAI's GPT-2 encoder.py algorithm.

Input: a tokenizer.json (BPE model) and a JSON-lines file of {"pieces": [pre-tokens], "ids": [our ids]} per
document (pre-tokens from our scanner, which the C# tests check against .NET's Regex of the GPT-2 pattern).
For each piece: UTF-8 bytes -> bytes_to_unicode characters -> encoder.py's bpe() (repeatedly merge every occurrence
of the lowest-rank bigram) -> vocabulary ids. The concatenation must equal our ids, document by document.

Usage (R = dotnet run -c Release --project tests/Retro.Benchmarks -- tokenizer):
  $R --mb 100 --vocab 16384 --extra /usr/share/dictd,/usr/share/man --out /tmp/t16k.json
  $R dump-pieces /tmp/t16k.json /tmp/pieces.jsonl
  /usr/bin/python3 tests/Retro.Benchmarks/Tokenizers/gpt2_reference_check.py /tmp/t16k.json /tmp/pieces.jsonl
"""
import json
import sys


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return set(zip(word, word[1:]))


def make_bpe(ranks):
    cache = {}

    def bpe(token):
        if token in cache:
            return cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        while pairs:
            bigram = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
            if bigram not in ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        cache[token] = word
        return word

    return bpe


def main(tokenizer_path, ids_path):
    model = json.load(open(tokenizer_path, encoding="utf-8"))["model"]
    vocab = model["vocab"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    bpe = make_bpe({pair: rank for rank, pair in enumerate(merges)})
    byte_encoder = bytes_to_unicode()
    docs = tokens = 0
    with open(ids_path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            expected = []
            for piece in record["pieces"]:
                chars = "".join(byte_encoder[b] for b in piece.encode("utf-8", errors="surrogatepass"))
                expected.extend(vocab[t] for t in bpe(chars))
            if expected != record["ids"]:
                print(f"MISMATCH in document {docs}: reference {expected[:20]}... ours {record['ids'][:20]}...")
                return 1
            docs += 1
            tokens += len(expected)
    print(f"OK: {docs} documents, {tokens} tokens identical to the encoder.py reference")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
