"""The learned ranker (fit_ranker.py): its features by hand, its file's checks, the fit, the stage end to end, and the
parity cases Retro.Core's LexicalRanker is checked against (tests/fixtures/ranker-features.json, LexicalRankerTests)."""

import hashlib
import json
import math
import os

import numpy as np
import pytest

import fit_ranker
import fixtures
from common import configure

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_features_by_hand():
    s = fit_ranker.spec(window=3, rank_k=1)
    cands = [("d1", "Compiler", "a program that compiles source code"),
             ("d2", "", "source code"),
             ("d1", "", "compilers compile")]
    f = fit_ranker.features("What is a compiler for source code?", cands, s)
    # terms: compiler, source, code (what/is/a/for are stop words); df: compiler 2 (d1 title, third), source 2, code 2
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    assert f.shape == (3, len(fit_ranker.FEATURES))
    assert np.allclose(f[:, 0], [1.0, 2 / 3, 2 / 4])                   # (k + 1) / (k + 1 + i)
    assert np.allclose(f[:, 1], [1.0, 2 / 3, 1 / 3])                   # coverage
    assert np.allclose(f[:, 2], [2 / 3, 2 / 3, 1 / 3])                 # best window of 3 words: "source code" at most
    # bigrams (compiler, source), (source, code): d1 has "source code", d2 too, the third none
    assert np.allclose(f[:, 3], [0.5, 0.5, 0.0])
    assert np.allclose(f[:, 4], [1 / 3, 0.0, 0.0])                     # the title holds "compiler"
    assert np.allclose(f[:, 5], [1 / 3, 0.0, 1 / 3])                   # two candidates of d1
    assert np.allclose(f[:, 6], [1.0, 0.0, 0.0])                       # the title is all question
    assert idf > 0


def test_words_and_stems():
    s = fit_ranker.spec()
    assert fit_ranker.words("Straße, CAFÉ-64bit don't \U0001d400x") == ["straße", "café", "64bit", "don", "t", "x"]
    assert [fit_ranker.stem(w, s) for w in ("compilers", "parsing", "sing", "used")] == ["compiler", "pars", "sing",
                                                                                         "used"]


def test_a_bad_spec_is_refused():
    s = fit_ranker.spec()
    fit_ranker.check_spec(s)
    for bad in ({**s, "format_version": 2}, {**s, "weights": [1.0]}, {**s, "window": 0},
                {**s, "weights": [float("nan")] * len(fit_ranker.FEATURES)}):
        with pytest.raises(ValueError):
            fit_ranker.check_spec(bad)


def test_fit_weights_learns_what_predicts_relevance():
    rng = np.random.default_rng(0)
    groups = []
    for g in range(300):
        X = rng.random((8, len(fit_ranker.FEATURES)))
        y = np.zeros(8)
        y[int(np.argmax(X[:, 4]))] = 1.0  # the title feature alone decides
        groups.append(("a" if g % 2 else "b", X, y))
    w = fit_ranker.fit_weights(groups, l2=1e-4, iters=100)
    assert int(np.argmax(w)) == 4 and w[4] > 5 * np.abs(np.delete(w, 4)).max()


def test_the_stage_fits_on_training_lines_and_measures_on_kept_out_ones(tmp_path):
    """End to end on synthetic qa-data lines: the relevant candidate is the one whose title is the question's term,
    at a random first-stage rank. The fitted ranker finds it on the tuning lines the fit never saw."""
    rng = np.random.default_rng(1)
    terms = [f"term{i}" for i in range(400)]
    lines = []
    for i in range(400):
        t = terms[i]
        cands = [{"doc": f"doc{i}-{j}", "title": terms[(i + j + 1) % 400], "text": f"about {t} and other things"}
                 for j in range(8)]
        pos = int(rng.integers(0, 8))
        cands[pos] = {"doc": f"doc{i}", "title": t, "text": "a definition"}
        lines.append({"dataset": "definitions-train" if i % 2 else "squad-train", "id": str(i),
                      "question": f"What is {t}?", "relevant_docs": [f"doc{i}"], "candidates": cands})
    lines.append({"dataset": "squad-train", "id": "none", "question": "x", "relevant_docs": ["nowhere"],
                  "candidates": lines[0]["candidates"]})
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines), encoding="utf-8")
    cfg = configure(fit_ranker.DEFAULTS, [f"--fr_lines={path}", f"--fr_out={tmp_path / 'ranker'}",
                                          f"--fr_tokenizer={os.path.join(REPO, 'tests', 'fixtures', 'retro-tiny', 'tokenizer.json')}",
                                          "--fr_tune_frac=0.25"])
    m = fit_ranker.run(cfg)
    assert m["skipped_lines"] == 1 and m["tuning_lines"] > 50
    for ds in ("definitions-train", "squad-train"):
        assert m["tuning"][ds]["first stage"]["recall@1"] < 0.3
        assert m["tuning"][ds]["ranker"]["recall@1"] > 0.95
    spec = json.loads((tmp_path / "ranker" / "ranker.json").read_text(encoding="utf-8"))
    fit_ranker.check_spec(spec)
    assert "| `title` |" in (tmp_path / "ranker" / "MODEL_CARD.md").read_text(encoding="utf-8")
    held = dict(lines[0], gold="foldoc:uniprocessor", relevant_docs=["foldoc:uniprocessor"])  # SHA-1 of the url ends in 0
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines + [held]), encoding="utf-8")
    with pytest.raises(SystemExit, match="held-out definition"):
        fit_ranker.run(cfg)
    assert m["ranker_sha256"] == hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def test_titles_of_lines_without_a_title_field():
    class Tok:
        @staticmethod
        def decode(ids):
            return {1: "compiler\nA program.", 2: "no title here"}[ids[0]]
    ln = {"dataset": "definitions-train", "candidates": [{"doc": "a", "tokens": [1]}, {"doc": "b", "tokens": [2]}]}
    assert fit_ranker.line_candidates(ln, Tok, {"definitions-train"}) == [("a", "compiler", "A program."),
                                                                         ("b", "", "no title here")]
    assert fit_ranker.line_candidates({**ln, "dataset": "squad-train"}, Tok, {"definitions-train"})[0] == \
        ("a", "", "compiler\nA program.")
    titled = {"dataset": "x", "candidates": [{"doc": "a", "title": "compiler", "tokens": [1]}]}
    assert fit_ranker.line_candidates(titled, Tok, set()) == [("a", "compiler", "A program.")]


def test_title_precision_prefers_the_title_the_question_names():
    s = fit_ranker.spec()
    cands = [("p", "pessimising compiler", "x"), ("c", "compiler", "y"), ("t", "the compiler", "z"), ("n", "", "w")]
    assert np.allclose(fit_ranker.features("What is a compiler?", cands, s)[:, 6], [0.5, 1.0, 1.0, 0.0])


def test_the_fixture_is_what_the_reference_writes():
    """tests/fixtures/ranker-features.json (Retro.Core's parity cases) is regenerated by fixtures.py unchanged."""
    with open(os.path.join(REPO, "tests", "fixtures", "ranker-features.json"), encoding="utf-8") as f:
        stored = json.load(f)
    assert json.loads(json.dumps(fixtures.ranker_cases())) == stored
    assert len(stored["cases"]) > 20


def test_the_shipped_ranker_is_valid():
    with open(os.path.join(REPO, "models", "ranker", "ranker.json"), encoding="utf-8") as f:
        fit_ranker.check_spec(json.load(f))
