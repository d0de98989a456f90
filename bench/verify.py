"""`python -m bench verify [results_dir=DIR] [--repair]`: check every run against its completion record.

Every file a completion record names is read and its size and sha256 compared with the record. One
line per damaged run (folder, file, what is wrong); exit 1 if any run is damaged, else 0. `--repair`
requeues the damaged runs: it removes their completion record, so the next sweep reruns them (their
folders are then incomplete, which the loader skips). Runs without a completion record are incomplete,
not damaged (a sweep reruns them anyway). Old records that list file names without checksums are
accepted when the files exist and reported as "no checksum recorded".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

USAGE = "usage: python -m bench verify [results_dir=DIR] [--repair]"


@dataclass
class Check:
    folder: Path
    damage: list[tuple[str, str]] = field(default_factory=list)  # (file, what is wrong)
    unverified: list[str] = field(default_factory=list)  # files without a recorded checksum
    incomplete: bool = False


def check_run(folder: Path) -> Check:
    """Checksums and sizes of one run folder against its completion record."""
    from bench.store import COMPLETE, completion, file_sha256, recorded_files

    out = Check(folder)
    done = completion(folder)
    if done.record is None and done.problem is None:
        out.incomplete = True
        return out
    if done.record is None or (done.status is None and not done.files):
        out.damage.append((done.problem_file, done.problem or "invalid completion record"))
        return out
    if done.record.get("run_id") not in (None, folder.name):
        named = done.record.get("run_id")
        out.damage.append((COMPLETE, f"names run {named!r}, not its folder's {folder.name}"))
    files, _ = recorded_files(done.record)
    for name, meta in sorted((files or {}).items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            out.damage.append((name, "missing"))
            continue
        if "sha256" not in meta:
            out.unverified.append(name)
            continue
        if "size" in meta and size != meta["size"]:
            out.damage.append((name, f"{size} bytes, recorded {meta['size']}"))
            continue
        try:
            digest = file_sha256(path)
        except OSError as e:
            out.damage.append((name, f"unreadable ({e.strerror or e})"))
            continue
        if digest != meta["sha256"]:
            out.damage.append((name, "sha256 differs from the recorded one (changed after it was written)"))
    return out


def _args(args: list[str]) -> tuple[Path, bool] | str:
    results_dir, repair = Path("results"), False
    for a in args:
        if a == "--repair":
            repair = True
        elif a.startswith("results_dir=") and len(a) > len("results_dir="):
            results_dir = Path(a.partition("=")[2])
        else:
            return f"{a!r}: expected results_dir=DIR or --repair"
    return results_dir, repair


def main(args: list[str]) -> int:
    parsed = _args(args)
    if isinstance(parsed, str):
        print(f"error: {parsed}\n{USAGE}", file=sys.stderr)
        return 2
    results_dir, repair = parsed
    from bench.store import COMPLETE

    root = results_dir / "runs"
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    checks = [check_run(f) for f in folders]
    damaged = [c for c in checks if c.damage]
    for c in damaged:
        for name, what in c.damage:
            print(f"damaged: {c.folder}: {name}: {what}")
    for c in checks:
        if c.unverified and not c.damage:
            print(f"unverified: {c.folder}: {', '.join(c.unverified)}: no checksum recorded (old record)")
    failed_repairs = 0
    if repair:
        for c in damaged:
            try:
                (c.folder / COMPLETE).unlink(missing_ok=True)
                print(f"requeued: {c.folder} (the next sweep reruns it)")
            except OSError as e:
                failed_repairs += 1
                print(f"error: cannot requeue {c.folder}: {e.strerror or e}", file=sys.stderr)
    n_inc = sum(c.incomplete for c in checks)
    n_ok = len(checks) - len(damaged) - n_inc
    print(
        f"verify {results_dir}: {n_ok} runs intact, {len(damaged)} damaged"
        + (" (requeued)" if repair and damaged and not failed_repairs else "")
        + f", {n_inc} incomplete (no completion record)"
    )
    return 1 if damaged else 0
