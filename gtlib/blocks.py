"""Small HTML blocks for the notebook pages: tables that show every cell in full, verdict badges,
collapsible details.

pandas' own HTML cuts text at 50 characters, right-aligns prose, prints ``<NA>`` and an empty index
header; the blocks here never cut, align text left and numbers right, and say "never" for a time
that never came. Each block also has a plain-text form, for a terminal and for nbval.
"""
from __future__ import annotations

import html
import numbers

CSS = """<style>
.gt-table {border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0 1em 0; width: auto;}
.gt-table th, .gt-table td {text-align: left; vertical-align: top; padding: 0.3em 0.7em;
  overflow-wrap: anywhere;  /* a long token (a key, a list of values) breaks instead of widening */
  border-bottom: 1px solid rgba(128, 128, 128, 0.35);}
.gt-table th {border-bottom: 2px solid rgba(128, 128, 128, 0.6);}
.gt-table td.gt-num, .gt-table th.gt-num {text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums;}
.gt-table th.gt-num {white-space: normal;}  /* a long header wraps; the numbers under it do not */
.gt-badge {display: inline-block; padding: 0.1em 0.55em; border-radius: 0.8em; color: #fff;
  font-weight: 600; white-space: nowrap;}
.gt-yes {background: #1a7f37;} .gt-no {background: #cf222e;} .gt-mixed {background: #9a6700;}
.gt-fragile {opacity: 0.75; border: 2px dashed #fff;}  /* rounding alone could change it */
.gt-muted {opacity: 0.7; font-size: 0.85em;}
.gt-strip {font-size: 0.85em; padding: 0.5em 0.8em; margin: 0.2em 0 1em 0; border-radius: 0.3em;
  border-left: 4px solid #0969da; background: rgba(9, 105, 218, 0.08);}
.gt-strip code {font-size: 0.95em; word-break: break-all;}
details.gt-details > summary {cursor: pointer; font-weight: 600;}
</style>"""


class Block:
    """HTML for a notebook (``_repr_html_``) with a plain-text twin (``repr``)."""

    def __init__(self, html_text: str, text: str):
        self.html, self.text = html_text, text

    def _repr_html_(self) -> str:
        return CSS + self.html

    def __repr__(self) -> str:
        return self.text


def esc(value) -> str:
    return html.escape(str(value))


def table(rows: list[dict], numeric: tuple[str, ...] = (), raw: tuple[str, ...] = ()) -> Block:
    """Rows (column -> value) as a table with every cell in full. ``numeric`` columns align right;
    ``raw`` columns hold HTML already (badges), the others are escaped."""
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(tag: str, column: str, value) -> str:
        cls = ' class="gt-num"' if column in numeric else ""
        body = value if column in raw else esc(value)
        return f"<{tag}{cls}>{body}</{tag}>"

    head = "".join(cell("th", c, c) for c in columns)
    body = "".join("<tr>" + "".join(cell("td", c, row.get(c, "")) for c in columns) + "</tr>"
                   for row in rows)
    text = "\n".join(" | ".join(str(row.get(c, "")) for c in columns) for row in rows)
    return Block(f'<table class="gt-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
                 " | ".join(columns) + "\n" + text)


def details(summary: str, *blocks: Block, open_: bool = False) -> Block:
    """Blocks folded under a one-line summary that a reader can unfold."""
    inner = "".join(b.html for b in blocks)
    return Block(f'<details class="gt-details"{" open" if open_ else ""}><summary>{esc(summary)}</summary>'
                 f"{inner}</details>", summary + "\n" + "\n\n".join(b.text for b in blocks))


def paragraph(text_html: str, text: str, cls: str = "") -> Block:
    return Block(f'<div class="{cls}">{text_html}</div>' if cls else f"<p>{text_html}</p>", text)


def frame(df, digits: int = 3) -> Block:
    """A pandas DataFrame as a table block: every row and column (pandas' own HTML elides rows past
    its display limit), a named index as leading columns, numbers right-aligned and rounded to
    ``digits``, whole numbers (steps) with thousands separators."""
    import pandas as pd  # only here: the blocks need no pandas otherwise
    if any(name is not None for name in df.index.names):
        df = df.reset_index()
    elif df.index.equals(pd.RangeIndex(len(df))):  # positions only: not worth a column
        df = df.reset_index(drop=True)
    else:
        df = df.rename_axis("").reset_index()  # an unnamed index (row labels) as a first column

    def is_number(value) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)

    # A column of whole numbers (steps, counts) is shown as integers; any other number with
    # ``digits`` decimals, the same in every row of its column.
    whole = {c: all(not is_number(v) or float(v).is_integer() for v in df[c]) for c in df.columns}

    def show(column, value) -> str:
        if not is_number(value):
            return str(value)
        return f"{int(value):,}" if whole[column] else f"{float(value):.{digits}f}"

    numeric = tuple(str(c) for c in df.columns if all(is_number(v) for v in df[c]))
    rows = [{str(c): show(c, v) for c, v in zip(df.columns, values)}
            for values in df.itertuples(index=False, name=None)]
    return table(rows, numeric=numeric)
