"""MkDocs hook: the LaTeX math of every page (and of the docstrings on API pages) rendered at build time.

`pymdownx.arithmatex` (generic mode) marks math as `<span class="arithmatex">\\(...\\)</span>` and
`<div class="arithmatex">\\[...\\]</div>`; this hook replaces each with MathML from `latex2mathml`.
Browsers draw MathML themselves, so the site needs no JavaScript math renderer and no network: it
renders the same offline, from `file://`, or behind a firewall. A formula latex2mathml cannot read,
or one with a command it would print as text (an unknown `\\foo`), fails the build with the page and
the formula, like a broken link.
"""

import html
import re

from latex2mathml.converter import convert

_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])\s*</(?P=tag)>',
    re.S,
)


class MathError(ValueError):
    pass


_UNKNOWN_COMMAND = re.compile(r">(\\[A-Za-z]+)<")  # latex2mathml writes a command it does not know as text


def to_mathml(latex, display):
    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception as e:  # latex2mathml raises several exception types for unreadable input
        raise MathError(f"Expected LaTeX that latex2mathml can convert. Received: {latex!r} "
                        f"({type(e).__name__} {e})") from e
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        raise MathError(f"Expected LaTeX commands that latex2mathml knows. Received: {unknown.group(1)} in {latex!r}")
    return mathml


def render(text):
    """Replace arithmatex's markers in an HTML fragment by MathML."""

    def replace(match):
        block = match.group("block") is not None
        latex = html.unescape(match.group("block") if block else match.group("inline"))
        mathml = to_mathml(latex, display=block)
        return f'<div class="math-block">{mathml}</div>' if block else mathml

    return _MATH.sub(replace, text)


def on_page_content(content, page, **kwargs):
    try:
        return render(content)
    except MathError as e:
        raise MathError(f"{page.file.src_uri}: {e}") from e
