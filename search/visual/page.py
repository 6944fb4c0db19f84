"""The report's pages: one self-contained HTML file (figures embedded as PNG) and its Markdown twin.

The HTML needs no network and no other file: styles inline, images as ``data:`` URIs. The Markdown
links the same figures as PNG files beside it (``figures/<name>.png``).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from search.visual.drawn import Drawn, Missing

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1180px; margin: 2em auto;
       padding: 0 1.2em; color: #1b1b1b; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { border: 1px solid #ddd; padding: 0.3em 0.7em; }
th { background: #f3f5f9; text-align: left; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.93em; margin-top: 0.3em; }
.missing { color: #8a5a00; background: #fff8e6; padding: 0.5em 0.8em; border-left: 3px solid #e0a800; }
.subtitle { color: #555; } code { background: #f3f3f3; padding: 0.1em 0.3em; border-radius: 3px; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
"""


@dataclass(frozen=True)
class Section:
    """A heading and what goes under it: figures (or why not), tables as rows, and paragraphs."""

    title: str
    figures: Sequence[Drawn | Missing] = ()
    table: Sequence[Sequence[str]] = ()
    """Rows of cells; the first row is the header."""
    paragraphs: Sequence[str] = ()
    """Plain text (escaped in HTML); text between backquotes is shown as code."""


def write_page(folder: Path, stem: str, title: str, subtitle: str, sections: Sequence[Section]) -> Path:
    """``<stem>.html`` and ``<stem>.md`` in ``folder``, with every figure in ``figures/<name>.png``.

    Each file is written beside its place and renamed into it, so a reader never sees half of one.
    """
    pngs = {}
    for section in sections:
        for drawn in section.figures:
            if isinstance(drawn, Drawn):
                pngs[drawn.name] = drawn.png()
                _replace(folder / "figures" / f"{drawn.name}.png", pngs[drawn.name])
    page = folder / f"{stem}.html"
    _replace(page, render_html(title, subtitle, sections, pngs).encode())
    _replace(folder / f"{stem}.md", render_markdown(title, subtitle, sections).encode())
    return page


def render_html(title: str, subtitle: str, sections: Sequence[Section], pngs: dict[str, bytes]) -> str:
    """The whole page as one string."""
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="subtitle">{html.escape(subtitle)}</p>']
    for section in sections:
        body.append(f"<section><h2>{html.escape(section.title)}</h2>")
        body.extend(f"<p>{_inline_code(html.escape(text))}</p>" for text in section.paragraphs)
        if section.table:
            body.append(_html_table(section.table))
        for drawn in section.figures:
            if isinstance(drawn, Missing):
                body.append(f'<p class="missing">Not drawn: {html.escape(drawn.why)}.</p>')
                continue
            data = base64.b64encode(pngs[drawn.name]).decode()
            body.append(
                f'<figure id="{drawn.name}"><img alt="{html.escape(drawn.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(drawn.caption)}</figcaption></figure>"
            )
        body.append("</section>")
    made = f"Written {datetime.now():%Y-%m-%d %H:%M} by <code>python -m search.report</code>."
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<footer>{made}</footer>\n</body></html>\n"
    )


def render_markdown(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The same page in Markdown, its figures linked from ``figures/``."""
    lines = [f"# {title}", "", subtitle, ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for text in section.paragraphs:
            lines += [text, ""]
        if section.table:
            header, *rows = section.table
            lines.append("| " + " | ".join(header) + " |")
            lines.append("| " + " | ".join("---" for _ in header) + " |")
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            lines.append("")
        for drawn in section.figures:
            if isinstance(drawn, Missing):
                lines += [f"Not drawn: {drawn.why}.", ""]
            else:
                lines += [f"![{drawn.title}](figures/{drawn.name}.png)", "", drawn.caption, ""]
    return "\n".join(lines)


def _html_table(rows: Sequence[Sequence[str]]) -> str:
    header, *body = rows
    cells = ["<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>"]
    for row in body:
        cells.append(
            "<tr>" + "".join(f"<td{_number_class(c)}>{_inline_code(html.escape(c))}</td>" for c in row) + "</tr>"
        )
    return "<table>" + "".join(cells) + "</table>"


def _number_class(cell: str) -> str:
    stripped = cell.replace(",", "").replace("%", "").replace(".", "").replace(" ", "").lstrip("-")
    return ' class="number"' if stripped[:1].isdigit() else ""


def _inline_code(text: str) -> str:
    parts = text.split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.new")
    partial.write_bytes(data)
    os.replace(partial, path)
