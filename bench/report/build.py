"""Build the report: load results, compute the sections, write report.md, report.html and figures/*.png."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.atomic import StorageError, atomic_write_text
from bench.report import literature, reading, sections
from bench.report.data import Prepared, cell_name, prepare, sort_frame
from bench.report.doc import Block, Bullets, Heading, Para, integer, to_markdown
from bench.report.html import to_html
from bench.report.tables import BEATS_DEFINITION
from bench.results import load_results

TITLE = "Vanilla RNN vs LSTM vs GRU on long-range-dependency tasks"
HOW_TO_RUN = "`python -m bench sweep` (then `python -m bench report results_dir=... report_dir=...`)"


@dataclass
class ReportResult:
    paths: list[Path]  # every file written: report.md, report.html, figures
    notes: list[str]  # what was skipped, and why
    n_runs: int  # runs loaded and used (main comparison, ablations, cost)
    reading: list[str] = field(default_factory=list)  # the generated sentences of section 8


def _rel(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _values(s: pd.Series) -> str:
    v = sorted({str(x) for x in s if str(x) != "n/a"})
    return ", ".join(v) if v else "not recorded"


def provenance(runs: pd.DataFrame) -> Bullets:
    """Where and with what the runs were made (from the runs themselves)."""
    started = sorted(x for x in runs["started_at"] if x != "n/a")
    devices = runs["device"] + runs["device_name"].map(lambda d: "" if d == "n/a" else f" ({d})")
    threads = sorted({integer(t) for t in runs["threads"] if pd.notna(t)})
    return Bullets(
        (
            f"torch: {_values(runs['torch_version'])}; python: {_values(runs['python_version'])}",
            f"device: {_values(devices)}; threads: {', '.join(threads) if threads else 'not recorded'}",
            f"git commits of the runs: {_values(runs['git_commit'])}",
            f"hosts: {_values(runs['hostname'])}",
            f"runs started between {started[0]} and {started[-1]}" if started else "start times not recorded",
        )
    )


def intro(p: Prepared, results_dir: Path, n_skipped: int, n_incomplete: int) -> list[Block]:
    """The opening: runs used and skipped, tasks and cells, the task-name note, provenance."""
    r = p.runs
    status = r["status"].value_counts()
    tasks = sort_frame(r[["task_label", "task", "task_variant"]].drop_duplicates())
    task_list = ", ".join(
        f"{t} (variant {v})" for t, v in zip(tasks["task_label"], tasks["task_variant"], strict=True)
    )
    cells = ", ".join(cell_name(c) for c in sort_frame(r[["cell"]].drop_duplicates())["cell"])
    return [
        Para(
            f"Results from `{results_dir}`: {len(r)} runs used ({integer(status.get('ok', 0))} ok, "
            f"{integer(status.get('diverged', 0))} diverged, {integer(status.get('failed', 0))} failed), "
            f"{len(p.main)} of them in the main comparison (sections 1-4, 7, 8); the others appear in the "
            f"ablations and cost sections where they match. Skipped: {n_skipped} unreadable files, "
            f"{n_incomplete} incomplete runs (listed under Notes)."
        ),
        Para(
            f"Tasks: {task_list}. "
            f"Cells: {cells}. 'Delayed recall' (task `recall`) is this project's name for the latch / "
            f"delayed-match family of tasks (Bengio, Simard, Frasconi 1994; Hochreiter & Schmidhuber 1997, "
            f"experiment 2): one symbol, a delay of T steps, then a cue at which the symbol must be recalled."
        ),
        Heading("Provenance", 3),
        provenance(r),
    ]


def _guarded(title: str, fn: Callable[[], list[Block]], notes: list[str]) -> list[Block]:
    # A section that fails on unexpected data becomes a note; the rest of the report still gets written.
    try:
        return fn()
    except StorageError:  # a figure that cannot be written fails the report (exit 1), never a note
        raise
    except Exception as e:  # noqa: BLE001
        msg = f"section '{title}' could not be built: {type(e).__name__}: {e}".replace("\n", " ")
        notes.append(msg)
        return [Heading(title), Para(f"*{msg}*")]


def build_report(results_dir: str | Path, report_dir: str | Path, figures: bool = True) -> ReportResult:
    """Write report.md, report.html (self-contained) and figures/*.png for the runs in `results_dir`.

    figures=False skips drawing (text-only, much faster). Returns the paths written, the notes on what was
    skipped and why, and the number of runs used."""
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    figdir = report_dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    res = load_results(results_dir, warn=False)
    notes = [f"{_rel(path, results_dir)}: skipped, {reason}" for path, reason in sorted(res.skipped)]
    notes += [
        f"{_rel(f, results_dir)}: incomplete run (no completion record), skipped"
        for f in sorted(res.incomplete)
    ]
    p = prepare(res, results_dir)
    notes += p.notes
    blocks: list[Block] = [Heading(TITLE, 1)]
    ctx = sections.Context(p, figdir, figures, notes)
    said: list[str] = []
    if p.runs.empty:
        blocks.append(Para(f"There are no runs in `{results_dir}`. Produce them with {HOW_TO_RUN}."))
    else:
        blocks += intro(p, results_dir, len(res.skipped), len(res.incomplete))
        for title, fn in (
            ("1. Summary", sections.summary),
            ("2. Accuracy and loss against sequence length", sections.headline),
            ("3. Gradient profiles", sections.gradients),
            ("4. Learning curves", sections.curves),
            ("5. Cost", sections.cost),
            ("6. Ablations", sections.ablations),
        ):
            blocks += _guarded(title, lambda fn=fn: fn(ctx), notes)
        blocks += _guarded(
            "7. The literature side by side",
            lambda: [
                Heading("7. The literature side by side"),
                *literature.section(ctx.summary, p.main, ctx.ablations),
            ],
            notes,
        )

        def _reading() -> list[Block]:
            said.extend(reading.sentences(ctx.summary, ctx.fall, ctx.cost, p.runs, ctx.ablations))
            return [
                Heading("8. Reading"),
                Para(BEATS_DEFINITION),
                Bullets(tuple(said)) if said else Para("Nothing to read: no summary."),
            ]

        blocks += _guarded("8. Reading", _reading, notes)
    blocks += [
        Heading("Notes: what was skipped and why"),
        Bullets(tuple(notes)) if notes else Para("Nothing was skipped."),
    ]
    blocks += [Heading("References"), Bullets(tuple(literature.references()))]

    md, html = report_dir / "report.md", report_dir / "report.html"
    atomic_write_text(md, to_markdown(blocks))  # temp name + rename: never a truncated report
    atomic_write_text(html, to_html(blocks, TITLE))
    written = set(ctx.figures)
    for stale in figdir.glob("*.png"):  # figures of an earlier build that this one did not draw
        if stale not in written:
            stale.unlink()
    return ReportResult([md, html, *sorted(written)], notes, len(p.runs), said)


def main(results_dir: str | Path, report_dir: str | Path) -> int:
    """Build the report, print one line per skipped item and the paths written; 0 on success."""
    try:
        res = build_report(results_dir, report_dir)
    except Exception as e:  # noqa: BLE001 - a CLI prints the reason, never a traceback
        print(f"report failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for note in res.notes:
        print(f"skipped: {note}")
    for path in res.paths:
        print(f"wrote {path}")
    print(f"{res.n_runs} runs used")
    return 0
