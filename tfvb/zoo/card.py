"""Human-readable model cards for the terminal and the demo report."""

import json


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def text_card(info):
    """A terminal card: what the model is, its data, recipe, metrics, anchors and files."""
    recipe = info.get("recipe", {})
    lines = [
        f"{info['name']}  ({info.get('class', '?')}, {info.get('family', '?')})",
        f"  {info.get('summary', '')}",
        f"  data:     {info.get('data', '?')}",
        f"  recipe:   {recipe.get('script', '?')} seed={recipe.get('seed')} epochs={info.get('epochs')} "
        f"batch={info.get('batch_size')} wall={recipe.get('wall_time_s')}s on {recipe.get('machine', {}).get('cpus')} CPUs",
        f"  versions: {_fmt(info.get('versions', {}))}",
        "  metrics:",
    ]
    lines += [f"    {k:32s} {_fmt(v)}" for k, v in info.get("metrics", {}).items() if not isinstance(v, (dict, list))]
    anchors = info.get("anchors") or {}
    if anchors:
        lines.append("  published anchors:")
        lines += [f"    {k:32s} {_fmt(v)}" for k, v in anchors.items()]
    if info.get("notes"):
        lines.append(f"  notes: {info['notes']}")
    lines.append(f"  files: {len(info.get('files', {}))} checksummed (sha256)")
    return "\n".join(lines)


def markdown_table(rows, columns):
    """rows: list of dicts; columns: list of (key, header)."""
    out = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        out.append("| " + " | ".join(_fmt(row.get(k, "")) for k, _ in columns) + " |")
    return "\n".join(out)
