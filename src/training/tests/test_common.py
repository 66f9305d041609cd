"""common.py's registry of configuration keys (no stage script imported) and the one byte-level BPE encoder."""

import json
import os
import subprocess
import sys

import common
import neighbours
import tokenizers_ref
import eval_retro
import fit_copy
import fit_ranker
import train_encoder
import train_qa
import train_reranker
import train_retro
from tokenizers_ref import ByteLevelBPE, train_bpe

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_common_imports_no_stage_script():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import common; "
            "print([s for s in common.STAGES if s in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code, TRAINING], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_registry_holds_every_stage_key():
    stages = {"train_encoder": train_encoder, "neighbours": neighbours, "train_reranker": train_reranker,
              "train_retro": train_retro, "train_qa": train_qa, "eval_retro": eval_retro, "fit_copy": fit_copy,
              "fit_ranker": fit_ranker}
    assert set(common.STAGES) == set(stages)
    for name, module in stages.items():
        assert common.stage_keys(name) == set(module.DEFAULTS), name
    assert common.all_stage_keys() == set().union(*(set(m.DEFAULTS) for m in stages.values()))


def test_one_byte_level_bpe_encoder_for_trained_and_loaded_tokenizers(tmp_path):
    assert common.BpeTokenizer is tokenizers_ref.ByteLevelBPE
    text = "The river flows past the old mill; the bakers rise early. Café au lait, 1776 and 2024!\n  Twice: the river."
    trained = ByteLevelBPE(train_bpe(text * 3, 60), ["<|endoftext|>"])
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(trained.to_json()), encoding="utf-8")
    loaded = ByteLevelBPE.load(str(path))
    ids = trained.encode(text)
    assert loaded.encode(text) == ids
    assert len(ids) < len(text.encode("utf-8"))  # the merges apply
    assert loaded.decode(ids) == trained.decode(ids) == text
    assert loaded.eos_id == trained.eos_id == trained.vocab["<|endoftext|>"]
    assert loaded.vocab_size == trained.vocab_size == len(trained.vocab)
    assert loaded.decode([loaded.eos_id, *ids]) == text  # specials are not text
    assert loaded.sha256() == ByteLevelBPE.from_json(json.loads(path.read_text(encoding="utf-8"))).sha256()
    lengths = loaded.token_byte_lengths()
    assert lengths[loaded.eos_id] == 1 and sum(lengths[i] for i in ids) == len(text.encode("utf-8"))
