"""The pages auditors read: one self-contained HTML file each (styles inline, images as data
URIs, no script, font or request to anywhere: the province's machines may be offline),
Vietnamese first with English beside it, printable.

Every builder returns a string; `page` wraps a body in the shared shell.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

STYLE = """
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; margin: 2em auto;
       max-width: 64em; color: #1d1d1d; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
.en { color: #5a5a5a; } .en::before { content: " / "; color: #aaa; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #d4d4d4; padding: .25em .55em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; margin: 1em 0; }
figure img { max-width: 36em; border: 1px solid #e2e2e2; }
figcaption { flex-basis: 100%; font-size: .9em; color: #444; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5em .8em; }
.never { background: #fdecea; border-left: 4px solid #c62828; padding: .5em .8em; }
.muted { color: #666; font-size: .9em; }
nav a { margin-right: 1em; }
@media print { nav { display: none; } body { margin: 0; max-width: none; } }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def both(vi: str, en: str) -> str:
    """Vietnamese, then English beside it (escaped)."""
    return f'<span lang="vi">{esc(vi)}</span><span lang="en" class="en">{esc(en)}</span>'


def heading(level: int, vi: str, en: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h{level}{ident}>{both(vi, en)}</h{level}>"


def paragraph(vi: str, en: str, css: str | None = None) -> str:
    cls = f' class="{css}"' if css else ""
    return (
        f'<p{cls}><span lang="vi">{esc(vi)}</span><br>'
        f'<span lang="en" class="en">{esc(en)}</span></p>'
    )


def number(value: Any, digits: int = 3) -> str:
    """A cell's text: numbers rounded, missing shown as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def signed_interval(ci: Sequence[float] | None) -> str | None:
    """A 95 % interval of a signed gap as "+lo … +hi"; None without one."""
    return None if not ci else f"{ci[0]:+.4f} … {ci[1]:+.4f}"


def signed_estimate(estimate: tuple[float, Sequence[float]] | None) -> str | None:
    """A signed gap and its 95 % interval, (x, (lo, hi)) as `promotion.own_gap` gives it,
    as "+x (+lo … +hi)"; None without one."""
    return None if estimate is None else f"{estimate[0]:+.4f} ({signed_interval(estimate[1])})"


def table(
    headers: Sequence[tuple[str, str] | str],
    rows: Iterable[Sequence[Any]],
    digits: int = 3,
    raw_columns: Sequence[int] = (),
) -> str:
    """A table; headers as (vi, en) pairs or plain strings; cells escaped unless their
    column index is in `raw_columns` (already HTML)."""
    head = "".join(f"<th>{both(*h) if isinstance(h, tuple) else esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
            text = cell if i in raw_columns else esc(number(cell, digits))
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(png: bytes, alt: str, caption_vi: str, caption_en: str, numbers: str = "") -> str:
    """An image with the numbers it was drawn from beside it (no plot without them)."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">{numbers}'
        f"<figcaption>{both(caption_vi, caption_en)}</figcaption></figure>"
    )


def link(href: str, vi: str, en: str | None = None) -> str:
    """A link; its text in both languages, or once when it is a name (`en` None)."""
    text = esc(vi) if en is None or en == vi else both(vi, en)
    return f'<a href="{esc(href)}">{text}</a>'


def page(title_vi: str, title_en: str, body: str, nav: str = "") -> str:
    """The shell: a complete document with the styles inline and nothing fetched."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title_vi)} / {esc(title_en)}</title><style>{STYLE}</style></head>"
        f"<body>{f'<nav>{nav}</nav>' if nav else ''}<h1>{both(title_vi, title_en)}</h1>"
        f"{body}</body></html>\n"
    )
