"""Writes one page per trained zoo entry (zoo/<name>.md) and the zoo's index, from the cards, at build time.

Nothing on these pages is typed by hand: each page is what the entry's metadata.json says (what the
model is, the data it saw, how it was trained, its numbers with their standard errors beside the
published anchors) plus pictures drawn from the card and the stored model (docs/_gen/zoo_pictures.py).
Retraining an entry changes its page on the next build; a registered entry without a card is listed
as not trained.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zoo_cards  # noqa: E402
import zoo_pictures  # noqa: E402

from tfvb import zoo  # noqa: E402
from tfvb.demo.numbers import plain, pm, seconds  # noqa: E402
from tfvb.zoo import store  # noqa: E402

FAMILIES = {"vae": "Variational autoencoders", "bnn": "Bayesian classifiers", "regression": "Regression (UCI)"}


def cell(value, se=None):
    if zoo_cards.is_number(value):
        return pm(value, se) if zoo_cards.is_number(se) else plain(value)
    return "—" if value is None else str(value)


def text(value):
    """A card's free text in a table cell or paragraph (no stray pipes or newlines)."""
    out = str(value).replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;").replace("\n", " ")
    return out.strip()


COLUMNS = {"nll": "NLL (nats)", "ll": "test LL (nats)", "rmse": "RMSE", "accuracy": "accuracy", "ece": "ECE"}


def comparison(info):
    """This entry's headline numbers in the first row, each published model's in the rows below."""
    anchors = zoo_cards.published(info.get("anchors"))
    kinds = [k for k in COLUMNS if any(a[1] == k for a in anchors)]
    if not kinds:
        return ["The card records no published anchor for this entry.\n"]
    mine = {k: zoo_cards.ours(info, k) for k in kinds}
    hows = list(dict.fromkeys(m[2] for m in mine.values() if m and m[2]))
    rows = [f"| **this entry**{' (' + text('; '.join(hows)) + ')' if hows else ''} | "
            + " | ".join(f"**{cell(*mine[k][:2])}**" if mine[k] else "—" for k in kinds) + " |"]
    models, sources = {}, []
    for model, kind, value, se, source in anchors:
        if kind in kinds:
            models.setdefault(model, {})[kind] = (value, se)
            if source not in sources:
                sources.append(source)
    for model, values in models.items():
        rows.append(f"| {text(model)} | " + " | ".join(cell(*values[k]) if k in values else "—" for k in kinds) + " |")
    return ["| model | " + " | ".join(COLUMNS[k] for k in kinds) + " |", "|---|" + "---|" * len(kinds), *rows, "",
            *(f"Source: {text(s)}\n" for s in sources if s)]


def training(info):
    recipe, t = info.get("recipe") or {}, info.get("training") or {}
    args = " ".join(f"{k}={v}" for k, v in (recipe.get("args") or {}).items())
    lines = [f"- Recipe: `{recipe.get('script', '?')}`{' ' + args if args else ''}, seed {recipe.get('seed', '—')}"
             f"; re-run it in a checkout with `tfvb zoo train {info['name']}`.",
             f"- Epochs: {plain(info.get('epochs'))}, batch size {plain(info.get('batch_size'))}"
             + (f", epochs x{info['epoch_multiplier']} the protocol's base" if info.get("epoch_multiplier") else "")]
    if t.get("rule"):
        lines.append(f"- Rule: {text(t['rule'])}.")
    if t.get("best_epoch") is not None:
        how = {True: " (stopped by the rule)",
               False: f" (ended by the {plain(t.get('epochs_run'))}-epoch cap, not by the stop rule)"}
        lines.append(f"- Best epoch {plain(t.get('best_epoch'))} of {plain(t.get('epochs_run'))} run"
                     f"{how.get(t.get('stopped_early'), '')}.")
    if info.get("selection"):
        lines.append(f"- Selection: {text(info['selection'])}.")
    lines.append(budget(info))
    versions = info.get("versions") or {}
    if versions:
        lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())
                     + (f"; written {info['created'][:10]}" if info.get("created") else "") + ".")
    return lines + [""]


def budget(info):
    """The time line: training time (summed over resumed sessions) and evaluation time where the card has them.

    `recipe.wall_time_s` is the wall time of the process that wrote the card; a run resumed over several
    sessions trained for much longer than that last process, so the training's own clock comes first.
    """
    recipe, metrics = info.get("recipe") or {}, info.get("metrics") or {}
    train = (info.get("training") or {}).get("train_wall_time_s", metrics.get("train_wall_time_s"))
    cpus, threads = (recipe.get("machine") or {}).get("cpus"), (recipe.get("threads") or {}).get("intra_op")
    where = ((f" on {cpus} CPUs" if cpus else "")
             + (f", {threads} TensorFlow thread{'s' if threads != 1 else ''}" if threads else ""))
    if train is None:
        return f"- Wall time: {seconds(recipe.get('wall_time_s'))}{where}."
    parts = [f"training {seconds(train)} (the epochs' own clock, summed over every session that resumed the run)"]
    if metrics.get("eval_wall_time_s") is not None:
        parts.append(f"evaluation {seconds(metrics['eval_wall_time_s'])}")
    return f"- Wall time: {', '.join(parts)}{where}."


def protocol_table(info):
    runs = zoo_cards.protocol_runs(info)
    if not runs:
        return []
    rows = [f"| {variant.replace('_', ' ')} | {plain(splits)} | {cell(*rmse)} | {cell(*ll)} |"
            for variant, splits, rmse, ll in runs]
    return ["The protocol runs recorded on the card (mean ± standard error over the splits):\n",
            "| run | splits | RMSE | test LL (nats) |", "|---|---|---|---|", *rows, ""]


def temperature_table(info):
    """A classifier card's held-out numbers as trained and after temperature scaling (`temperature_scaled`)."""
    m = info.get("metrics") or {}
    scaled = m.get("temperature_scaled")
    if not isinstance(scaled, dict):
        return []
    keys = [k for k in ("accuracy", "nll", "brier", "ece", "ood_auroc_entropy") if k in scaled]
    return [f"After temperature scaling (`tfvb.calibrate.temperature_scale`: every draw's logits divided by "
            f"T = {cell(scaled.get('temperature'))}, fitted by NLL on the {cell(scaled.get('calibration_rows'))} "
            "early-stopping digits), beside the numbers as trained:\n",
            "| | " + " | ".join(f"`{k}`" for k in keys) + " |", "|---|" + "---|" * len(keys),
            "| as trained | " + " | ".join(cell(m.get(k)) for k in keys) + " |",
            "| temperature-scaled | " + " | ".join(cell(scaled.get(k)) for k in keys) + " |", ""]


def per_split_table(info):
    splits = (info.get("metrics") or {}).get("per_split")
    if not (isinstance(splits, list) and splits and all(isinstance(s, dict) for s in splits)):
        return []
    keys = list(splits[0])
    return ["Per split:\n", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            *("| " + " | ".join(cell(s.get(k)) for k in keys) + " |" for s in splits), ""]


def page(name, info, pictures):
    entry = zoo.registry.get(name)
    constructor = "".join(f"\n    {k}={v!r}," for k, v in (info.get("constructor") or {}).items())
    anchors = info.get("anchors") or {}
    lines = [f"# {name}\n", f"{text(entry.summary)}.\n",
             "| class | family | data set | load it |", "|---|---|---|---|",
             f"| `{info.get('class', '?')}` | {entry.family} | {entry.dataset} | `tfvb.zoo.load(\"{name}\")` |", "",
             "## What it is\n", f"{text(info.get('notes') or entry.summary)}\n",
             "Its constructor arguments (the model `tfvb.zoo.load` returns is built with them):\n",
             "```python", f"tfvb.models.{info.get('class', '?')}({constructor}\n)", "```\n",
             "## Data\n", f"{text(info.get('data', '—'))}\n",
             "## Training\n", *training(info)]
    curve = [p for p in pictures if "learning_curve" in p[1]]
    for caption, path in curve:
        lines += [f"![{caption}]({name}/{os.path.basename(path)})\n", f"*{caption}.*\n"]
    lines += ["## Numbers beside the published anchors\n", *comparison(info)]
    if anchors.get("note"):
        lines.append(f"Note: {text(anchors['note'])}\n")
    lines += temperature_table(info) + protocol_table(info) + per_split_table(info)
    others = [p for p in pictures if p not in curve]
    if others:
        lines.append("## Pictures\n")
        for caption, path in others:
            lines += [f"![{caption}]({name}/{os.path.basename(path)})\n", f"*{caption}.*\n"]
    lines += ["## Every metric on the card\n", "| metric | value |", "|---|---|",
              *(f"| `{k}` | {cell(v, se)} |" for k, v, se in zoo_cards.scalar_metrics(info)), "",
              '??? note "metadata.json (abridged)"\n', "    ```json",
              *("    " + line for line in zoo_cards.abridged(info).splitlines()), "    ```\n"]
    return "\n".join(lines)


def headline(info):
    for kind in ("nll", "accuracy", "rmse"):
        mine = zoo_cards.ours(info, kind)
        if mine:
            return f"{kind.upper() if kind != 'accuracy' else 'accuracy'} {cell(*mine[:2])}"
    return "—"


def main():
    import mkdocs_gen_files

    trained, untrained = [], []
    for name in zoo.list_models():
        (trained if zoo.is_trained(name) else untrained).append(name)
    index = ["# Model zoo\n",
             "Pretrained models that ship inside the package: `tfvb.zoo.load(name)` returns a compiled "
             "`keras.Model` (checksums verified), `tfvb.zoo.load(name, format=\"savedmodel\")` the serving export. "
             "Each page below is generated from the entry's `metadata.json` when the site is built.\n"]
    summary = ["* [Overview](index.md)"]
    for family, title in FAMILIES.items():
        names = [n for n in trained if zoo.registry.get(n).family == family]
        if not names:
            continue
        index += [f"## {title}\n", "| entry | data set | what | headline (± standard error) |", "|---|---|---|---|"]
        for name in names:
            info = zoo.info(name)
            meta = os.path.join(zoo.folder(name), store.META_FILE)
            pictures = zoo_pictures.draw(name, info, meta)
            with mkdocs_gen_files.open(f"zoo/{name}.md", "w") as f:
                f.write(page(name, info, pictures))
            for _, path in pictures:
                with open(path, "rb") as src, mkdocs_gen_files.open(f"zoo/{name}/{os.path.basename(path)}", "wb") as f:
                    f.write(src.read())
            entry = zoo.registry.get(name)
            index.append(f"| [`{name}`]({name}.md) | {entry.dataset} | {text(entry.summary)} | {headline(info)} |")
            summary.append(f"* [{name}]({name}.md)")
        index.append("")
    if untrained:
        index += ["## Registered, not trained yet\n",
                  "These entries have a recipe (`tfvb zoo train NAME` in a checkout) but no stored model:\n",
                  *(f"- `{n}`: {text(zoo.registry.get(n).summary)}" for n in untrained), ""]
    with mkdocs_gen_files.open("zoo/index.md", "w") as f:
        f.write("\n".join(index))
    with mkdocs_gen_files.open("zoo/SUMMARY.md", "w") as f:
        f.write("\n".join(summary) + "\n")


if __name__ == "<run_path>":  # run by mkdocs-gen-files (runpy.run_path); tests import the functions
    main()
