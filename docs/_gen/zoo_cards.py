"""Reading a zoo card (an entry's metadata.json, as `tfvb.zoo.info` returns it) for its documentation page.

Cards differ by family and change when an entry is retrained, so nothing here assumes a key is
present: every reader falls back to "—" (or to nothing) and the page shows what the card has.
"""

import json
import numbers

from tfvb._numbers import standard_error_key

NOTES = ("source", "note")


def is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def kind(key):
    """What a metric or anchor measures, from its key: 'nll', 'll', 'rmse', 'accuracy', 'ece' or None."""
    key = key.lower()
    for name in ("nll", "rmse", "accuracy", "ece"):
        if key == name or key.endswith("_" + name):
            return name
    if key == "ll" or key.endswith("_ll"):
        return "ll"
    return None


def label(key):
    return key.replace("_", " ")


def _group(prefix, key):
    """The published model a number belongs to: its path in `anchors` without the metric's own name."""
    words = prefix + [label(key)]
    what = kind(key)
    if what and words[-1].endswith(what):
        words[-1] = words[-1][: -len(what)].strip()
    return " ".join(w for w in words if w) or "published"


def published(anchors):
    """Every published number in a card's `anchors`: [(model, kind, value, se, source)]."""
    rows = []

    def source_of(d, key):
        prefix = key.split("_", 1)[0]
        return d.get(f"{prefix}_source") or d.get("source") or anchors.get("source", "")

    def walk(d, prefix):
        for key, v in d.items():
            if key in NOTES or key.endswith("_se") or key.endswith("_source"):
                continue
            if isinstance(v, dict):
                walk(v, prefix + ["this entry's reference" if key == "entry" else label(key)])
            elif key == "table" and isinstance(v, list):
                rows.extend((str(r.get("model", "?")), "nll", r.get("nll"), None, str(r.get("source", "")))
                            for r in v if isinstance(r, dict))
            elif isinstance(v, list) and len(v) == 2 and all(is_number(x) for x in v):
                rows.append((_group(prefix, key), kind(key), v[0], v[1], source_of(d, key)))
            elif is_number(v):
                se = d.get(f"{key}_se")
                rows.append((_group(prefix, key), kind(key), v, se if is_number(se) else None, source_of(d, key)))

    walk(anchors or {}, [])
    return rows


def protocol_runs(info):
    """The protocol runs a regression card records: [(variant, splits, rmse (m, se), ll (m, se))]."""
    table = (info.get("metrics") or {}).get("protocol_table") or {}
    runs = []
    for variant, run in table.items():
        if isinstance(run, dict) and isinstance(run.get("rmse"), list) and isinstance(run.get("ll"), list):
            runs.append((variant, run.get("splits_run"), tuple(run["rmse"]), tuple(run["ll"])))
    return runs


def ours(info, what):
    """This entry's headline number for a kind of metric: (value, se, how it was measured) or None."""
    m = info.get("metrics") or {}
    if what == "nll" and info.get("family") == "vae":
        k = m.get("log_likelihood_k", 5000)
        value = m.get(f"iwae_{k}_nll")
        if value is None and is_number(m.get(f"iwae_{k}_log_likelihood")):
            value = -m[f"iwae_{k}_log_likelihood"]
        if is_number(value):
            images = m.get("log_likelihood_images")
            how = f"IWAE-{k} on {images:,} held-out images" if is_number(images) else f"IWAE-{k}"
            return value, m.get(f"iwae_{k}_se"), how
        return None
    if what in ("rmse", "ll"):
        multiplier = info.get("epoch_multiplier", 100)
        runs = {variant: rest for variant, *rest in protocol_runs(info)}
        run = runs.get(f"faithful_{multiplier}x_epochs")
        if run:
            splits, rmse, ll = run
            return (*(rmse if what == "rmse" else ll), f"the protocol at {multiplier}x epochs, {splits} splits")
    candidates = {"rmse": ["rmse", "test_rmse"], "ll": ["test_ll", "ll"]}.get(what, [what])
    for key in candidates:
        if is_number(m.get(key)):
            se_key = standard_error_key(m, key)
            splits = m.get("splits")
            how = f"mean over {splits} splits" if se_key and is_number(splits) else ""
            return m[key], m.get(se_key) if se_key else None, how
    return None


def scalar_metrics(info):
    """[(key, value, se)] of the card's plain numeric metrics (standard errors folded in)."""
    m = info.get("metrics") or {}
    se_keys = {standard_error_key(m, k) for k in m}
    return [(k, v, m.get(standard_error_key(m, k)) if standard_error_key(m, k) else None)
            for k, v in m.items() if is_number(v) and k not in se_keys]


def abridged(info, max_list=12):
    """The card as JSON without the file hashes, with long lists cut (for a collapsible block)."""

    def cut(v):
        if isinstance(v, dict):
            return {k: cut(x) for k, x in v.items()}
        if isinstance(v, list):
            return [cut(x) for x in v[:max_list]] + ([f"... {len(v) - max_list} more"] if len(v) > max_list else [])
        return v

    card = {k: v for k, v in info.items() if k != "files"}
    card["files"] = f"{len(info.get('files') or {})} files, sha256-checked"
    return json.dumps(cut(card), indent=2, default=str)
