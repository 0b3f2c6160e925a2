"""Human-readable model cards for the terminal."""

import json


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def text_card(info):
    """A terminal card: what the model is, its data, recipe and budget, metrics, anchors and files."""
    recipe = info.get("recipe", {})
    training = info.get("training", {})
    threads = (recipe.get("threads") or {}).get("intra_op")
    train_s = training.get("train_wall_time_s", recipe.get("wall_time_s"))
    budget = f"training {train_s}s on {recipe.get('machine', {}).get('cpus')} CPUs"
    if threads:
        budget += f" ({threads} thread{'s' if threads != 1 else ''})"
    lines = [
        f"{info['name']}  ({info.get('class', '?')}, {info.get('family', '?')}, {info.get('dataset', '?')})",
        f"  {info.get('summary', '')}",
        f"  data:     {info.get('data', '?')}",
        f"  recipe:   {recipe.get('script', '?')} args={_fmt(recipe.get('args', {}))} seed={recipe.get('seed')} "
        f"epochs={info.get('epochs')} batch={info.get('batch_size')} {budget}",
    ]
    if training.get("rule"):
        lines.append(f"  training: {training['rule']}; best epoch {training.get('best_epoch')} of "
                     f"{training.get('epochs_run')}")
    lines += [f"  versions: {_fmt(info.get('versions', {}))}", "  metrics:"]
    metrics = info.get("metrics", {})
    lines += [f"    {k:32s} {_fmt(v)}" for k, v in metrics.items() if not isinstance(v, (dict, list))]
    for k, v in metrics.items():  # a group of plain numbers (e.g. `temperature_scaled`) under its own name
        if isinstance(v, dict) and v and not any(isinstance(x, (dict, list)) for x in v.values()):
            lines += [f"    {k}:", *(f"      {kk:30s} {_fmt(x)}" for kk, x in v.items())]
    anchors = info.get("anchors") or {}
    if anchors:
        lines.append("  published anchors:")
        for k, v in anchors.items():
            if k == "entry" and isinstance(v, dict):
                lines.append(f"    {'this entry reproduces':32s} NLL {v.get('nll')} ({v.get('source')})")
            elif k == "table":
                lines += [f"    {row.get('model', '?'):32s} NLL {row.get('nll')} ({row.get('source')}; "
                          f"{row.get('data')})" for row in v]
            else:
                lines.append(f"    {k:32s} {_fmt(v)}")
    if info.get("notes"):
        lines.append(f"  notes: {info['notes']}")
    lines.append(f"  files: {len(info.get('files', {}))} checksummed (sha256)")
    return "\n".join(lines)
