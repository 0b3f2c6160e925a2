"""A report written twice from the same blocks: `report.md` (pictures beside it) and a
self-contained `report.html` (pictures inline), readable without the folder it came from."""

import base64
import html
import os

from tfvb import _atomic


class Report:
    """Headings, paragraphs, lists, tables and figures, in order."""

    def __init__(self, title):
        self.title = title
        self.blocks = []

    def heading(self, text, level=2):
        self.blocks.append(("heading", level, text))

    def paragraph(self, text):
        self.blocks.append(("paragraph", text))

    def bullets(self, items):
        if items:
            self.blocks.append(("bullets", list(items)))

    def table(self, headers, rows):
        """`rows`: lists of cell strings, one per header."""
        self.blocks.append(("table", list(headers), [list(map(str, r)) for r in rows]))

    def figures(self, paths, caption=None):
        """Pictures shown side by side (each a PNG written beside the report)."""
        paths = [p for p in paths if p]
        if paths:
            self.blocks.append(("figures", paths, caption))

    # -- markdown -----------------------------------------------------------------------------------
    def markdown(self):
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                out += ["#" * block[1] + " " + block[2], ""]
            elif kind == "paragraph":
                out += [block[1], ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in block[1]] + [""]
            elif kind == "table":
                headers, rows = block[1], block[2]
                out.append("| " + " | ".join(headers) + " |")
                out.append("|" + "---|" * len(headers))
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
                out.append("")
            elif kind == "figures":
                out.append(" ".join(f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in block[1]))
                if block[2]:
                    out += ["", f"*{block[2]}*"]
                out.append("")
        return "\n".join(out) + "\n"

    # -- html ---------------------------------------------------------------------------------------
    def html(self):
        parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(self.title)}"
                 f"</title>\n<style>{_CSS}</style></head><body>\n<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "paragraph":
                parts.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "bullets":
                parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
            elif kind == "table":
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block[2])
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "figures":
                imgs = "".join(f"<img alt='{html.escape(os.path.basename(p))}' src='data:image/png;base64,"
                               f"{_base64(p)}'>" for p in block[1])
                caption = f"<figcaption>{_inline(block[2])}</figcaption>" if block[2] else ""
                parts.append(f"<figure>{imgs}{caption}</figure>")
        parts.append("</body></html>\n")
        return "\n".join(parts)

    def write(self, folder):
        """Write report.md and report.html into `folder`; returns the markdown path.

        Both texts are made before either file is touched, and each file is replaced whole (an interrupted
        write leaves the previous file, never a torn one).
        """
        md = os.path.join(folder, "report.md")
        texts = {md: self.markdown(), os.path.join(folder, "report.html"): self.html()}
        for path, text in texts.items():
            _atomic.write_text(path, text)
        return md


def _base64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def _inline(text):
    """Markdown's `code` and **bold** in HTML; everything else escaped."""
    out, bold = [], False
    for i, piece in enumerate(str(text).split("`")):
        if i % 2 == 1:
            out.append(f"<code>{html.escape(piece)}</code>")
            continue
        chunks = piece.split("**")
        for j, chunk in enumerate(chunks):
            if j:
                out.append("</b>" if bold else "<b>")
                bold = not bold
            out.append(html.escape(chunk))
    if bold:
        out.append("</b>")
    return "".join(out)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 0.8em 0; }
figure img { max-width: 48%; margin-right: 1%; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""
