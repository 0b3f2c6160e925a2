"""The zoo's results table, built from the entries' metadata.json (never typed by hand).

    .venv/bin/python scripts/zoo_table.py            # print the table
    .venv/bin/python scripts/zoo_table.py --readme   # rewrite it in README.md between its markers
"""

import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfvb import zoo  # noqa: E402
from tfvb.demo.numbers import plain, pm, seconds  # noqa: E402

BEGIN, END = "<!-- zoo-table:begin (scripts/zoo_table.py) -->", "<!-- zoo-table:end -->"


def vae_table():
    rows = ["| entry | data | epochs to convergence (run) | train time | held-out NLL, IWAE-5000 | jackknife NLL "
            "| active units |", "|---|---|---|---|---|---|---|"]
    for name in zoo.list_models():
        entry = zoo.registry.get(name)
        if entry.family != "vae" or not zoo.is_trained(name):
            continue
        info = zoo.info(name)
        m, t = info["metrics"], info.get("training", {})
        k = m.get("log_likelihood_k", 5000)
        images = m.get("log_likelihood_images")
        rows.append(f"| `{name}` | {entry.dataset} | {t.get('best_epoch', '—')} ({t.get('epochs_run', '—')}) "
                    f"| {seconds(t.get('train_wall_time_s'))} | {pm(m.get(f'iwae_{k}_nll'), m.get(f'iwae_{k}_se'))} "
                    f"({plain(images)} images) | {pm(m.get(f'jackknife_{k}_nll'), m.get(f'iwae_{k}_se'))} "
                    f"| {plain(m.get('active_units'))} |")
    rows += ["", *anchor_rows()]
    return "\n".join(rows)


def anchor_rows():
    """The published MNIST numbers the cards carry, with the data they were trained on."""
    for name in zoo.list_models():
        if zoo.is_trained(name):
            table = (zoo.info(name).get("anchors") or {}).get("table")
            if table:
                note = zoo.info(name)["anchors"].get("note", "")
                return (["| published (MNIST) | test NLL | source | trained on |", "|---|---|---|---|"]
                        + [f"| {r['model']} | {plain(r['nll'])} | {r['source']} | {r['data']} |" for r in table]
                        + ["", note])
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args()
    table = vae_table()
    if not args.readme:
        print(table)
        return
    path = os.path.join(REPO, "README.md")
    with open(path) as f:
        text = f.read()
    block = f"{BEGIN}\n{table}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    with open(path, "w") as f:
        f.write(pattern.sub(lambda _: block, text))
    print(f"rewrote the zoo table in {path}")


if __name__ == "__main__":
    main()
