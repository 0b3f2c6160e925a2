"""Griffe extension: docstrings in tfvb's house style, read as griffe's Google style reads them.

- An `Args:` item naming several parameters ("a, b: as in `f`") documents each of them.
- An `Example:` section is an examples section (its `>>>` lines shown as a Python session), as
  `Examples:` is; griffe would otherwise render it as an admonition of Markdown text.

tfvb's docstrings group parameters that share a description (`image_shape, beta, seed: as in CVAE`).
Google style has one name per item, so without this griffe reports "a, b" as a parameter missing from
the signature. Each grouped item is expanded into one item per name with the same description;
a name that really is missing from the signature is still reported (the strict build fails on it).
"""

import re

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.M)
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Params):\s*$")
_GROUPED = re.compile(r"^(\s+)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+)\s*:(\s.*|)$")
_NAMES_GO_ON = re.compile(r"^\s+[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*\s*,\s*$")  # "a, b," wrapped before its colon


def _deeper(lines, j, indent):
    """Line j continues an item indented by `indent` (a blank line does when the next text line does)."""
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > indent


def expand(text):
    lines, out, section_indent, item_indent = text.splitlines(), [], None, None
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        if header:
            section_indent, item_indent = len(header.group(1)), None
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        if section_indent is not None and line.strip() and indent <= section_indent:
            section_indent = None  # the Args section ended
        if section_indent is not None and indent == item_indent:
            while _NAMES_GO_ON.match(line) and i + 1 < len(lines) and lines[i + 1].strip():
                line = f"{line.rstrip()} {lines[i + 1].strip()}"
                i += 1
        grouped = _GROUPED.match(line) if section_indent is not None else None
        if grouped and (item_indent is None or len(grouped.group(1)) == item_indent):
            item_indent = len(grouped.group(1))
            continuation = []
            while i + 1 < len(lines) and _deeper(lines, i + 1, item_indent):
                continuation.append(lines[i + 1])
                i += 1
            for name in (n.strip() for n in grouped.group(2).split(",")):
                out += [f"{grouped.group(1)}{name}:{grouped.group(3)}", *continuation]
        else:
            if section_indent is not None and item_indent is None and line.strip():
                item_indent = indent
            out.append(line)
        i += 1
    return "\n".join(out)


class HouseStyle(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", expand(obj.docstring.value))
