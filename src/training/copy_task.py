"""
Synthetic copy task: can a tiny RETRO learn to copy the next chunk from its neighbour? The diagnosis of the
decoder that ignored its neighbours (docs/training.md, "Diagnosis: chunked cross-attention had no positions"), kept as a check.

    /usr/bin/python3 src/training/copy_task.py [--cca_positions=none] [--max_seconds=420] [--key=value ...]

Data: random tokens (no structure, so nothing but the neighbours can predict them). Neighbours of chunk u, as
RETRO stores them: the same chunk u and its continuation (= chunk u+1, the text to be predicted), plus a random
distractor of the same length, in random order. The loss on the "copied" tokens (every target of chunks 1..U-1
and the token after the window, all of which the neighbours contain) starts at the uniform ln V; a decoder that
reads its neighbours drives it towards 0. Prints the loss curve and, at the end, one line:

    copy task: PASS|FAIL copied-token loss X.XXX nats = Y.Y% of uniform (goal < 10%), Z steps, S s

Exit code 0 on PASS, 1 on FAIL. Runs on CPU or CUDA, torch 1.13 or 2.x.
"""

import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import adamw, configure, pick_device  # noqa: E402
from model import Retro, RetroConfig  # noqa: E402

DEFAULTS = dict(
    device="cpu", seed=1234, cca_positions="rope",
    vocab=512, d_model=128, n_layers=4, n_heads=4, d_ff=256, cca_layers=[2, 3],
    encoder_layers=1, encoder_heads=4, encoder_d_ff=256,
    chunk=64, seq_len=256, batch=16, distractor=True,
    lr=2e-3, warmup=30, weight_decay=0.0, grad_clip=1.0,
    max_steps=800, max_seconds=420.0, log_every=25, eval_batches=4, goal=0.10, threads=0,
)


def build(cfg):
    c = RetroConfig(vocab_size=cfg["vocab"], d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                    n_heads=cfg["n_heads"], d_ff=cfg["d_ff"], max_seq_len=cfg["seq_len"], chunk_size=cfg["chunk"],
                    neighbour_len=2 * cfg["chunk"], num_neighbours=2, cca_layers=list(cfg["cca_layers"]),
                    encoder_layers=cfg["encoder_layers"], encoder_n_heads=cfg["encoder_heads"],
                    encoder_d_ff=cfg["encoder_d_ff"], cca_positions=cfg["cca_positions"])
    model = Retro(c)
    depth = c.n_layers + c.encoder_layers
    for name, p in model.named_parameters():  # the same init as train_retro.build_model
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * depth) if name.endswith(("o_proj.weight", "fc_out.weight")) else 0.02
            torch.nn.init.normal_(p, 0.0, std)
    return model


def batch(cfg, gen):
    """-> tokens (B, n), targets (B, n), neighbours (B, U, k, r), copied mask (B, n) bool."""
    B, n, m, V = cfg["batch"], cfg["seq_len"], cfg["chunk"], cfg["vocab"]
    U = n // m
    seq = torch.randint(0, V, (B, n + m), generator=gen)  # one chunk beyond the window: the last continuation
    x, y = seq[:, :n], seq[:, 1:n + 1]
    true = torch.stack([seq[:, u * m:u * m + 2 * m] for u in range(U)], dim=1)  # (B, U, r): chunk u + chunk u+1
    if cfg["distractor"]:
        other = torch.randint(0, V, true.shape, generator=gen)
        swap = torch.rand((B, U), generator=gen) < 0.5
        first = torch.where(swap[..., None], other, true)
        second = torch.where(swap[..., None], true, other)
        nb = torch.stack([first, second], dim=2)  # (B, U, 2, r)
    else:
        nb = true[:, :, None]
    copied = torch.zeros(B, n, dtype=torch.bool)
    copied[:, m - 1:] = True  # targets of chunks 1..U-1 and x_n: all inside some neighbour's continuation
    return x, y, nb, copied


def copied_loss(model, x, y, nb, copied):
    logits = model(x, nb)
    ce = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (B, n)
    return ce[copied].mean(), ce


def run(cfg):
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    device = pick_device(cfg["device"])
    model = build(cfg).to(device)
    opt = adamw(model, cfg["lr"], cfg["weight_decay"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    eval_gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    evals = [batch(cfg, eval_gen) for _ in range(cfg["eval_batches"])]
    uniform = math.log(cfg["vocab"])
    goal = cfg["goal"] * uniform
    print(f"copy task: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, cca_positions="
          f"{cfg['cca_positions']}, uniform loss {uniform:.3f}, goal < {goal:.3f} nats on copied tokens, device {device}")

    def evaluate():
        model.eval()
        with torch.no_grad():
            tot = sum(copied_loss(model, *(t.to(device) for t in b))[0].item() for b in evals) / len(evals)
        model.train()
        return tot

    t0 = time.time()
    step, loss = 0, evaluate()
    print(f"step {step:4d}: copied-token loss {loss:.3f} ({time.time() - t0:.0f} s)")
    while step < cfg["max_steps"] and time.time() - t0 < cfg["max_seconds"]:
        lr = cfg["lr"] * min(1.0, (step + 1) / cfg["warmup"])
        for g in opt.param_groups:
            g["lr"] = lr
        x, y, nb, copied = (t.to(device) for t in batch(cfg, gen))
        train_loss, _ = copied_loss(model, x, y, nb, copied)
        opt.zero_grad(set_to_none=True)
        train_loss.backward()
        if cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        step += 1
        if step % cfg["log_every"] == 0:
            loss = evaluate()
            print(f"step {step:4d}: copied-token loss {loss:.3f} (train {train_loss.item():.3f}, "
                  f"{time.time() - t0:.0f} s)")
            if loss < goal:
                break
    loss = evaluate()
    ok = loss < goal
    print(f"copy task: {'PASS' if ok else 'FAIL'} copied-token loss {loss:.3f} nats = {100 * loss / uniform:.1f}% "
          f"of uniform (goal < {100 * cfg['goal']:.0f}%), {step} steps, {time.time() - t0:.0f} s")
    return ok, loss, step


if __name__ == "__main__":
    ok, _, _ = run(configure(DEFAULTS, sys.argv[1:]))
    sys.exit(0 if ok else 1)
