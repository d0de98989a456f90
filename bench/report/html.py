"""Render report blocks as one self-contained HTML file: inline CSS, figures as base64 data URIs."""

from __future__ import annotations

import base64
import html
import re

from bench.report.doc import Block, Bullets, Figure, Heading, Para, Table, anchor

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.86em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { font-size: 0.9em; color: #555; font-style: italic; }
code { background: #f4f4f4; padding: 0 0.2em; border-radius: 3px; }
"""


def _inline(text: str) -> str:
    """Escape text; `backticks` become <code>, **double stars** <strong>, *single stars* <em>, and
    [text](#anchor) links within the page."""
    s = html.escape(text, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])", r"<em>\1</em>", s)
    return re.sub(r"\[([^\]]+)\]\((#[\w-]+)\)", r'<a href="\2">\1</a>', s)


def _data_uri(fig: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(fig.path.read_bytes()).decode("ascii")


def to_html(blocks: list[Block], title: str) -> str:
    """One HTML document that renders offline: no external links, scripts or stylesheets."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f'<h{b.level} id="{anchor(b.text)}">{_inline(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            if b.caption:
                out.append(f'<p class="caption">{_inline(b.caption)}</p>')
        elif isinstance(b, Figure):
            alt = html.escape(b.alt, quote=True)
            out.append(
                f'<figure><img src="{_data_uri(b)}" alt="{alt}">'
                f"<figcaption>{_inline(b.caption)}</figcaption></figure>"
            )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
