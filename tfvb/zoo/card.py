"""Human-readable model cards for the terminal."""

import json
import math

from tfvb._numbers import pm, seconds, standard_error_key

#: Metric groups of intervals (regressors: level -> kind -> coverage and width) or prediction sets (classifiers:
#: "90", "90_raps", ... -> coverage and size), printed one line per level and kind.
INTERVAL_GROUPS = ("coverage_protocol", "coverage", "coverage_split0")
SET_GROUPS = ("conformal_sets",)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def _duration(value):
    """'64,580 s (17.9 h)'."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)
    return f"{value:,.0f} s" + (f" ({seconds(value)})" if value >= 120 else "")


def _scalar_lines(metrics, indent):
    se_keys = {standard_error_key(metrics, k) for k in metrics} - {None}
    lines = []
    for k, v in metrics.items():
        if isinstance(v, (dict, list)) or k in se_keys:
            continue
        se_key = standard_error_key(metrics, k)
        if se_key and isinstance(v, (int, float)):
            shown = pm(v, metrics[se_key])
        else:
            shown = _duration(v) if k.endswith("_wall_time_s") else _fmt(v)
        lines.append(f"{' ' * indent}{k:{36 - indent}s} {shown}")
    return lines


def _mean_se(value):
    """A coverage or width stored as a number, or as [mean, standard error over splits]."""
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (value, None)


def _interval_lines(name, group):
    splits = group.get("splits")
    lines = [f"    {name}" + (f" (mean ± standard error over {splits} test splits)" if splits else "") + ":"]
    for level, kinds in group.items():
        if not isinstance(kinds, dict):
            continue
        for kind, c in kinds.items():
            if isinstance(c, dict) and "coverage" in c:
                lines.append(f"      {level} % {kind:22s} coverage {pm(*_mean_se(c['coverage']))}, "
                             f"mean width {pm(*_mean_se(c.get('mean_width')))}")
    return lines


def _set_lines(name, group):
    lines = [f"    {name} (mean and standard deviation over random calibration / test halvings):"]
    for key, c in group.items():
        if isinstance(c, dict) and "coverage" in c:
            kind = c.get("score", "?") + (", randomized" if c.get("randomized") else "")
            lines.append(f"      {key:14s} {kind:16s} coverage {c['coverage']:.3f} "
                         f"(SD {c.get('coverage_sd', math.nan):.3f}, {c.get('splits')} halvings of {c.get('rows')} "
                         "rows), mean set size "
                         f"{c.get('mean_set_size', math.nan):.2f}")
    return lines


def _training_line(training):
    line = f"  training: {training['rule']}; best epoch {training.get('best_epoch')} of {training.get('epochs_run')}"
    if training.get("stopped_early") is False:
        line += f" (ended by the {training.get('epochs_run')}-epoch cap, not by the stop rule)"
    return line


def text_card(info):
    """A terminal card: what the model is, its data, recipe and budget, metrics, anchors and files."""
    recipe = info.get("recipe", {})
    training = info.get("training", {})
    threads = (recipe.get("threads") or {}).get("intra_op")
    train_s = training.get("train_wall_time_s", recipe.get("wall_time_s"))
    budget = f"training {_duration(train_s)} on {recipe.get('machine', {}).get('cpus')} CPUs"
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
        lines.append(_training_line(training))
    lines += [f"  versions: {_fmt(info.get('versions', {}))}", "  metrics:"]
    metrics = info.get("metrics", {})
    lines += _scalar_lines(metrics, 4)
    for k, v in metrics.items():
        if not isinstance(v, dict) or not v:
            continue
        if k in INTERVAL_GROUPS:
            lines += _interval_lines(k, v)
        elif k in SET_GROUPS:
            lines += _set_lines(k, v)
        elif not any(isinstance(x, (dict, list)) for x in v.values()):  # a group of plain numbers under its name
            lines += [f"    {k}:", *_scalar_lines(v, 6)]
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
