"""Put a generated block between a page's markers: how the benchmarks and `scripts/` publish their tables.

README.md and the docs pages hold each generated table between a begin and
an end marker (HTML comments naming the script that writes it); the text
between them is replaced, everything else kept.
"""

import re


def replace_between(text, begin, end, block, where="the page"):
    """`text` with what lies between the first `begin` ... `end` replaced by `block`."""
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"Expected the markers {begin} and {end} in {where}")
    return pattern.sub(lambda _: f"{begin}\n{block}\n{end}", text, count=1)


def publish(path, blocks):
    """Rewrite the file at `path`: each (begin, end) of `blocks` gets its block."""
    with open(path) as f:
        text = f.read()
    for (begin, end), block in blocks.items():
        text = replace_between(text, begin, end, block, where=path)
    with open(path, "w") as f:
        f.write(text)
