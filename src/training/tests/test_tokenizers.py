"""The reference tokenizers that build the fixture tokenizer.json files."""

import pytest

from fixtures import BPE_CORPUS, wordpiece_vocab
from tokenizers_ref import (ByteLevelBPE, WordPiece, bert_normalize, bert_pre_tokenize, byte_level_pre_tokenize,
                            bytes_to_unicode, train_bpe)


def test_wordpiece_greedy_longest_match_unk_and_templates():
    wp = WordPiece(wordpiece_vocab())
    assert wp.tokenize("Retrievals!") == ["retrieval", "##s", "!"]
    assert wp.tokenize("Naïve  CAFÉ") == ["n", "##a", "##i", "##v", "##e", "c", "##a", "##f", "##e"]
    assert wp.tokenize("x42 #") == ["[UNK]", "[UNK]"]  # no ##4, no '#': whole word unknown
    ids, types = wp.encode("a b", "c")
    v = wp.vocab
    assert ids == [v["[CLS]"], v["a"], v["b"], v["[SEP]"], v["c"], v["[SEP]"]]
    assert types == [0, 0, 0, 0, 1, 1]
    assert [v[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]


def test_bert_normalizer_and_pre_tokenizer():
    assert bert_normalize("Héllo\tWORLD\x00") == "hello world"
    assert bert_pre_tokenize("don't stop—now.") == ["don", "'", "t", "stop", "—", "now", "."]


def test_wordpiece_json_is_hugging_face_shaped():
    j = WordPiece(wordpiece_vocab()).to_json()
    assert j["model"]["type"] == "WordPiece" and j["normalizer"]["type"] == "BertNormalizer"
    assert j["pre_tokenizer"] == {"type": "BertPreTokenizer"}
    assert j["post_processor"]["type"] == "TemplateProcessing"
    assert [x.get("SpecialToken", x.get("Sequence"))["id"] for x in j["post_processor"]["pair"]] == \
        ["[CLS]", "A", "[SEP]", "B", "[SEP]"]
    assert [t["id"] for t in j["added_tokens"]] == [0, 1, 2, 3, 4]


def test_bytes_to_unicode_is_gpt2s():
    b2u = bytes_to_unicode()
    assert len(set(b2u.values())) == 256
    assert b2u[ord(" ")] == "Ġ" and b2u[ord("\n")] == "Ċ" and b2u[ord("A")] == "A"
    assert list(b2u.values())[0] == "!"  # GPT-2's symbol order: printable bytes first


def test_gpt2_pre_tokenizer_splits():
    text = "Hello world's 12,345  ok\n\nend"
    pieces = byte_level_pre_tokenize(text)
    assert pieces == ["Hello", "Ġworld", "'s", "Ġ12", ",", "345", "Ġ", "Ġok", "Ċ", "Ċ", "end"]


def test_bpe_training_and_round_trip():
    merges = train_bpe(BPE_CORPUS, 100)
    bpe = ByteLevelBPE(merges, ["<|endoftext|>"])
    assert len(bpe.vocab) == 256 + 100 + 1
    assert merges[0] in (("Ġ", "t"), ("e", "r"), ("Ġ", "a"), ("t", "h"), ("i", "n"), ("Ġ", "c"), ("e", "n"))
    for text in ["the neighbours of a chunk", "日本語 and émojis 🎉", "  spaces\n\ttabs  "]:
        ids = bpe.encode(text)
        assert bpe.decode(ids) == text
    assert len(bpe.encode("the retrieval")) < len("the retrieval".encode())  # merges apply
    with pytest.raises(ValueError, match="corpus too small"):
        train_bpe("ab", 5)
