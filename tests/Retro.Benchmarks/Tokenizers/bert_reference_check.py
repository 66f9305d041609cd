#!/usr/bin/python3
"""Cross-checks our BERT WordPiece pipeline against google-research/bert's tokenization.py logic (re-typed here:
BasicTokenizer with do_lower_case, then greedy longest-match-first WordPiece).

Step 1 (vocab):  python3 bert_reference_check.py vocab docs.jsonl vocab.txt
   writes a vocab.txt from the documents (specials, the 3,000 most frequent basic tokens, every character alone and
   with "##", a few suffixes) so that WordPiece has real work to do.
Step 2 (check):  python3 bert_reference_check.py check docs.jsonl vocab.txt ours.jsonl
   ours.jsonl holds one JSON array of our ids per document (Tokenizer.Encode, no special tokens).
Reproduce (R = dotnet run -c Release --project tests/Retro.Benchmarks -- tokenizer):
  $R dump-docs /tmp/docs.jsonl
  /usr/bin/python3 tests/Retro.Benchmarks/Tokenizers/bert_reference_check.py vocab /tmp/docs.jsonl /tmp/vocab.txt
  $R dump-ids /tmp/vocab.txt /tmp/ours.jsonl
  /usr/bin/python3 tests/Retro.Benchmarks/Tokenizers/bert_reference_check.py check /tmp/docs.jsonl /tmp/vocab.txt /tmp/ours.jsonl
Lower-casing is per character, as Hugging Face's BertNormalizer does (Python's str.lower would also apply the Greek
final-sigma rule).
"""
import collections
import json
import sys
import unicodedata


def is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def is_control(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, per_char_lower=True):
    text = "".join(" " if is_whitespace(c) else c for c in text if not (ord(c) in (0, 0xFFFD) or is_control(c)))
    text = "".join(f" {c} " if is_cjk(ord(c)) else c for c in text)
    out = []
    for token in text.split():
        token = "".join(c.lower() for c in token) if per_char_lower else token.lower()
        token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        current = []
        for c in token:
            if is_punctuation(c):
                if current:
                    out.append("".join(current))
                    current = []
                out.append(c)
            else:
                current.append(c)
        if current:
            out.append("".join(current))
    return [t for t in " ".join(out).split()]


def wordpiece(token, vocab, unk="[UNK]", max_chars=100):
    if len(token) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(token):
        end, found = len(token), None
        while start < end:
            sub = ("##" if start > 0 else "") + token[start:end]
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def main():
    mode, docs_path, vocab_path = sys.argv[1:4]
    docs = [json.loads(line) for line in open(docs_path, encoding="utf-8")]
    if mode == "vocab":
        counts = collections.Counter(t for d in docs for t in basic_tokenize(d, True))
        chars = sorted({c for t in counts for c in t})
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [t for t, _ in counts.most_common(3000)]
        tokens += chars + ["##" + c for c in chars] + ["##ing", "##ed", "##s", "##ly", "##er", "##tion", "##al"]
        seen, unique = set(), []
        for t in tokens:
            if t not in seen and "\n" not in t and t.strip() == t and t:
                seen.add(t)
                unique.append(t)
        open(vocab_path, "w", encoding="utf-8").write("\n".join(unique) + "\n")
        print(f"wrote {len(unique)} tokens to {vocab_path}")
        return 0
    vocab = {t: i for i, t in enumerate(open(vocab_path, encoding="utf-8").read().split("\n")) if t}
    ours = [json.loads(line) for line in open(sys.argv[4], encoding="utf-8")]
    assert len(ours) == len(docs), (len(ours), len(docs))
    tokens = 0
    for i, (doc, got) in enumerate(zip(docs, ours)):
        expected = [vocab[p] for t in basic_tokenize(doc, True) for p in wordpiece(t, vocab)]
        if expected != got:
            k = next(j for j in range(min(len(expected), len(got)) + 1) if j == min(len(expected), len(got)) or expected[j] != got[j])
            print(f"MISMATCH in document {i} at token {k}: reference {expected[k:k + 10]} ours {got[k:k + 10]}")
            return 1
        tokens += len(got)
    print(f"OK: {len(docs)} documents, {tokens} tokens identical to the BERT reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
