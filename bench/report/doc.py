"""The report as a list of blocks, number formatting, and the Markdown renderer.

Sections build blocks; `to_markdown` here and `html.to_html` render the same blocks, so the two files
always say the same thing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MISSING = "–"
NA = "n/a"  # a missing text value in the runs table


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path  # the PNG on disk
    rel: str  # its path relative to the report folder
    caption: str

    @property
    def alt(self) -> str:
        """The image's alt text: the caption's first clause (up to ': ' or the end of its first
        sentence), not the whole caption, which is printed below the image anyway."""
        return re.split(r":\s|\.\s+(?=[A-Z])|\.$", self.caption, maxsplit=1)[0].strip()


Block = Heading | Para | Bullets | Table | Figure


def is_missing(v: object) -> bool:
    return v is None or (not isinstance(v, (list, tuple, dict)) and bool(pd.isna(v)))


def text(s: pd.Series) -> pd.Series:
    """Values as strings, missing as 'n/a' (stable across pandas string dtypes)."""
    return pd.Series([NA if is_missing(v) else str(v) for v in s], index=s.index, dtype=object)


def num(x: object, digits: int = 3) -> str:
    """A float with `digits` significant digits; '–' for missing."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"  # never '-0'
    return f"{v:.{digits}g}"


def ratio(x: object) -> str:
    """A ratio to chance for prose: two decimals from 0.1 up (0.99, 1.00), two significant digits below."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    return num(v, 2) if not math.isfinite(v) or abs(v) < 0.1 else f"{v:.2f}"


def integer(x: object) -> str:
    """A count with thousands separators; '–' for missing."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    return MISSING if not math.isfinite(v) else f"{round(v):,d}"


def ci(mean: float, lo: float, hi: float, n: int) -> str:
    """'mean [lo, hi]' for n >= 2, 'mean (n=1, no interval)' for one seed, '–' for none."""
    if not n or n < 1 or not math.isfinite(float(mean)):
        return MISSING
    if n < 2:
        return f"{num(mean)} (n=1, no interval)"
    return f"{num(mean)} [{num(lo)}, {num(hi)}]"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 run', '2 runs' (many: the plural when it is not one + 's')."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def anchor(title: str) -> str:
    """The id of a heading, as GitHub makes them: lower case, punctuation dropped, spaces as hyphens."""
    keep = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return keep.replace(" ", "-")


def table(df: pd.DataFrame, caption: str = "") -> Table:
    """A Table block from a frame whose cells are already formatted strings."""
    rows = tuple(tuple(MISSING if v is None else str(v) for v in r) for r in df.itertuples(index=False))
    return Table(tuple(str(c) for c in df.columns), rows, caption)


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |"]
            lines.append("|" + "|".join("---" for _ in b.header) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            text = "\n".join(lines)
            out.append(f"{text}\n\n*{b.caption}*" if b.caption else text)
        elif isinstance(b, Figure):
            out.append(f"![{b.alt}]({b.rel})\n\n*{b.caption}*")
    return "\n\n".join(out) + "\n"
