"""One trainer per run: a claim file in the run's folder, and workers that die with their sweep.

`with claim(folder) as got:` creates `folder/CLAIM.json` with O_CREAT|O_EXCL (exactly one process
can), holding the owner's host, pid (and the pid's start time, against pid reuse), start time and a
random token. While held, a background thread refreshes the file's mtime every `heartbeat_s` (the
heartbeat). `got` is False when a live other process holds the run: the caller skips it, that
process trains it. A stale claim is taken over:

- on this host: its pid is dead (or is now another process: different start time);
- on another host: no heartbeat for `stale_s` seconds (pids cannot be checked there).

Taking over goes through a short-lived `CLAIM.json.takeover` lock (also O_EXCL) so that two
processes finding the same stale claim do not both take it. The claim is removed on exit.

Workers of a parallel launcher (joblib / submitit_local) watch the sweep's main process (`watch_parent`,
called at the start of each job): when it dies they exit within a second (os._exit), and a worker
never writes a completion record after that (`abandoned`, asked by store.finish_run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.atomic import storage_error

CLAIM = "CLAIM.json"
TAKEOVER = CLAIM + ".takeover"
HEARTBEAT_S = 10.0
STALE_S = 120.0
TAKEOVER_STALE_S = 30.0  # a takeover lock older than this was left by a killed process
SWEEP_PID_ENV = "BENCH_SWEEP_PID"  # "host:pid:pid_start" of the sweep's main process, for its workers
STOP_ENV = "BENCH_SWEEP_STOP_FILE"  # where a job tells the others (and main) that the sweep must stop
ORPHAN_EXIT = 70  # exit status of a worker whose sweep died


class ClaimLost(Exception):
    """The run's claim was taken over by another process while this one trained it."""


def _host() -> str:
    return socket.gethostname()


def pid_start(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (Linux /proc), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether `pid` runs on this host (and, when `start` is given and checkable, is the same process)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start is not None:
        now = pid_start(pid)
        if now is not None and now != start:
            return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        if stat[stat.rindex(")") + 2 :].split()[0] == "Z":
            return False
    except (OSError, ValueError, IndexError):
        pass
    return True


@dataclass
class _Held:
    path: Path
    token: str
    lost: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)


_held: dict[Path, _Held] = {}  # claims this process holds, by folder


def _read(path: Path) -> tuple[dict[str, Any] | None, float | None]:
    """(claim content or None if unreadable, mtime or None if absent)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None, None
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None, mtime
    return (info if isinstance(info, dict) else None), mtime


def stale_reason(info: dict[str, Any] | None, mtime: float, stale_s: float = STALE_S) -> str | None:
    """Why a claim (content `info`, heartbeat `mtime`) is stale, or None if its owner is alive."""
    age = time.time() - mtime
    if info is None:  # being written (a fraction of a second) or left half-written by a kill
        return f"unreadable claim, {age:.0f} s old" if age > min(stale_s, 10.0) else None
    host, pid = info.get("host"), info.get("pid")
    if host == _host() and isinstance(pid, int):
        if pid == os.getpid():
            held = _held.get(Path(info.get("folder", "")))
            mine = held is not None and held.token == info.get("token")
            return None if mine else "left by an earlier claim of this process"
        if not pid_alive(pid, info.get("pid_start")):
            return f"pid {pid} on this host is dead"
        return None
    if age > stale_s:
        return f"no heartbeat from {host} pid {pid} for {age:.0f} s"
    return None


def claim_holder(folder: str | Path, stale_s: float = STALE_S) -> dict[str, Any] | None:
    """The live claim on a run folder (host, pid, started_at, ...), or None if unclaimed or stale."""
    info, mtime = _read(Path(folder) / CLAIM)
    if mtime is None or stale_reason(info, mtime, stale_s) is not None:
        return None
    return info or {"host": "?", "pid": None}


def _create(path: Path, folder: Path) -> _Held | None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    token = uuid.uuid4().hex
    info = {
        "host": _host(),
        "pid": os.getpid(),
        "pid_start": pid_start(os.getpid()),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "token": token,
        "folder": str(folder),
    }
    try:
        os.write(fd, json.dumps(info, sort_keys=True).encode())
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return _Held(path, token)


def _take_over(folder: Path, seen: dict[str, Any] | None, stale_s: float) -> None:
    """Remove the stale claim `seen` if it is still the one there; under the takeover lock."""
    lock = folder / TAKEOVER
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime > TAKEOVER_STALE_S:
                lock.unlink()  # left by a process killed mid-takeover; the next attempt proceeds
        except OSError:
            pass
        return
    os.close(fd)
    try:
        info, mtime = _read(folder / CLAIM)
        same = (info or {}).get("token") == (seen or {}).get("token")
        if mtime is not None and same and stale_reason(info, mtime, stale_s) is not None:
            (folder / CLAIM).unlink(missing_ok=True)
    finally:
        lock.unlink(missing_ok=True)


def _heartbeat(held: _Held, every: float) -> None:
    while not held.stop.wait(every):
        info, _ = _read(held.path)
        if (info or {}).get("token") != held.token:
            held.lost = f"taken over by {(info or {}).get('host')} pid {(info or {}).get('pid')}"
            return
        try:
            os.utime(held.path)
        except OSError:
            pass


@contextmanager
def claim(folder: str | Path, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S) -> Iterator[bool]:
    """Hold the run folder's claim while the block runs; yields False (and holds nothing) if a live other
    process holds it. Raises StorageError if the folder cannot be created or written."""
    folder = Path(folder).absolute()
    path = folder / CLAIM
    held = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            held = _create(path, folder)
            if held is not None:
                break
            info, mtime = _read(path)
            if mtime is None:
                continue  # released meanwhile: try again
            if stale_reason(info, mtime, stale_s) is None:
                break  # a live owner
            _take_over(folder, info, stale_s)
    except OSError as e:
        raise storage_error(path, e) from e
    if held is None:
        yield False
        return
    _held[folder] = held
    beat = threading.Thread(target=_heartbeat, args=(held, heartbeat_s), daemon=True, name="claim-heartbeat")
    beat.start()
    try:
        yield True
    finally:
        held.stop.set()
        beat.join(timeout=5)
        _held.pop(folder, None)
        info, _ = _read(path)
        if (info or {}).get("token") == held.token:
            try:
                path.unlink()
            except OSError:
                pass


def abandoned(folder: str | Path) -> str | None:
    """Asked right before a run is marked complete. Exits the process if its sweep died (an orphaned worker);
    returns why not to mark it if this process's claim on it was lost, else None."""
    if parent_gone():
        os._exit(ORPHAN_EXIT)
    held = _held.get(Path(folder).absolute())
    if held is None:
        return None  # written without a claim (library use, tests)
    if held.lost:
        return f"claim {held.lost}"
    info, _ = _read(held.path)
    if (info or {}).get("token") != held.token:
        return f"claim taken over by {(info or {}).get('host')} pid {(info or {}).get('pid')}"
    return None


# ---- workers die with their sweep


def mark_sweep_process() -> Callable[[], None]:
    """Called by the sweep's main process before it launches jobs: its workers (which inherit the
    environment) will watch it, and can stop the sweep (`request_stop`). Returns a function that
    restores the environment."""
    global _stop
    old = {k: os.environ.get(k) for k in (SWEEP_PID_ENV, STOP_ENV)}
    os.environ[SWEEP_PID_ENV] = f"{_host()}:{os.getpid()}:{pid_start(os.getpid()) or ''}"
    # The stop file lives in the temp dir, not results_dir: that may be the full or read-only disk.
    stop_file = Path(tempfile.gettempdir()) / f"bench-sweep-stop.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    os.environ[STOP_ENV] = str(stop_file)
    _stop = None

    def restore() -> None:
        stop_file.unlink(missing_ok=True)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore


_stop: str | None = None


def request_stop(reason: str) -> None:
    """Stop the sweep: later jobs of it do not start (`stop_reason`), and main reports `reason`."""
    global _stop
    _stop = _stop or reason
    path = os.environ.get(STOP_ENV)
    if path:
        try:
            with open(path, "x") as f:
                f.write(reason)
        except OSError:
            pass  # already requested, or the temp dir is full too: this process still stops


def stop_reason() -> str | None:
    """Why the sweep must stop (the first job's reason), or None."""
    if _stop:
        return _stop
    path = os.environ.get(STOP_ENV)
    if not path:
        return None
    try:
        return Path(path).read_text() or "stopped"
    except OSError:
        return None


def _sweep_process() -> tuple[int, str | None] | None:
    """(pid, start) of the sweep this process works for, if that is another process on this host."""
    host, _, rest = os.environ.get(SWEEP_PID_ENV, "").partition(":")
    pid, _, start = rest.partition(":")
    if host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return None  # no sweep, the sweep itself (in-process launcher), or a job on another host
    return int(pid), start or None


def parent_gone() -> bool:
    sweep = _sweep_process()
    return sweep is not None and not pid_alive(*sweep)


_watching = False


def watch_parent(interval: float = 0.5) -> None:
    """In a launcher worker: exit (os._exit) within `interval` s of the sweep's main process dying. Once per
    process; a no-op in the sweep's own process and where no sweep is running."""
    global _watching
    if _watching or _sweep_process() is None:
        return
    _watching = True

    def loop() -> None:
        while True:
            if parent_gone():
                os._exit(ORPHAN_EXIT)
            time.sleep(interval)

    threading.Thread(target=loop, daemon=True, name="sweep-watchdog").start()
