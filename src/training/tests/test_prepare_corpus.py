"""prepare_corpus.py on synthetic inputs: cleaning rules, source parsers, split, near-duplicate removal, output."""

import gzip
import json
import os

import numpy as np
import pytest

import prepare_corpus as pc

PROSE = ("Retrieval-augmented models read neighbours from a large database of text. They improve factual "
         "accuracy without growing the number of parameters. The encoder is frozen during training.")


def words(seed, n):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(5000)]
    return " ".join(vocab[i] for i in rng.integers(0, len(vocab), n))


def test_prose_rules():
    assert pc.is_prose(PROSE, need_terminal=True)
    assert not pc.is_prose("Click here", need_terminal=False)  # too short
    assert not pc.is_prose("for (i = 0; i < n; i++) { x[i] = y[i]; }", need_terminal=False)  # code
    assert not pc.is_prose("This line has no terminal punctuation at all", need_terminal=True)
    assert pc.is_prose("This line has no terminal punctuation at all", need_terminal=False)
    assert not pc.is_prose("Please enable JavaScript to view this page properly.", need_terminal=True)
    text = pc.clean_paragraphs(["Menu", PROSE, "x = 1; y = 2; z = {3}", "  " + PROSE.replace(" ", "\t") + " "])
    assert text == PROSE + "\n" + PROSE
    assert pc.clean_paragraphs(["Too short to keep, though it is prose."], min_words=20) is None


def test_wikitext_articles_are_detokenized(tmp_path):
    path = tmp_path / "wiki.raw"
    body = ("The filter , also k @-@ type , was invented in 1 @,@ 920 ( early ) by Campbell . It is a simple "
            "ladder network of identical sections , and it was the first of its kind .")
    path.write_text(f" \n = Constant k filter = \n \n {body} \n \n = = History = = \n \n {body} \n \n {body} <unk> \n"
                    f" \n = Other = \n \n too short . \n", encoding="utf-8")
    docs = list(pc.wikitext_documents(str(path), "wikitext"))
    assert len(docs) == 1 and docs[0]["url"] == "wikipedia:Constant_k_filter"
    title, text, again = docs[0]["text"].split("\n")  # heading and the <unk> paragraph dropped
    assert title == "Constant k filter" and again == text
    assert text.startswith("The filter, also k-type, was invented in 1,920 (early) by Campbell. It is")


def test_groff_to_paragraphs():
    src = "\n".join([
        '.TH LS "1"', ".SH NAME", "ls \\- list directory contents", ".SH SYNOPSIS", ".B ls", "[\\fIOPTION\\fR]",
        ".SH DESCRIPTION", ".PP", "List information about the \\fBFILEs\\fR (the current directory by default).",
        "Sort entries alphabetically if none of \\fB\\-cftuvSUX\\fR is specified.", ".PP",
        '.\\" a comment', "Mandatory arguments to long options are mandatory for short options too."])
    pars = pc.groff_to_paragraphs(src)
    assert pars == ["ls - list directory contents",
                    "List information about the FILEs (the current directory by default). Sort entries "
                    "alphabetically if none of -cftuvSUX is specified.",
                    "Mandatory arguments to long options are mandatory for short options too."]
    assert pc.groff_to_paragraphs(".so man1/other.1\n") == []
    assert pc.groff_to_paragraphs(".Dd January 1, 2020\n.Nm foo\n") == []  # mdoc: not handled


def test_html_prose_extraction():
    page = """<html><body><div class="related"><p>Navigation text that is long enough to count here.</p></div>
    <div class="body" role="main"><h1>Classes<a class="headerlink">\u00b6</a></h1>
    <p>Classes provide a means of <code>bundling</code> data and functionality together.</p>
    <div class="highlight"><pre>class A:\n    pass</pre></div>
    <ul><li>A list item that explains one more thing about classes.</li></ul></div>
    <div class="sphinxsidebar"><p>Sidebar text that should not appear.</p></div></body></html>"""
    p = pc._ProseHTML()
    p.feed(page)
    assert p.title == "Classes"
    assert p.pars == ["Classes provide a means of bundling data and functionality together.",
                      "A list item that explains one more thing about classes."]


def test_gcide_cleaning():
    body = ('Aster \\As"ter\\, n. [L. aster, star.] 1. (Bot.) A genus of herbs with compound flowers;\n'
            "      starwort; {Michaelmas daisy}.\n      [1913 Webster]\n\n   2. A star-shaped figure. [PJC]\n")
    assert pc.clean_gcide(body) == ["Aster , n. [L. aster, star.] 1. (Bot.) A genus of herbs with compound "
                                    "flowers; starwort; Michaelmas daisy.", "2. A star-shaped figure."]


def test_minhash_estimates_jaccard():
    a = pc.shingles(words(1, 2000))
    b = pc.shingles(words(1, 2000)[: len(words(1, 2000)) // 2] + " " + words(2, 1000))
    exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    mh = pc.MinHasher()
    est = float(np.mean(mh.signature(a) == mh.signature(b)))
    assert abs(est - exact) < 0.15
    assert len(pc.shingles("too few words here")) == 0


def test_near_duplicates_are_removed_from_heldout_only():
    base = words(3, 400)
    ws = base.split()
    near = " ".join(ws[:-8] + ["x"] * 8)  # J ~ 0.9 with base
    half = " ".join(ws[:200]) + " " + words(4, 200)  # J ~ 0.33
    train = [{"text": base, "url": "t:base"}, {"text": words(5, 300), "url": "t:other"}]
    held = {"validation": [{"text": near, "url": "v:near"}, {"text": half, "url": "v:half"}],
            "test": [{"text": base, "url": "x:copy"}, {"text": words(6, 300), "url": "x:new"}]}
    kept, removed = pc.remove_near_duplicates(train, held, log=lambda m: None)
    assert [d["url"] for d in kept["validation"]] == ["v:half"]
    assert [d["url"] for d in kept["test"]] == ["x:new"]
    assert removed["test"] == [("x:copy", "t:base", 1.0)]
    assert removed["validation"][0][:2] == ("v:near", "t:base") and removed["validation"][0][2] >= 0.8


def test_split_is_stable_and_sized():
    splits = [pc.split_of(f"doc:{i}") for i in range(20000)]
    assert splits == [pc.split_of(f"doc:{i}") for i in range(20000)]
    for s in ("validation", "test"):
        assert 0.015 < splits.count(s) / len(splits) < 0.025


def test_end_to_end_writes_shards_and_report(tmp_path, monkeypatch):
    docs = [{"text": PROSE + " " + words(i, 60) + ".", "url": f"fake:{i}", "timestamp": "", "source": "fake"}
            for i in range(300)]
    docs.append(dict(docs[0]))  # exact duplicate
    monkeypatch.setattr(pc, "sources", lambda: [("fake", [str(tmp_path)], lambda: iter(docs)),
                                                ("missing", [str(tmp_path / "nope")], lambda: iter(()))])
    out = tmp_path / "corpus"
    pc.main(["--out", str(out), "--tokenizer",
             os.path.join(pc.REPO, "tests", "fixtures", "retro-tiny", "tokenizer.json")])
    report = json.loads((out / "report.json").read_text())
    assert report["sources_skipped"] == ["missing"] and report["exact_duplicates_dropped"] == 1
    total = sum(report["splits"][s]["documents"] for s in pc.SPLITS)
    assert total == 300 and report["splits"]["train"]["documents"] > 270
    assert report["splits"]["train"]["tokens"] > report["splits"]["train"]["words"]
    lines = []
    for s in pc.SPLITS:
        for f in sorted((out / s).iterdir()):
            assert f.name.startswith(f"c4-{s}.00000-of-00001")
            with gzip.open(f, "rt", encoding="utf-8") as g:
                lines += [json.loads(x) for x in g]
    assert sorted(d["url"] for d in lines) == sorted(f"fake:{i}" for i in range(300))
    first = (out / "train" / "c4-train.00000-of-00001.json.gz").read_bytes()
    pc.main(["--out", str(out)])
    assert (out / "train" / "c4-train.00000-of-00001.json.gz").read_bytes() == first  # deterministic


def test_squad_heldout_file_has_only_the_encoders_heldout_articles(tmp_path):
    import json as _json
    import squad_heldout
    from pairs import SQUAD, squad_articles, squad_split
    if not os.path.exists(SQUAD):
        pytest.skip("SQuAD dev file not in ../shared/data")
    out = tmp_path / "held.json"
    squad_heldout.main(["--out", str(out)])
    data = _json.load(open(out))
    split = squad_split(squad_articles())
    titles = [a["title"] for a in data["data"]]
    assert titles and set(titles) == set(split["heldout_articles"])
    assert not set(titles) & set(split["train_articles"])
