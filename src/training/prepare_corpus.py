"""
Builds C4-style shards of real English prose for training and evaluation:

    /usr/bin/python3 src/training/prepare_corpus.py [--out data/corpus] [--tokenizer models/x/tokenizer.json]

Sources (each skipped with a note when absent):
  ../shared/data            C4 samples (AllenAI c4, OLMo fixtures, RedPajama), Dolma Common Crawl samples,
                            WikiText-2 (raw test split, tokenized validation split de-tokenized)
  Debian packages           dict-gcide (Webster 1913), wordnet-base, dict-foldoc, dict-jargon, python3.11-doc
                            (HTML), manpages (English, man1-8)
Every document is cleaned to prose (markup removed, paragraphs that are not prose dropped, C4-like rules),
exact duplicates are dropped, and documents are split by a hash of their id into train / validation / test.
Validation and test documents whose 13-word-shingle Jaccard similarity with any training document is >= 0.8
(candidates from MinHash LSH, then the exact Jaccard of the shingle sets) are removed.

Output (git-ignored): <out>/{train,validation,test}/c4-<split>.NNNNN-of-MMMMM.json.gz, one JSON object per line,
{"text", "url", "timestamp", "source"} with paragraphs separated by "\n" as in C4; <out>/report.json with
documents, words, bytes (and tokens when --tokenizer is given) per split and per source. Deterministic.
"""

import argparse
import glob
import gzip
import hashlib
import html.parser
import io
import json
import os
import re
import sys
import time
import unicodedata
import zlib
from collections import Counter, defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
DICTD = "/usr/share/dictd"
WORDNET = "/usr/share/wordnet"
PYDOC = "/usr/share/doc/python3.11/html"
MANDIR = "/usr/share/man"

SPLITS = ("train", "validation", "test")
HELDOUT_FRACTION = 0.02  # of documents for validation, and the same for test
SHINGLE = 13  # words per shingle for near-duplicate detection
JACCARD = 0.8
BANDS, ROWS = 20, 6  # MinHash LSH: P(candidate | J = 0.8) = 1 - (1 - 0.8^6)^20 = 0.998
DOCS_PER_SHARD = 20_000

# -----------------------------------------------------------------------------
# cleaning

_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_TERMINAL = ('.', '!', '?', '"', "'", '\u201d', '\u2019', ':', ')')


def normalize(text):
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return _WS.sub(" ", text)


def is_prose(par, need_terminal):
    """C4-like paragraph test: enough words, mostly letters, little code, no boilerplate."""
    words = par.split()
    if len(words) < 4:
        return False
    chars = par.replace(" ", "")
    letters = sum(ch.isalpha() for ch in chars)
    if letters < 0.7 * len(chars):
        return False
    if sum(ch in "{}<>=;|\\$#" for ch in chars) > 0.03 * len(chars):
        return False
    low = par.lower()
    if "lorem ipsum" in low or "javascript" in low or "cookie" in low and "policy" in low:
        return False
    return not need_terminal or par.endswith(_TERMINAL)


def clean_paragraphs(paragraphs, need_terminal=False, min_words=20):
    """Paragraphs (wrapped lines already joined) -> C4-style text (one paragraph per line) or None."""
    kept = []
    for p in paragraphs:
        p = normalize(p).replace("\n", " ").strip()
        p = _WS.sub(" ", p)
        if is_prose(p, need_terminal):
            kept.append(p)
    text = "\n".join(kept)
    return text if len(text.split()) >= min_words else None


def split_blocks(text):
    """Blank-line separated blocks, wrapped lines joined by spaces."""
    return [" ".join(l.strip() for l in b.split("\n") if l.strip()) for b in re.split(r"\n\s*\n", text) if b.strip()]


# -----------------------------------------------------------------------------
# sources: each yields dicts {"text", "url", "timestamp", "source"}


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def web_documents(path, source):
    """C4 / Dolma JSON lines: newline-separated paragraphs (C4 keeps only lines ending in punctuation)."""
    for i, d in enumerate(read_jsonl(path)):
        text = clean_paragraphs(d.get("text", "").split("\n"), need_terminal=True, min_words=50)
        if text:
            url = d.get("url") or d.get("id") or f"{os.path.basename(path)}#{i}"
            stamp = d.get("timestamp") or d.get("created") or ""
            yield {"text": text, "url": url, "timestamp": str(stamp), "source": source}


_WT_HEAD = re.compile(r"^ = ([^=].*) = $")


def detokenize_wikitext(line):
    line = line.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    line = re.sub(r" ([.,;:!?)\]}'])", r"\1", line)
    line = re.sub(r"([(\[{]) ", r"\1", line)
    line = re.sub(r" (n't|'s|'re|'ve|'m|'ll|'d)\b", r"\1", line)
    return re.sub(r'" (.*?) "', r'"\1"', line)


def wikitext_documents(path, source):
    """One document per article (top-level ' = Title = ' heading); section headings dropped; WikiText's
    tokenization (spaces around punctuation, @-@ etc.) undone; paragraphs with <unk> dropped."""
    title, pars = None, []

    def flush():
        if title is not None:
            text = clean_paragraphs(pars, min_words=50)
            if text:
                return {"text": f"{title}\n{text}", "url": f"wikipedia:{title.replace(' ', '_')}",
                        "timestamp": "", "source": source}
        return None

    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = _WT_HEAD.match(line)
            if m:
                doc = flush()
                if doc:
                    yield doc
                title, pars = m.group(1).strip(), []
                continue
            s = line.strip()
            if not s or s.startswith("= "):
                continue
            if "<unk>" in s:
                continue  # the tokenized split lost words here: not prose any more
            pars.append(detokenize_wikitext(s))
    doc = flush()
    if doc:
        yield doc


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s):
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


def dictd_entries(name):
    """(headword, body) for each distinct definition of /usr/share/dictd/<name>; metadata entries skipped."""
    with gzip.open(os.path.join(DICTD, f"{name}.dict.dz"), "rb") as f:
        data = f.read()
    seen = set()
    with open(os.path.join(DICTD, f"{name}.index"), encoding="utf-8") as f:
        for line in f:
            head, off, length = line.rstrip("\n").split("\t")[:3]
            key = (_b64(off), _b64(length))
            if head.startswith("00-database") or head.startswith("00database") or key in seen:
                continue
            seen.add(key)
            yield head, data[key[0]:key[0] + key[1]].decode("utf-8", errors="replace")


def clean_gcide(body):
    """Webster 1913 entry -> paragraphs: drop source tags, pronunciation, braces; keep senses and quotes."""
    body = re.sub(r"\[(?:1913 Webster|PJC|Webster 1913 Suppl\.|Century Dict\.|WordNet 1\.5|[A-Z]{2,4})\]", "",
                  body)
    body = re.sub(r"\\[^\\\n]*\\", "", body)  # \Pro*nun"ci*a`tion\
    body = re.sub(r" ?\((?=[^)\n]*[\[\]\"`^~])[^)\n]*\)", "", body)  # ([a^]s"t[~e]r): pronunciation
    body = body.replace("{", "").replace("}", "").replace("--", "\u2014 ")
    return split_blocks(body)


def clean_dictd_body(body):
    lines = body.split("\n")
    while lines and lines[0].strip() and not lines[0].startswith(" "):
        lines.pop(0)  # headword line(s)
    body = "\n".join(lines).replace("{", "").replace("}", "")
    return [re.sub(r"^(<[^>]*>\s*)+", "", b) for b in split_blocks(body)]  # FOLDOC's leading <topic> tags


def dictd_documents(name, source, stamp):
    for head, body in dictd_entries(name):
        pars = clean_gcide(body) if name == "gcide" else clean_dictd_body(body)
        text = clean_paragraphs(pars, min_words=20)
        if text:
            if name != "gcide":  # GCIDE bodies start with their own headword; the others' were removed
                text = f"{head}\n{text}"
            yield {"text": text, "url": f"{source}:{head}", "timestamp": stamp, "source": source}


def wordnet_documents():
    """One document per lemma: each sense's synonyms and gloss as a sentence."""
    senses = defaultdict(list)
    names = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
    for pos in names:
        with open(os.path.join(WORDNET, f"data.{pos}"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                fields, _, gloss = line.partition(" | ")
                f2 = fields.split()
                words = [re.sub(r"\(.*\)$", "", f2[4 + 2 * i]).replace("_", " ") for i in range(int(f2[3], 16))]
                for w in words:
                    senses[w.lower()].append((names[pos], words, gloss.strip()))
    for lemma in sorted(senses):
        pars = []
        for pos, words, gloss in senses[lemma]:
            others = [w for w in words if w.lower() != lemma]
            also = f" (also {', '.join(others)})" if others else ""
            g = gloss[0].upper() + gloss[1:] if gloss else gloss
            art = "an" if pos[0] in "aeiou" else "a"
            pars.append(f"As {art} {pos}{also}: {g}" + ("" if g.endswith(_TERMINAL) else "."))
        text = clean_paragraphs(pars, min_words=20)
        if text:
            yield {"text": f"{lemma}\n{text}", "url": f"wordnet:{lemma}", "timestamp": "2006-12-06T00:00:00Z",
                   "source": "wordnet"}


class _ProseHTML(html.parser.HTMLParser):
    """Text of <p>, <li>, <dd>, <h1> elements outside <pre>, <script>, <style> and navigation."""
    BLOCKS = {"p", "li", "dd", "h1"}
    SKIP = {"pre", "script", "style", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pars, self.title, self._buf, self._depth, self._skip, self._in_body = [], None, [], 0, 0, False
        self._divs = []  # per open <div>: whether it started a skipped region

    def handle_starttag(self, tag, attrs):
        cls = (dict(attrs).get("class") or "").split()
        if tag == "div":
            if "body" in cls:
                self._in_body = True
            nav = bool({"sphinxsidebar", "related", "footer", "highlight"} & set(cls))
            self._divs.append(nav)
            self._skip += nav
        if tag in self.SKIP:
            self._skip += 1
        if tag in self.BLOCKS:
            self._flush()
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "div" and self._divs and self._divs.pop():
            self._skip -= 1
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in self.BLOCKS and self._depth:
            self._flush(tag)
            self._depth -= 1

    def handle_data(self, data):
        if self._depth and not self._skip and self._in_body:
            self._buf.append(data)

    def _flush(self, tag=None):
        text = " ".join("".join(self._buf).split()).replace("\u00b6", "").strip()
        self._buf = []
        if text:
            if tag == "h1" and self.title is None:
                self.title = text
            elif tag != "h1":
                self.pars.append(text)


def pydoc_documents():
    for path in sorted(glob.glob(os.path.join(PYDOC, "**", "*.html"), recursive=True)):
        rel = os.path.relpath(path, PYDOC)
        if rel.startswith(("_", "genindex", "py-modindex", "search")):
            continue
        p = _ProseHTML()
        with open(path, encoding="utf-8", errors="replace") as f:
            p.feed(f.read())
        text = clean_paragraphs(p.pars, need_terminal=True, min_words=50)
        if text:
            title = p.title or rel
            yield {"text": f"{title}\n{text}", "url": f"https://docs.python.org/3.11/{rel}",
                   "timestamp": "", "source": "python-doc"}


_GROFF_ESC = re.compile(r"\\(f[BIRPC1-4]|f\[[^\]]*\]|f\(..|s[-+]?\d+|\(..|\[[^\]]*\]|[&|^,/%:])")


def groff_to_paragraphs(src):
    """man(7) source -> paragraphs; mdoc pages and .so redirects give []."""
    if src.lstrip().startswith(".so ") or re.search(r"^\.Dd\b", src, re.M):
        return []
    pars, cur, title = [], [], None

    def brk():
        if cur:
            pars.append(" ".join(cur))
            cur.clear()

    skipped = ("SYNOPSIS", "OPTIONS", "FILES", "SEE ALSO", "AUTHOR", "AUTHORS", "COPYRIGHT", "REPORTING BUGS",
               "EXAMPLES", "EXAMPLE")
    for line in src.split("\n"):
        if line.startswith(("'", ".\\\"", '\\"')):
            continue
        if title in skipped and not line.startswith((".SH", ".SS")):
            continue
        if line.startswith("."):
            parts = line[1:].split(None, 1)
            req = parts[0] if parts else ""
            arg = parts[1] if len(parts) > 1 else ""
            if req in ("SH", "SS"):
                brk()
                title = arg.strip('"')
            elif req in ("PP", "LP", "P", "TP", "IP", "HP", "sp", "br", "RS", "RE", "nf", "fi", "in"):
                brk()
            elif req in ("B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB"):
                cur.append(" ".join(a.strip('"') for a in re.findall(r'"[^"]*"|\S+', arg)) if req in ("B", "I", "SM", "SB")
                           else "".join(a.strip('"') for a in re.findall(r'"[^"]*"|\S+', arg)))
            continue  # other requests carry no prose
        s = _GROFF_ESC.sub("", line.replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ")
                           .replace("\\(em", "\u2014").replace("\\(aq", "'").replace("\\(dq", '"'))
        s = s.replace("\\", "").strip()
        if s:
            cur.append(s)
        else:
            brk()
    brk()
    return pars


def manpage_documents():
    for path in sorted(glob.glob(os.path.join(MANDIR, "man[1-8]", "*.gz"))):
        if os.path.islink(path):
            continue
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                src = f.read()
        except (OSError, EOFError):
            continue
        text = clean_paragraphs(groff_to_paragraphs(src), need_terminal=True, min_words=50)
        if text:
            name = os.path.basename(path)[:-3]
            yield {"text": f"{name}\n{text}", "url": f"man:{name}", "timestamp": "", "source": "manpages"}


def sources():
    """(name, needs (paths), generator factory)."""
    s = SHARED
    out = [
        ("c4", [f"{s}/c4-en-sample/c4_sample.jsonl"], lambda: web_documents(f"{s}/c4-en-sample/c4_sample.jsonl", "c4")),
        ("c4-olmo", glob.glob(f"{s}/c4-en-sample/olmo-test-fixtures/*.gz"),
         lambda: (d for p in sorted(glob.glob(f"{s}/c4-en-sample/olmo-test-fixtures/*.gz"))
                  for d in web_documents(p, "c4-olmo"))),
        ("redpajama-c4", [f"{s}/redpajama-c4-sample/tiny_c4_sample.jsonl"],
         lambda: web_documents(f"{s}/redpajama-c4-sample/tiny_c4_sample.jsonl", "redpajama-c4")),
        ("dolma-cc", glob.glob(f"{s}/commoncrawl-web-dolma-samples/*.jsonl*"),
         lambda: (d for p in sorted(glob.glob(f"{s}/commoncrawl-web-dolma-samples/*.jsonl*"))
                  for d in web_documents(p, "dolma-cc"))),
        ("wikitext", [f"{s}/wikitext-2/raw/wiki.test.raw", f"{s}/wikitext-2/tokens/valid.txt"],
         lambda: (d for p in [f"{s}/wikitext-2/raw/wiki.test.raw", f"{s}/wikitext-2/tokens/valid.txt"]
                  for d in wikitext_documents(p, "wikitext"))),
        ("gcide", [f"{DICTD}/gcide.index"], lambda: dictd_documents("gcide", "gcide", "1913-01-01T00:00:00Z")),
        ("wordnet", [f"{WORDNET}/data.noun"], wordnet_documents),
        ("foldoc", [f"{DICTD}/foldoc.index"], lambda: dictd_documents("foldoc", "foldoc", "2023-01-19T00:00:00Z")),
        ("jargon", [f"{DICTD}/jargon.index"], lambda: dictd_documents("jargon", "jargon", "2003-12-29T00:00:00Z")),
        ("python-doc", [f"{PYDOC}/index.html"], pydoc_documents),
        ("manpages", [f"{MANDIR}/man1"], manpage_documents),
    ]
    return out


# -----------------------------------------------------------------------------
# split and near-duplicate removal


def split_of(url):
    """Stable split from the document id: 2% validation, 2% test, the rest train."""
    h = int.from_bytes(hashlib.sha1(url.encode("utf-8")).digest()[:8], "big") / 2 ** 64
    return "validation" if h < HELDOUT_FRACTION else "test" if h < 2 * HELDOUT_FRACTION else "train"


_WORD = re.compile(r"\w+")
_P1 = np.uint64(1099511628211)  # FNV prime: rolling hash multiplier


def shingles(text, n=SHINGLE):
    """Hashes (uint64, unique) of the n-word shingles of a text (lower-cased words)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return np.zeros(0, np.uint64)
    ids = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), np.uint64, len(words))
    h = np.zeros(len(words) - n + 1, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _P1 + ids[j:len(words) - n + 1 + j] + np.uint64(1)
    return np.unique(h)


class MinHasher:
    """MinHash with BANDS*ROWS hash functions h_k(x) = high 32 bits of (a_k*x + b_k) mod 2^64 (a_k odd)."""

    def __init__(self, num=BANDS * ROWS, seed=0):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2 ** 63, num, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2 ** 63, num, dtype=np.uint64)

    def signature(self, sh):
        """sh (S,) uint64 -> (num,) uint32 minima, in blocks to bound memory."""
        sig = np.full(len(self.a), np.iinfo(np.uint32).max, np.uint64)
        with np.errstate(over="ignore"):
            for i in range(0, len(sh), 4096):
                x = sh[i:i + 4096, None]
                sig = np.minimum(sig, ((x * self.a + self.b) >> np.uint64(32)).min(axis=0))
        return sig.astype(np.uint32)


def band_keys(sig):
    return [(b, sig[b * ROWS:(b + 1) * ROWS].tobytes()) for b in range(BANDS)]


def remove_near_duplicates(train, heldout, log=print):
    """heldout: dict split -> documents. Drops held-out documents whose shingle-set Jaccard with some training
    document is >= JACCARD (LSH candidates, then the exact Jaccard). One pass over the training documents.
    Returns (dict split -> kept documents, dict split -> [(held-out url, train url, jaccard)])."""
    mh = MinHasher()
    flat = [(s, d) for s in heldout for d in heldout[s]]
    held_sh = [shingles(d["text"]) for _, d in flat]
    buckets = defaultdict(list)  # (band, key) -> held-out indices
    for i, sh in enumerate(held_sh):
        if len(sh):
            for key in band_keys(mh.signature(sh)):
                buckets[key].append(i)
    candidates = defaultdict(set)  # held-out index -> train indices
    t0 = time.time()
    for j, d in enumerate(train):
        sh = shingles(d["text"])
        if len(sh):
            for key in band_keys(mh.signature(sh)):
                for i in buckets.get(key, ()):
                    candidates[i].add(j)
        if j and j % 50_000 == 0:
            log(f"  minhash: {j:,}/{len(train):,} training documents, {time.time() - t0:.0f} s")
    removed, drop = {s: [] for s in heldout}, set()
    for i, js in sorted(candidates.items()):
        a = held_sh[i]
        for j in sorted(js):
            b = shingles(train[j]["text"])
            jac = len(np.intersect1d(a, b, assume_unique=True)) / len(np.union1d(a, b))
            if jac >= JACCARD:
                split, doc = flat[i]
                removed[split].append((doc["url"], train[j]["url"], round(float(jac), 4)))
                drop.add(i)
                break
    kept = {s: [] for s in heldout}
    for i, (split, doc) in enumerate(flat):
        if i not in drop:
            kept[split].append(doc)
    return kept, removed


# -----------------------------------------------------------------------------
# output


def write_shards(docs, folder, split):
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, f"c4-{split}.*.json.gz")):
        os.remove(old)
    n = max(1, -(-len(docs) // DOCS_PER_SHARD))
    for s in range(n):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            for d in docs[s * DOCS_PER_SHARD:(s + 1) * DOCS_PER_SHARD]:
                gz.write((json.dumps(d, ensure_ascii=False) + "\n").encode("utf-8"))
        with open(os.path.join(folder, f"c4-{split}.{s:05d}-of-{n:05d}.json.gz"), "wb") as f:
            f.write(buf.getvalue())
    return n


def make_token_counter(path):
    if not path:
        return None
    from tokenizers_ref import ByteLevelBPE, byte_level_pre_tokenize

    with open(path, encoding="utf-8") as f:
        tj = json.load(f)
    if tj["model"]["type"] != "BPE":
        raise SystemExit(f"--tokenizer: only byte-level BPE tokenizer.json files are supported ({path})")
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in tj["model"]["merges"]]
    bpe = ByteLevelBPE(merges, [t["content"] for t in tj.get("added_tokens", [])])
    cache = {}

    def count(text):
        n = 0
        for w in byte_level_pre_tokenize(text):
            c = cache.get(w)
            if c is None:
                c = cache[w] = len(bpe.encode_word(w))
            n += c
        return n

    return count


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build C4-style train/validation/test shards of real prose.")
    ap.add_argument("--out", default=os.path.join(REPO, "data", "corpus"))
    ap.add_argument("--tokenizer", default=None, help="byte-level BPE tokenizer.json to count tokens with")
    ap.add_argument("--only", default=None, help="comma-separated source names (default: all available)")
    args = ap.parse_args(argv)

    log = lambda m: print(m, flush=True)  # noqa: E731
    only = set(args.only.split(",")) if args.only else None
    docs, seen, skipped, dups = [], set(), [], 0
    for name, needs, make in sources():
        if only and name not in only:
            continue
        if not needs or not all(os.path.exists(p) for p in needs):
            skipped.append(name)
            log(f"{name}: not available, skipped ({', '.join(needs) or 'no files'})")
            continue
        t0, n = time.time(), 0
        for d in make():
            key = hashlib.sha1(d["text"].encode("utf-8")).digest()
            if key in seen:
                dups += 1
                continue
            seen.add(key)
            docs.append(d)
            n += 1
        log(f"{name}: {n:,} documents ({time.time() - t0:.1f} s)")

    # unique ids, then split by id
    ids = Counter(d["url"] for d in docs)
    seq = Counter()
    for d in docs:
        if ids[d["url"]] > 1:
            seq[d["url"]] += 1
            d["url"] = f"{d['url']}#{seq[d['url']]}"
    parts = {s: [] for s in SPLITS}
    for d in sorted(docs, key=lambda d: d["url"]):
        parts[split_of(d["url"])].append(d)
    log(f"near-duplicates: validation ({len(parts['validation']):,}) and test ({len(parts['test']):,}) "
        f"against train ({len(parts['train']):,})")
    kept, removed = remove_near_duplicates(parts["train"], {s: parts[s] for s in ("validation", "test")}, log)
    parts.update(kept)

    count_tokens = make_token_counter(args.tokenizer)
    report = {"sources_skipped": skipped, "exact_duplicates_dropped": dups,
              "near_duplicates_removed": {s: len(r) for s, r in removed.items()},
              "near_duplicate_examples": {s: r[:10] for s, r in removed.items()},
              "tokenizer": args.tokenizer, "splits": {}}
    for s in SPLITS:
        shards = write_shards(parts[s], os.path.join(args.out, s), s)
        per = defaultdict(Counter)
        for d in parts[s]:
            c = per[d["source"]]
            c["documents"] += 1
            c["words"] += len(d["text"].split())
            c["bytes"] += len(d["text"].encode("utf-8"))
            if count_tokens:
                c["tokens"] += count_tokens(d["text"])
        total = sum(per.values(), Counter())
        report["splits"][s] = {"shards": shards, **total, "by_source": {k: dict(v) for k, v in sorted(per.items())}}
        log(f"{s}: {total['documents']:,} documents, {total['words']:,} words, {total['bytes']:,} bytes"
            + (f", {total['tokens']:,} tokens" if count_tokens else "") + f" in {shards} shard(s)")
    with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    log(f"near-duplicates removed: {report['near_duplicates_removed']}; report: {args.out}/report.json")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
