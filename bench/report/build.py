"""Build the report: load results, analyse them, render the sections, write report.md, report.html and
figures/*.png."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.atomic import StorageError, atomic_write_text
from bench.report import papers, sections, tuned
from bench.report.analysis import analyse
from bench.report.critical import missing
from bench.report.critical_figure import critical_figure
from bench.report.critical_text import paragraph
from bench.report.data import TUNE_SWEEP
from bench.report.doc import Block, Bullets, Figure, Heading, Para, anchor, plural, to_markdown
from bench.report.html import to_html
from bench.report.paired import paired
from bench.report.study_sections import PAIRS_CSV, PER_SEED_CSV
from bench.results import load_results

TITLE = "Vanilla RNN vs LSTM vs GRU on long-range-dependency tasks"
HOW_TO_RUN = "`python -m bench sweep` (then `python -m bench report results_dir=... report_dir=...`)"


@dataclass
class ReportResult:
    paths: list[Path]  # every file written: report.md, report.html, figures
    notes: list[str]  # what was skipped, and why
    n_runs: int  # runs loaded and used (main comparison, ablations, cost)
    reading: list[str] = field(default_factory=list)  # the generated sentences of the reading section


def _rel(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _read_microbench(results_dir: Path, notes: list[str]) -> pd.DataFrame | None:
    path = results_dir / "microbench.parquet"
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - an unreadable optional table is a note, never fatal
        notes.append(f"microbench.parquet: unreadable ({type(e).__name__}), micro-benchmark table left out")
        return None


def banner(a, n_skipped: int, n_incomplete: int) -> list[Block]:  # noqa: ANN001 - an Analysis
    """A warning first when the results cannot carry a conclusion: a smoke test, or a partial directory."""
    out: list[Block] = []
    sweeps = set(a.runs["sweep"])
    if sweeps == {"smoke"}:
        smoke = "**Smoke test: measures nothing.** Every run comes from the `smoke` preset (tiny models, "
        out.append(Para(smoke + "tens of steps): this report checks the pipeline, not the cells."))
    if len(a.main) and set(a.main["sweep"]) == {TUNE_SWEEP}:
        out.append(
            Para(
                "**Tuning runs only:** these results hold no main-study runs; the main comparison is each "
                "arm's tuning runs at its selected rate (tuning seeds, one length per task)."
            )
        )
    unrun, short = missing(a.critical) if len(a.critical) else (0, 0)
    if unrun or short:
        parts = [f"{plural(unrun, 'ladder length')} of an arm not run yet"] if unrun else []
        parts += [f"{plural(short, 'length')} run on fewer seeds than the others"] if short else []
        out.append(
            Para(
                f"**Study incomplete:** {' and '.join(parts)} (a length left out because the arm failed a "
                "shorter one on every seed is not counted). Critical lengths written '>=' or next to 'not "
                "run' may still rise; rerun the sweep to finish it (it resumes)."
            )
        )
    if n_skipped or n_incomplete:
        left = f"{plural(n_incomplete, 'incomplete run')} and {plural(n_skipped, 'unreadable file')}"
        out.append(Para(f"**Partial results:** {left} were left out (see Notes)."))
    return out


def headline(a, figdir: Path, draw: bool, notes: list[str]) -> list[Block]:  # noqa: ANN001 - an Analysis
    """The findings first: the critical length per arm (figure, figures/critical_length.png) and its
    reading (one paragraph generated from the critical-length table, critical_text.py)."""
    if a.critical.empty:
        return []
    out: list[Block] = [Heading("Headline", 2)]
    if draw:
        try:
            out.append(critical_figure(a.critical, figdir))
        except StorageError:  # a figure that cannot be written fails the report, never a note
            raise
        except Exception as e:  # noqa: BLE001
            notes.append(f"critical-length figure could not be drawn: {type(e).__name__}: {e}")
    return [*out, Para(paragraph(a.critical, a.main, len(tuned.edges(a.tuning)) if len(a.tuning) else 0))]


def write_tables(a, report_dir: Path) -> list[Path]:  # noqa: ANN001 - an Analysis
    """The per-seed values and every paired comparison as CSV beside the report (none without runs)."""
    paths = []
    frames = {PER_SEED_CSV: a.seeds, PAIRS_CSV: paired(a.main, a.prepared.curves, every_pair=True)}
    for name, df in frames.items():
        path = report_dir / name
        if a.runs.empty:
            path.unlink(missing_ok=True)
            continue
        atomic_write_text(path, df.to_csv(index=False))
        paths.append(path)
    return paths


def contents(blocks: list[Block]) -> Bullets:
    """Links to every section (level-2 heading) in order."""
    items = [f"[{b.text}](#{anchor(b.text)})" for b in blocks if isinstance(b, Heading) and b.level == 2]
    return Bullets(tuple(items))


def write_report(blocks: list[Block], report_dir: Path) -> list[Path]:
    """The one place report.md and report.html are written."""
    md, html = report_dir / "report.md", report_dir / "report.html"
    atomic_write_text(md, to_markdown(blocks))  # temp name + rename: never a truncated report
    atomic_write_text(html, to_html(blocks, TITLE))
    return [md, html]


def build_report(
    results_dir: str | Path,
    report_dir: str | Path,
    figures: bool = True,
    section_list: tuple[tuple[str, sections.Render], ...] = sections.SECTIONS,
) -> ReportResult:
    """Write report.md, report.html (self-contained) and figures/*.png for the runs in `results_dir`.

    figures=False skips drawing (text-only, much faster); `section_list` is the sections in order (numbered
    by position). Returns the paths written, the notes on what was skipped and why, and the number of runs
    used."""
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    figdir = report_dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    res = load_results(results_dir, warn=False)
    notes = [f"{_rel(path, results_dir)}: skipped, {reason}" for path, reason in sorted(res.skipped)]
    notes += [
        f"{_rel(f, results_dir)}: incomplete run (no completion record), skipped"
        for f in sorted(res.incomplete)
    ]
    microbench = _read_microbench(results_dir, notes)
    a = analyse(res, microbench)
    notes += a.notes
    blocks: list[Block] = [Heading(TITLE, 1)]
    said: list[str] = []
    if a.runs.empty:
        blocks.append(Para(f"There are no runs in `{results_dir}`. Produce them with {HOW_TO_RUN}."))
    else:
        body, section_notes, out = sections.render(a, figdir, figures, section_list)
        notes += section_notes
        try:
            said = sections.sentences(a)
        except Exception:  # noqa: BLE001 - the reading section has already said why
            said = []
        tail = [Heading("Notes: what was skipped and why"), Heading("References")]
        blocks += banner(a, len(res.skipped), len(res.incomplete)) + headline(a, figdir, figures, notes)
        blocks += [contents([*body, *tail])]
        blocks += sections.intro(a, out, results_dir, len(res.skipped), len(res.incomplete)) + body
    blocks += [
        Heading("Notes: what was skipped and why"),
        Bullets(tuple(notes)) if notes else Para("Nothing was skipped."),
    ]
    blocks += [Heading("References"), Bullets(tuple(papers.references()))]
    written = write_report(blocks, report_dir) + write_tables(a, report_dir)
    drawn = {b.path for b in blocks if isinstance(b, Figure)}
    for stale in figdir.glob("*.png"):  # figures of an earlier build that this one did not draw
        if stale not in drawn:
            stale.unlink()
    return ReportResult([*written, *sorted(drawn)], notes, len(a.runs), said)


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
    print(f"{plural(res.n_runs, 'run')} used")
    return 0
