"""What every section returns (Part) and receives besides the analysis (Out), and how it says it skipped
something (skip)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.report.doc import Block, Para


@dataclass(frozen=True)
class Part:
    blocks: list[Block]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Out:
    """What a section needs besides the analysis: where figures go, and the numbers of the sections."""

    figdir: Path
    draw: bool  # draw figures (off for fast text-only builds)
    numbers: Mapping[Callable, int]  # render function -> its section number

    def ref(self, *fns: Callable) -> str:
        """'section 6' / 'sections 1-4, 7, 8': the numbers of the sections rendered by `fns`."""
        nums = sorted(self.numbers[f] for f in fns if f in self.numbers)
        runs: list[list[int]] = []
        for n in nums:
            if runs and n == runs[-1][-1] + 1:
                runs[-1].append(n)
            else:
                runs.append([n])
        spans = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
        return ("section " if len(nums) == 1 else "sections ") + ", ".join(spans) if nums else "no section"


def skip(what: str, why: str, notes: list[str]) -> Para:
    """Record a skipped item and return the sentence that says so in the report."""
    notes.append(f"{what}: {why}")
    return Para(f"*Skipped: {why}.*")
