"""Writing files so that a reader never sees a half-written one, and failing with one clear line.

Every file goes to a unique temporary name in its own folder (`.NAME.PID.XXXXXXXX.tmp`), is flushed
and fsynced, and is then renamed over its final name (atomic on POSIX); the folder is fsynced after
the rename so the new name survives a crash. If anything fails the temporary file is removed and the
final name keeps its old content (or stays absent).

A write that fails for lack of space or permission raises `StorageError`: an OSError whose message
is one line naming the path (and for a full disk the space the write needed and what was free).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"


class StorageError(OSError):
    """A results / report file could not be written; str() is one line naming the path."""

    def __str__(self) -> str:
        return str(self.strerror)


def tmp_name(path: Path) -> Path:
    """A unique temporary name next to `path` (per process and per call: racing writers never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")


def tmp_owner(name: str) -> int | None:
    """The pid in a temporary name made by `tmp_name`, or None if `name` is not one."""
    parts = name.split(".")
    if not name.startswith(".") or not name.endswith(TMP_SUFFIX) or len(parts) < 5:
        return None
    try:
        return int(parts[-3])
    except ValueError:
        return None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def storage_error(path: Path, e: OSError, needed: int | None = None) -> StorageError:
    """One line for a failed write of `path` (the final name, not the temporary one)."""
    if isinstance(e, StorageError):
        return e
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = f", {_mb(shutil.disk_usage(_existing(path)).free)} free"
        except OSError:
            free = ""
        need = f" (needs {_mb(needed)}{free})" if needed is not None else (f" ({free[2:]})" if free else "")
        return StorageError(e.errno, f"no space left on device at {path}{need}")
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(e.errno, f"{path} is not writable ({e.strerror or e})")
    return StorageError(e.errno, f"cannot write {path}: {e.strerror or e}")


def _existing(path: Path) -> Path:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a rename into it) durable. A no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not support fsync on directories; the data itself was fsynced
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, sync_dir: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s content to (e.g. for matplotlib's savefig); on a clean exit
    it is fsynced and renamed over `path`. On an exception the temporary file is removed; an OSError is
    re-raised as a one-line StorageError."""
    path = Path(path)
    tmp = tmp_name(path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise storage_error(path, e, _size(tmp)) from e
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # e.g. a read-only folder where the temporary file was never created
    if sync_dir:
        fsync_dir(path.parent)


def _size(p: Path) -> int | None:
    try:
        return p.stat().st_size
    except OSError:
        return None


def _write_data(f, data: bytes) -> None:
    """Write, flush and fsync (the one place file content reaches the disk; tests make it fail here)."""
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def atomic_write_bytes(path: str | Path, data: bytes, sync_dir: bool = True) -> None:
    path = Path(path)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            _write_data(f, data)
        os.replace(tmp, path)
    except OSError as e:
        raise storage_error(path, e, len(data)) from e
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    if sync_dir:
        fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8", sync_dir: bool = True) -> None:
    atomic_write_bytes(path, text.encode(encoding), sync_dir=sync_dir)


def _probe(path: Path) -> None:
    with open(path, "wb") as f:
        _write_data(f, b"x")


def check_writable(key: str, path: str | Path) -> str | None:
    """None if files can be written in `path` (created if missing), else one line `KEY: PATH is not ...`.

    Tests with os.access and with a real temporary file (os.access alone says yes to root on a
    read-only mount)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{key}: {p} is not a directory"
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"{key}: {p} cannot be created ({e.strerror or e})"
    probe = p / f".write-test.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"
    try:
        _probe(probe)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{key}: no space left on device at {p}"
        return f"{key}: {p} is not writable ({e.strerror or e})"
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{key}: {p} is not writable (permission denied)"
    return None
