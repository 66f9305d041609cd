"""
Tiny reference tokenizers that write and apply Hugging Face `tokenizer.json` files (the `tokenizers` package is
not available here): a BERT WordPiece tokenizer and a GPT-2 style byte-level BPE (with a small trainer).
Used by fixtures.py to build the fixture tokenizers and the token ids of the golden inputs; ByteLevelBPE is also the
training pipeline's encoder of any byte-level BPE tokenizer.json (common.BpeTokenizer).

Limitation: GPT-2's pre-tokenizer regex uses \\p{L}/\\p{N}; Python's `re` lacks them, so letters are
approximated by [^\\W\\d_] and numbers by \\d. This is exact for ASCII and Latin text (what the fixtures use).
"""

import hashlib
import json
import re
import unicodedata
from collections import Counter

import numpy as np

# -----------------------------------------------------------------------------
# WordPiece (BERT)


def _is_bert_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def bert_normalize(text, lowercase=True):
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None -> follows lowercase, lowercase)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        if ch in "\t\n\r" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
              or 0xF900 <= cp <= 0xFAFF):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = "".join(out)
    if lowercase:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        text = text.lower()
    return text


def bert_pre_tokenize(text):
    """BertPreTokenizer: split on whitespace, then isolate every punctuation character."""
    words = []
    for w in text.split():
        cur = ""
        for ch in w:
            if _is_bert_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


class WordPiece:
    def __init__(self, vocab, unk="[UNK]", cls="[CLS]", sep="[SEP]", pad="[PAD]", mask="[MASK]",
                 prefix="##", max_chars=100):
        self.vocab = dict(vocab)  # token -> id
        self.unk, self.cls, self.sep, self.pad, self.mask = unk, cls, sep, pad, mask
        self.prefix, self.max_chars = prefix, max_chars

    def tokenize_word(self, word):
        if len(word) > self.max_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else self.prefix + word[start:end]
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return [self.unk]
            pieces.append(found)
            start = end
        return pieces

    def tokenize(self, text):
        return [p for w in bert_pre_tokenize(bert_normalize(text)) for p in self.tokenize_word(w)]

    def encode(self, a, b=None):
        """-> (ids, type_ids): [CLS] a [SEP] (types 0), or [CLS] a [SEP] b [SEP] (types 0.., then 1..)."""
        ta = [self.cls] + self.tokenize(a) + [self.sep]
        types = [0] * len(ta)
        if b is not None:
            tb = self.tokenize(b) + [self.sep]
            ta += tb
            types += [1] * len(tb)
        return [self.vocab[t] for t in ta], types

    def to_json(self):
        specials = [self.pad, self.unk, self.cls, self.sep, self.mask]

        def special(tok, type_id):
            return {"SpecialToken": {"id": tok, "type_id": type_id}}

        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}
                             for t in sorted(specials, key=lambda t: self.vocab[t])],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [special(self.cls, 0), {"Sequence": {"id": "A", "type_id": 0}}, special(self.sep, 0)],
                "pair": [special(self.cls, 0), {"Sequence": {"id": "A", "type_id": 0}}, special(self.sep, 0),
                         {"Sequence": {"id": "B", "type_id": 1}}, special(self.sep, 1)],
                "special_tokens": {t: {"id": t, "ids": [self.vocab[t]], "tokens": [t]}
                                   for t in (self.cls, self.sep)},
            },
            "decoder": {"type": "WordPiece", "prefix": self.prefix, "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": self.unk, "continuing_subword_prefix": self.prefix,
                      "max_input_chars_per_word": self.max_chars, "vocab": self.vocab},
        }


# -----------------------------------------------------------------------------
# byte-level BPE (GPT-2)


def bytes_to_unicode():
    """GPT-2's reversible map byte -> printable unicode character, in GPT-2's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))  # insertion order = GPT-2's symbol order


_GPT2_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def byte_level_pre_tokenize(text):
    """ByteLevel pre-tokenizer (add_prefix_space=false, use_regex=true): pieces mapped to byte symbols."""
    b2u = bytes_to_unicode()
    return ["".join(b2u[b] for b in piece.encode("utf-8")) for piece in _GPT2_SPLIT.findall(text)]


def _merge_word(symbols, pair, new):
    out, i = [], 0
    while i < len(symbols):
        if i < len(symbols) - 1 and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def train_bpe(text, num_symbols):
    """Merges until num_symbols new symbols exist (most frequent pair first, ties broken by the smaller
    pair: deterministic). -> list of (a, b)."""
    words = Counter(tuple(w) for w in byte_level_pre_tokenize(text))
    merges, created = [], set(bytes_to_unicode().values())
    while len(created) < 256 + num_symbols:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            raise ValueError(f"corpus too small: only {len(merges)} merges possible")
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new = best[0] + best[1]
        created.add(new)
        words = Counter({_merge_word(w, best, new): c for w, c in words.items()})
    return merges


class ByteLevelBPE:
    """The byte-level BPE encoder/decoder of the training code, the one both paths use: a trained one
    (`ByteLevelBPE(merges, specials)`: byte symbols in GPT-2's order, then one symbol per merge, then the specials) and
    any Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer (`load`, `from_json`: the C#
    trainer's output or this module's). Encoding applies the lowest-ranked merge first and caches words (Zipf: fast
    enough for whole corpora)."""

    def __init__(self, merges, specials, vocab=None, added_tokens=None, source=None):
        """merges: [(a, b)] by rank; specials: special token strings. vocab (token -> id) defaults to byte symbols,
        merges, then specials in that order; added_tokens (content -> id) are non-special added tokens; source: the
        tokenizer.json this came from (kept as `json`)."""
        if vocab is None:
            vocab = {s: i for i, s in enumerate(bytes_to_unicode().values())}
            for a, b in merges:
                vocab.setdefault(a + b, len(vocab))
            for s in specials:
                vocab[s] = len(vocab)
        self.vocab = dict(vocab)
        for content, i in (added_tokens or {}).items():
            self.vocab[content] = i
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.specials = list(specials)
        self._special_set = set(self.specials)
        self.vocab_size = max(self.vocab.values()) + 1
        self._source = source
        self._cache = {}
        self._inv = {i: s for s, i in self.vocab.items()}
        self._u2b = {u: b for b, u in bytes_to_unicode().items()}
        ids = {s: self.vocab[s] for s in self.specials}
        eos = ids.get("<|endoftext|>")
        self.eos_id = eos if eos is not None else (min(ids.values()) if ids else None)

    @classmethod
    def from_json(cls, obj):
        """The tokenizer of a tokenizer.json object (a BPE model; its added tokens, special or not, join the vocab)."""
        model = obj["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"expected a BPE model, got {model.get('type')!r}")
        added = obj.get("added_tokens") or []
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        return cls(merges, [t["content"] for t in added if t.get("special")], vocab=model["vocab"],
                   added_tokens={t["content"]: t["id"] for t in added}, source=obj)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))

    @property
    def json(self):
        """The tokenizer.json object: the one loaded, else this tokenizer's own (`to_json`)."""
        return self._source if self._source is not None else self.to_json()

    def encode_word(self, word):
        """Ids of one pre-tokenized word (byte symbols): merges applied lowest rank first."""
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        symbols = tuple(word)
        while len(symbols) > 1:
            best, at = None, -1
            for i in range(len(symbols) - 1):
                r = self.ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            symbols = _merge_word(symbols, (symbols[at], symbols[at + 1]), symbols[at] + symbols[at + 1])
        ids = [self.vocab[s] for s in symbols]
        if len(self._cache) < 2_000_000:
            self._cache[word] = ids
        return ids

    def encode(self, text):
        return [i for w in byte_level_pre_tokenize(text) for i in self.encode_word(w)]

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            s = self._inv.get(int(i))
            if s is None or s in self._special_set:
                continue
            out.extend(self._u2b[ch] for ch in s)
        return out.decode("utf-8", errors="replace")

    def token_byte_lengths(self):
        """(V,) int64: UTF-8 bytes each token stands for; special tokens count 1 (a document separator)."""
        n = np.zeros(self.vocab_size, np.int64)
        for s, i in self.vocab.items():
            n[i] = 1 if s in self._special_set else len(s)  # one byte symbol per byte
        return n

    def sha256(self):
        return hashlib.sha256(json.dumps(self.json, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self):
        byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": self.vocab[s], "content": s, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True} for s in self.specials],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", **byte_level},
            "post_processor": {"type": "ByteLevel", **byte_level},
            "decoder": {"type": "ByteLevel", **byte_level},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }
