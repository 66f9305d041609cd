"""
Shared pieces of the training pipeline: configuration (nanoGPT-style overrides), the byte-level BPE tokenizer
read from a Hugging Face tokenizer.json, device and precision helpers that run on torch 1.13 (CPU) and 2.x (GPU),
sharded checkpoints (files of at most 16 MiB), loss-curve logging (CSV + PNG) and metrics files.
"""

import ast
import csv
import gzip
import hashlib
import json
import math
import os
import sys
import time
from contextlib import nullcontext

import numpy as np
import torch

from safetensors_io import load_file, save_file
from tokenizers_ref import ByteLevelBPE

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# ../shared/data; RETRO_SHARED_DATA points elsewhere (e.g. a copy carried to a GPU machine)
SHARED_DATA = os.environ.get("RETRO_SHARED_DATA") or os.path.join(os.path.dirname(REPO), "shared", "data")
MAX_CHECKPOINT_FILE = 16 * 1024 * 1024  # bytes per checkpoint file (issue: "files of at most 16 MiB")

# -----------------------------------------------------------------------------
# configuration


def configure(defaults, argv):
    """nanoGPT-style configuration. defaults: dict of the script's keys. argv items are either config files
    (`config/tiny_cpu.py`, executed; every top-level name that is a key of defaults is taken, others are
    ignored because one file configures every stage) or `--key=value` (value parsed as a Python literal,
    else kept as a string; the key must exist, and the type must match the default's). -> new dict."""
    cfg = dict(defaults)
    for arg in argv:
        if not arg.startswith("--"):
            scope = {}
            with open(arg, encoding="utf-8") as f:
                exec(compile(f.read(), arg, "exec"), scope)  # noqa: S102 - trusted config files of this repo
            for k, v in scope.items():
                if k in cfg:
                    cfg[k] = v
            continue
        if "=" not in arg:
            raise SystemExit(f"expected --key=value, got {arg!r}")
        key, val = arg[2:].split("=", 1)
        if key not in cfg:
            if key in all_stage_keys():
                continue  # another stage's key (run_pipeline.sh passes overrides to every stage)
            raise SystemExit(f"unknown config key {key!r}; known: {', '.join(sorted(all_stage_keys()))}")
        try:
            val = ast.literal_eval(val)
        except (ValueError, SyntaxError):
            pass
        default = cfg[key]
        if default is not None and not isinstance(val, type(default)) \
                and not (isinstance(default, float) and isinstance(val, int)):
            raise SystemExit(f"--{key}: expected {type(default).__name__}, got {val!r}")
        cfg[key] = float(val) if isinstance(default, float) else val
    return cfg


# The key registry: the stage scripts whose DEFAULTS make up every key a command line may carry (run_pipeline.sh
# passes the same overrides to every stage). Their keys are read from their source (the `DEFAULTS = dict(...)`
# assignment), never by importing them: they import this module.
STAGES = ("train_encoder", "neighbours", "train_reranker", "train_retro", "train_qa", "eval_retro", "fit_copy", "fit_ranker")


def stage_keys(stage):
    """The keys of `DEFAULTS = dict(key=..., ...)` in the stage script `stage` (the registry's entry for it)."""
    path = os.path.join(HERE, stage + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEFAULTS" for t in node.targets)
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) and node.value.func.id == "dict"):
            return {kw.arg for kw in node.value.keywords if kw.arg is not None}
    raise RuntimeError(f"{path}: no `DEFAULTS = dict(...)` at module level for the key registry")


_ALL_STAGE_KEYS = None


def all_stage_keys():
    """Every configuration key of every stage in STAGES (encoder, neighbours, reranker, RETRO, QA)."""
    global _ALL_STAGE_KEYS
    if _ALL_STAGE_KEYS is None:
        _ALL_STAGE_KEYS = set().union(*(stage_keys(s) for s in STAGES))
    return _ALL_STAGE_KEYS


# -----------------------------------------------------------------------------
# device and precision (torch 1.13 CPU .. 2.x CUDA)


def pick_device(name):
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def autocast(device, dtype):
    """bf16/fp16 autocast on CUDA; a no-op on CPU or for float32 (torch 1.13's CPU autocast is avoided)."""
    if device.startswith("cuda") and dtype in ("bfloat16", "float16"):
        return torch.autocast(device_type="cuda", dtype=getattr(torch, dtype))
    return nullcontext()


def maybe_compile(model, enabled):
    if enabled and hasattr(torch, "compile"):
        return torch.compile(model)
    return model


def seed_all(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def cosine_lr(step, base_lr, warmup, total, min_ratio=0.1):
    """Linear warmup to base_lr over `warmup` steps, then cosine decay to min_ratio * base_lr at `total`."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def adamw(model, lr, weight_decay, betas=(0.9, 0.95)):
    """AdamW with weight decay on matrices only (not on norms, biases)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas)


# -----------------------------------------------------------------------------
# tokenizer (byte-level BPE from tokenizer.json)

# The one byte-level BPE encoder (tokenizers_ref.ByteLevelBPE), under the name the stage scripts import.
BpeTokenizer = ByteLevelBPE


def bert_tokenizer_json(bpe_json, sep_token="<|endoftext|>"):
    """The bi-/cross-encoder's tokenizer.json: the decoder's byte-level BPE (same ids) with a TemplateProcessing
    post-processor: single `S A S`, pair `S A S B S` (type ids 0 then 1) where S = sep_token (serves as [CLS]
    and [SEP]); padding uses the same id (padding is masked)."""
    obj = json.loads(json.dumps(bpe_json))
    ids = {t["content"]: t["id"] for t in obj.get("added_tokens") or []}
    if sep_token not in ids:
        raise ValueError(f"tokenizer has no special token {sep_token!r}")
    sid = ids[sep_token]

    def special(type_id):
        return {"SpecialToken": {"id": sep_token, "type_id": type_id}}

    obj["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [special(0), {"Sequence": {"id": "A", "type_id": 0}}, special(0)],
        "pair": [special(0), {"Sequence": {"id": "A", "type_id": 0}}, special(0),
                 {"Sequence": {"id": "B", "type_id": 1}}, special(1)],
        "special_tokens": {sep_token: {"id": sep_token, "ids": [sid], "tokens": [sep_token]}},
    }
    return obj


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# -----------------------------------------------------------------------------
# corpus shards


def iter_shard_documents(folder):
    """Documents ({"text", "url", "source", ...}) of every *.json.gz / *.jsonl(.gz) shard in folder, sorted."""
    names = sorted(n for n in os.listdir(folder) if n.endswith((".json.gz", ".jsonl", ".jsonl.gz")))
    for name in names:
        path = os.path.join(folder, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


# -----------------------------------------------------------------------------
# token files


def load_tokens(path):
    """A token file written by pretokenize.py -> dict(tokens (N,) int64 np, doc_offsets (D+1,) int64, meta)."""
    t, meta = load_file(path, with_metadata=True)
    return {"tokens": t["tokens"].to(torch.int64).numpy(), "doc_offsets": t["doc_offsets"].numpy(), "meta": meta}


def chunk_docs(doc_offsets, n_tokens, m):
    """Document index of the first and last token of every complete chunk: (C,), (C,)."""
    C = n_tokens // m
    first = np.searchsorted(doc_offsets, np.arange(C) * m, side="right") - 1
    last = np.searchsorted(doc_offsets, np.arange(C) * m + m - 1, side="right") - 1
    return first, last


# -----------------------------------------------------------------------------
# sharded checkpoints (files <= 16 MiB)


def save_sharded(tensors, folder, meta, max_bytes=MAX_CHECKPOINT_FILE):
    """Write dict name -> tensor as safetensors files of at most max_bytes each (large tensors are split along
    their flattened length), plus index.json (meta, and per tensor: shape, dtype and its parts). Atomic: writes
    into folder.tmp, then renames."""
    tmp = folder.rstrip("/") + ".tmp"
    if os.path.isdir(tmp):
        for n in os.listdir(tmp):
            os.remove(os.path.join(tmp, n))
    os.makedirs(tmp, exist_ok=True)
    budget = max_bytes - 64 * 1024  # room for the header
    files, current, size, index = [], {}, 0, {}

    def flush():
        nonlocal current, size
        if current:
            name = f"part-{len(files):05d}.safetensors"
            save_file(current, os.path.join(tmp, name))
            files.append(name)
            current, size = {}, 0

    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        flat = t.reshape(-1)
        per = max(1, budget // t.element_size())
        parts = []
        for start in range(0, max(1, flat.numel()), per):
            piece = flat[start:start + per].clone()
            nbytes = piece.numel() * piece.element_size()
            if size + nbytes > budget:
                flush()
            key = f"{name}@{start}"
            current[key] = piece
            size += nbytes
            parts.append([len(files), key])
        index[name] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "parts": parts}
    flush()
    for entry in index.values():  # file numbers -> names
        entry["parts"] = [[files[i], k] for i, k in entry["parts"]]
    write_json(os.path.join(tmp, "index.json"), {"meta": meta, "tensors": index})
    if os.path.isdir(folder):
        for n in os.listdir(folder):
            os.remove(os.path.join(folder, n))
        os.rmdir(folder)
    os.rename(tmp, folder)


def load_sharded(folder):
    """-> (dict name -> tensor, meta) of a folder written by save_sharded."""
    index = read_json(os.path.join(folder, "index.json"))
    cache, out = {}, {}
    for name, entry in index["tensors"].items():
        pieces = []
        for fname, key in entry["parts"]:
            if fname not in cache:
                cache[fname] = load_file(os.path.join(folder, fname))
            pieces.append(cache[fname][key])
        out[name] = torch.cat(pieces).reshape(entry["shape"])
    return out, index["meta"]


def training_state(model, optimizer):
    """Model and AdamW state as one flat dict of tensors (+ JSON-able extras) for save_sharded."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    names = {id(p): n for n, p in model.named_parameters()}
    steps = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            st = optimizer.state.get(p)
            if not st:
                continue
            n = names[id(p)]
            tensors[f"opt.{n}.exp_avg"] = st["exp_avg"]
            tensors[f"opt.{n}.exp_avg_sq"] = st["exp_avg_sq"]
            steps[n] = float(st["step"])
    return tensors, steps


def restore_training_state(model, optimizer, tensors, steps):
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    params = dict(model.named_parameters())
    for n, step in steps.items():
        p = params[n]
        st = optimizer.state[p]
        st["exp_avg"] = tensors[f"opt.{n}.exp_avg"].to(p.device)
        st["exp_avg_sq"] = tensors[f"opt.{n}.exp_avg_sq"].to(p.device)
        # torch >= 1.12 keeps step as a tensor
        st["step"] = torch.tensor(step)


# -----------------------------------------------------------------------------
# logging


class LossLog:
    """Appends rows to a CSV (step, name, value, seconds) and draws a PNG of every series."""

    def __init__(self, path, resume=False):
        self.path = path
        self.t0 = time.time()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not resume or not os.path.exists(path):
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(["step", "series", "value", "seconds"])

    def log(self, step, series, value):
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([step, series, f"{float(value):.6g}", f"{time.time() - self.t0:.1f}"])

    def read(self):
        series = {}
        with open(self.path, newline="") as f:
            for row in csv.DictReader(f):
                series.setdefault(row["series"], []).append((int(row["step"]), float(row["value"])))
        return series

    def plot(self, png, title):
        """Loss curves to png via matplotlib (Agg). Returns False (and writes nothing) without matplotlib."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib missing (apt-get install python3-matplotlib): no plot", file=sys.stderr)
            return False
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, pts in sorted(self.read().items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, marker="." if len(pts) < 30 else None)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(png, dpi=90)
        plt.close(fig)
        return True


def hardware():
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU, {torch.get_num_threads()} threads (torch {torch.__version__})"


def save_model(model, folder, extra=None):
    """A trained Bert or Retro as a sharded checkpoint (files <= 16 MiB): weights + its config in index.json."""
    meta = {"config": model.config.to_dict(), **(extra or {})}
    save_sharded({k: v.float() for k, v in model.state_dict().items()}, folder, meta)


def load_decoder(folder):
    """A RETRO decoder from a stage's checkpoint (save_model/save_sharded: index.json) or an exported folder
    (config.json + model.safetensors), in float32 on CPU."""
    if os.path.exists(os.path.join(folder, "index.json")):
        return load_model(folder)[0]
    from model import Retro
    return Retro.from_folder(folder)


def load_model(folder):
    """Inverse of save_model -> (model in float32 on CPU, index meta)."""
    from model import Bert, BertConfig, Retro, _from_dict, retro_config_from_dict
    tensors, meta = load_sharded(folder)
    c = meta["config"]
    model = Retro(retro_config_from_dict(c)) if c.get("model_type") == "retro" else Bert(_from_dict(BertConfig, c))
    model.load_state_dict(tensors, strict=True)
    return model, meta


# -----------------------------------------------------------------------------
# held-out definition entries

DICTIONARY_SOURCES = ("foldoc", "jargon", "wordnet", "gcide")


def held_out_definition(url):
    """The held-out rule of the definition questions: SHA-1 (hex) of the UTF-8 url ends in 0. Entries of the
    dictionary sources that match are evaluation material only: never trained or tuned on."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest().endswith("0")


def held_out_documents(token_path):
    """Bool per document of a token file (pretokenize.py's <split>.docs.jsonl.gz): a held-out dictionary entry."""
    with gzip.open(token_path.replace(".safetensors", ".docs.jsonl.gz"), "rt", encoding="utf-8") as f:
        infos = [json.loads(line) for line in f]
    return np.array([i.get("source") in DICTIONARY_SOURCES and held_out_definition(i["url"]) for i in infos], bool)

