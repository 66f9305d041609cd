#!/usr/bin/python3
"""Builds samples/corpus/sample.jsonl.gz: a small C4-style corpus of real public text from Debian dictionary packages.

One JSON line per dictionary entry: {"text", "url", "timestamp", "source"}; url is a stable URI
(foldoc:<term>, jargon:<term>, wordnet:<lemma>, percent-encoded). Sources, in this order:
  dict-foldoc   Free On-line Dictionary of Computing (GFDL 1.1+)   /usr/share/dictd/foldoc.{index,dict.dz}
  dict-jargon   The Jargon File 4.4.7 (public domain)              /usr/share/dictd/jargon.{index,dict.dz}
  wordnet-base  WordNet 3.0 glosses, one document per lemma         /usr/share/wordnet/{index,data}.{noun,verb,adj,adv}
WordNet lemmas fill the remaining budget (a fixed hash order, so the selection is stable) until the gzip file
reaches BUDGET bytes. Deterministic: same packages, same bytes (gzip mtime 0, no file name).

Needs:  apt-get install -y dict-foldoc dict-jargon wordnet-base
Run:    /usr/bin/python3 samples/build_sample.py        (from the repository root)
"""
import gzip
import hashlib
import io
import json
import os
import re
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "corpus", "sample.jsonl.gz")
BUDGET = 3_700_000  # bytes of gzip output; the committed file must stay <= 4 MB
DICTD = "/usr/share/dictd"
WORDNET = "/usr/share/wordnet"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

REQUIRED = {
    "dict-foldoc": [f"{DICTD}/foldoc.index", f"{DICTD}/foldoc.dict.dz"],
    "dict-jargon": [f"{DICTD}/jargon.index", f"{DICTD}/jargon.dict.dz"],
    "wordnet-base": [f"{WORDNET}/index.noun", f"{WORDNET}/data.noun"],
}


def check_packages():
    missing = [pkg for pkg, files in REQUIRED.items() if not all(os.path.exists(f) for f in files)]
    if missing:
        sys.exit("build_sample.py: missing Debian packages: " + " ".join(missing)
                 + "\ninstall them first:  apt-get install -y dict-foldoc dict-jargon wordnet-base")


def b64(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def dictd_entries(name):
    """(headword, body) per distinct definition of a dictd database, in index order; metadata entries skipped."""
    with gzip.open(f"{DICTD}/{name}.dict.dz", "rb") as f:
        data = f.read()
    seen = set()
    with open(f"{DICTD}/{name}.index", encoding="utf-8") as f:
        for line in f:
            head, off, length = line.rstrip("\n").split("\t")[:3]
            if head.startswith("00-database") or head.startswith("00database"):
                continue
            key = (b64(off), b64(length))
            if key in seen:
                continue  # an alias pointing at a definition already taken
            seen.add(key)
            body = data[key[0]:key[0] + key[1]].decode("utf-8", errors="replace")
            yield head, body


def clean_dictd(body):
    lines = body.split("\n")
    # dictd bodies start with the headword line(s), then an indented definition.
    while lines and not lines[0].startswith(" ") and lines[0].strip():
        lines.pop(0)
    text = "\n".join(l[3:] if l.startswith("   ") else l.strip() for l in lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


def header_date(name, fallback):
    with gzip.open(f"{DICTD}/{name}.dict.dz", "rb") as f:
        head = f.read(4096).decode("utf-8", errors="replace")
    months = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
    m = re.search(r"(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})", head)
    if not m or m.group(2).lower() not in months:
        return fallback
    return f"{int(m.group(3)):04d}-{months[m.group(2).lower()]:02d}-{int(m.group(1)):02d}T00:00:00Z"


def wordnet_documents():
    """One document per lemma: every sense of every part of speech, with synonyms and gloss."""
    pos_names = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
    senses = {}
    for pos in ["noun", "verb", "adj", "adv"]:
        with open(f"{WORDNET}/data.{pos}", "rb") as f:
            data = f.read()
        with open(f"{WORDNET}/index.{pos}", encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                parts = line.split()
                lemma, n_synsets, n_ptr = parts[0], int(parts[2]), int(parts[3])
                offsets = parts[4 + n_ptr + 2:4 + n_ptr + 2 + n_synsets]
                for off in offsets:
                    end = data.index(b"\n", int(off))
                    record = data[int(off):end].decode("utf-8")
                    fields, _, gloss = record.partition(" | ")
                    f2 = fields.split()
                    count = int(f2[3], 16)
                    words = [f2[4 + 2 * i].replace("_", " ") for i in range(count)]
                    words = [re.sub(r"\(.*\)$", "", w) for w in words]
                    senses.setdefault(lemma, []).append((pos_names[pos], words, gloss.strip()))
    for lemma in sorted(senses):
        display = lemma.replace("_", " ")
        lines = [display, ""]
        for i, (pos, words, gloss) in enumerate(senses[lemma], 1):
            others = [w for w in words if w.lower() != display.lower()]
            syn = f" (also: {', '.join(others)})" if others else ""
            lines.append(f"{i}. {pos}{syn}: {gloss}")
        yield lemma, "\n".join(lines)


def main():
    check_packages()
    docs = []
    for name, source, fallback in [("foldoc", "foldoc", "2023-01-19T00:00:00Z"), ("jargon", "jargon", "2003-12-29T00:00:00Z")]:
        stamp = header_date(name, fallback)
        for head, body in dictd_entries(name):
            text = clean_dictd(body)
            if text:
                docs.append({"text": f"{head}\n\n{text}", "url": f"{source}:{urllib.parse.quote(head, safe='')}",
                             "timestamp": stamp, "source": source})
    wordnet = sorted(wordnet_documents(), key=lambda e: hashlib.sha1(e[0].encode()).hexdigest())

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    buf = io.BytesIO()
    counts = {}
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        def write(doc):
            gz.write((json.dumps(doc, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"))
            counts[doc["source"]] = counts.get(doc["source"], 0) + 1
        for doc in docs:
            write(doc)
        for lemma, text in wordnet:
            if buf.tell() > BUDGET:
                break
            write({"text": text, "url": f"wordnet:{urllib.parse.quote(lemma, safe='')}",
                   "timestamp": "2006-12-06T00:00:00Z", "source": "wordnet"})
    with open(OUT, "wb") as f:
        f.write(buf.getvalue())
    size = os.path.getsize(OUT)
    print(f"wrote {OUT}: {size:,} bytes, " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
          + f", sha256 {hashlib.sha256(buf.getvalue()).hexdigest()}")
    if size > 4_000_000:
        sys.exit("sample is over 4 MB: lower BUDGET")


if __name__ == "__main__":
    main()
