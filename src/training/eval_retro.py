"""
Bits per byte of a trained RETRO decoder, closed-book vs retrieval, with the leakage breakdown and the oracle test,
on the evaluation part of the validation split (train_retro.py's evaluate() and oracle(), the figures of its
metrics.json), for any decoder: an exported folder (config.json + model.safetensors) or a model_ckpt folder.

    /usr/bin/python3 src/training/eval_retro.py config/retrofit_cpu.py --eval_model=models/retro \\
        [--eval_out=runs/fit/eval/retro.json --lm_final_eval_windows=256 ...]

Reads <out_dir>/tokenizer.json, tokens/ and neighbours/ as train_retro.py does; with lm_fit_split
"validation-tail" or "validation-spans" only its evaluation windows are read (the head of the split, or windows spread
over every third span of documents). Prints the figures and writes them
as JSON to eval_out.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_retro  # noqa: E402
from common import BpeTokenizer, configure, hardware, load_decoder, load_tokens, pick_device, write_json  # noqa: E402

DEFAULTS = dict(eval_model="", eval_out="")  # and every key of train_retro.py


def run(cfg):
    if not cfg["eval_model"]:
        raise SystemExit("--eval_model is required (an exported RETRO folder or a model_ckpt folder)")
    device = pick_device(cfg["device"])
    tok = BpeTokenizer.load(os.path.join(cfg["out_dir"], "tokenizer.json"))
    db = load_tokens(os.path.join(cfg["out_dir"], "tokens", "train.safetensors"))
    _, val = train_retro.fit_and_eval_data(cfg, db)
    model = load_decoder(cfg["eval_model"]).to(device)
    T = cfg["lm_seq_len"]
    t0 = time.time()
    ev = train_retro.evaluate(model, val, tok.token_byte_lengths(), T, cfg["lm_final_eval_windows"], device,
                              cfg["dtype"])
    if cfg["lm_oracle_windows"]:
        ev.update(train_retro.oracle(model, val, T, cfg["lm_oracle_windows"], device, cfg["dtype"]))
    ev.update({"model": cfg["eval_model"], "lm_fit_split": cfg["lm_fit_split"], "seq_len": T,
               "wall_seconds": round(time.time() - t0, 1), "hardware": hardware()})
    print(json.dumps({k: v for k, v in ev.items() if not k.startswith("leakage")}, indent=1))
    for row in ev["leakage"] + ev["leakage_above"]:
        print(row)
    if cfg["eval_out"]:
        os.makedirs(os.path.dirname(os.path.abspath(cfg["eval_out"])), exist_ok=True)
        write_json(cfg["eval_out"], ev)
    return ev


if __name__ == "__main__":
    run(configure({**train_retro.DEFAULTS, **DEFAULTS}, sys.argv[1:]))
