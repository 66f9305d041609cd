"""
Writes the SQuAD v2 dev articles the bi-encoder did NOT train on (pairs.squad_split: sorted titles, every 4th held
out) as a SQuAD-format file, for the comparison runs (src/Retro.Eval) on the shipped models; --split train writes the
other articles (QA training and tuning material).

    /usr/bin/python3 src/training/squad_heldout.py --out data/eval/squad-heldout.json [--heldout_every 4]
    /usr/bin/python3 src/training/squad_heldout.py --split train --out data/eval/squad-train.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pairs import SQUAD, squad_articles, squad_split  # noqa: E402


def heldout_dataset(path=SQUAD, heldout_every=4, split="heldout"):
    """-> the SQuAD document {"version", "data"} with only the held-out articles (split "heldout") or only the
    training articles (split "train"), in the source order."""
    articles = squad_articles(path)
    held = set(squad_split(articles, heldout_every)["heldout_articles"])
    with open(path, encoding="utf-8") as f:
        version = json.load(f).get("version", "v2.0")
    return {"version": version, "data": [a for a in articles if (a["title"] in held) == (split == "heldout")]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--squad", default=SQUAD)
    ap.add_argument("--out", required=True)
    ap.add_argument("--heldout_every", type=int, default=4)
    ap.add_argument("--split", default="heldout", choices=["heldout", "train"],
                    help="heldout: evaluation articles; train: the others (QA training, tuning)")
    args = ap.parse_args(argv)
    data = heldout_dataset(args.squad, args.heldout_every, args.split)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    n_q = sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    print(f"{args.out}: {len(data['data'])} {args.split} articles, {n_q} questions")


if __name__ == "__main__":
    main()
