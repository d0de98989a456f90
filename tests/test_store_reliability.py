"""Results that survive anything: verified completion records, one trainer per run, workers that die with
their sweep, full disks, read-only and odd paths (issue 14).

What is real and what is simulated: kills (SIGKILL) and concurrent sweeps are real processes. A full disk
and a read-only directory are real where this process may mount a tmpfs / a read-only bind mount (root
with CAP_SYS_ADMIN; skipped otherwise) and are also simulated by making the one low-level write function
(`bench.atomic._write_data` / `_probe`) raise the OSError the kernel would raise (always run).
"""

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import bench.atomic as atomic
from bench import load_results
from bench.claims import CLAIM, claim, claim_holder
from bench.cli import main as cli_main
from bench.config import compose, validate
from bench.paths import hydra_quote
from bench.store import COMPLETE, complete_status, is_complete, run_dir, table_bytes
from bench.sweep import main as sweep_main
from bench.train import execute
from tests.util import TINY as UTIL_TINY
from tests.util import text_only

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # subprocesses run this checkout's code
TINY = ["task=recall", *UTIL_TINY, "threads=1"]


# A bare grid (no preset), run in this process: tests patch bench.train here, which spawned workers lack.
BARE = ["sweep=none", "jobs=1"]


def spec(tmp: Path, *extra: str):
    return validate(compose([*TINY, *extra, f"results_dir={tmp}"]))


def record(folder: Path) -> dict:
    return json.loads((folder / COMPLETE).read_text())


def counting_train(monkeypatch) -> list[str]:
    import bench.train as bt

    calls, real = [], bt.train

    def counted(s, **kw):
        calls.append(s.run_id)
        return real(s, **kw)

    monkeypatch.setattr(bt, "train", counted)
    return calls


def sweep_dirs(tmp: Path, results: Path | None = None) -> list[str]:
    return [
        f"results_dir={hydra_quote(str(results or tmp / 'results'))}",
        f"report_dir={tmp / 'reports'}",
        f"hydra.sweep.dir={tmp / 'multirun'}",
    ]


# ---- 1. completeness verified, not assumed


def test_completion_record_names_each_file_with_size_and_sha256(tmp_path):
    s = spec(tmp_path)
    assert execute(s).status == "ok"
    folder = run_dir(tmp_path, s.run_id)
    files = record(folder)["files"]
    assert set(files) == {
        "runs.parquet",
        "curves.parquet",
        "grad_profile.parquet",
        "weights.parquet",
        "states.parquet",
    }
    for name, meta in files.items():
        data = (folder / name).read_bytes()
        assert meta == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert complete_status(folder) == "ok" and is_complete(folder)


def test_a_truncated_file_is_not_complete_and_is_rerun(tmp_path):
    s = spec(tmp_path)
    execute(s)
    folder = run_dir(tmp_path, s.run_id)
    curves = folder / "curves.parquet"
    curves.write_bytes(curves.read_bytes()[:-10])
    assert not is_complete(folder)
    with pytest.warns(UserWarning, match="curves.parquet"):
        assert load_results(tmp_path).runs.empty
    assert execute(s).status == "ok"  # rerun, not skipped
    assert is_complete(folder) and len(load_results(tmp_path).runs) == 1


def test_one_definition_of_complete_for_loader_and_sweep(tmp_path):
    s = spec(tmp_path)
    execute(s)
    folder = run_dir(tmp_path, s.run_id)
    for bad in ({}, {"status": "weird", "files": record(folder)["files"]}):
        (folder / COMPLETE).write_text(json.dumps(bad))
        assert complete_status(folder) is None and not is_complete(folder)
        with pytest.warns(UserWarning, match="completion record"):
            res = load_results(tmp_path)
        assert res.runs.empty and res.skipped
    # a failed run: finished, loaded as a failed row, but not complete (a sweep reruns it)
    rec = record(folder) if (folder / COMPLETE).exists() else {}
    execute(spec(tmp_path, "force=true"))
    rec = record(folder)
    (folder / COMPLETE).write_text(json.dumps({**rec, "status": "failed"}))
    assert complete_status(folder) == "failed" and not is_complete(folder)
    assert list(load_results(tmp_path).runs.status) == ["ok"]  # the row on disk; the record says failed
    assert execute(s).status == "ok"


def test_old_format_records_are_accepted_and_reported_unverified(tmp_path, capsys):
    s = spec(tmp_path)
    execute(s)
    folder = run_dir(tmp_path, s.run_id)
    rec = record(folder)
    (folder / COMPLETE).write_text(json.dumps({**rec, "files": sorted(rec["files"])}))
    assert is_complete(folder) and execute(s).status == "skipped"
    assert len(load_results(tmp_path).runs) == 1
    assert cli_main(["verify", f"results_dir={tmp_path}"]) == 0
    assert "no checksum recorded" in capsys.readouterr().out
    (folder / "curves.parquet").unlink()
    assert not is_complete(folder)


def test_verify_lists_damaged_runs_and_repair_requeues_them(tmp_path, capsys):
    specs = [spec(tmp_path, f"seed={i}") for i in range(3)]
    for s in specs:
        execute(s)
    flipped = run_dir(tmp_path, specs[1].run_id) / "grad_profile.parquet"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the checksum can tell
    flipped.write_bytes(bytes(data))
    (run_dir(tmp_path, specs[2].run_id) / "curves.parquet").unlink()
    assert is_complete(run_dir(tmp_path, specs[1].run_id))  # the cheap test cannot see a flipped byte
    assert cli_main(["verify", f"results_dir={tmp_path}"]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("damaged:")]
    assert len(lines) == 2
    assert (
        f"{run_dir(tmp_path, specs[1].run_id)}: grad_profile.parquet: sha256 differs" in lines[0] + lines[1]
    )
    assert f"{run_dir(tmp_path, specs[2].run_id)}: curves.parquet: missing" in out
    assert "1 runs intact, 2 damaged" in out
    assert cli_main(["verify", f"results_dir={tmp_path}", "--repair"]) == 1
    assert not (run_dir(tmp_path, specs[1].run_id) / COMPLETE).exists()
    assert cli_main(["verify", f"results_dir={tmp_path}"]) == 0
    assert "2 incomplete" in capsys.readouterr().out.splitlines()[-1]
    assert [execute(s).status for s in specs] == ["skipped", "ok", "ok"]  # requeued runs rerun
    assert cli_main(["verify", f"results_dir={tmp_path}"]) == 0


def _fake_record(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Write tables plus a completion record with their true sizes and checksums (passes completeness)."""
    files = {}
    for name, df in tables.items():
        data = table_bytes(df)
        (folder / name).write_bytes(data)
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / COMPLETE).write_text(json.dumps({"run_id": folder.name, "status": "ok", "files": files}))


def test_loader_checks_schema_and_run_id_and_never_duplicates(tmp_path):
    s = spec(tmp_path)
    execute(s)
    folder = run_dir(tmp_path, s.run_id)
    shutil.copytree(folder, folder.with_name(f"{s.run_id} (copy)"))
    wrong = folder.with_name("aaaaaaaaaaaa")
    wrong.mkdir()
    profile = pd.read_parquet(folder / "grad_profile.parquet").assign(run_id=wrong.name)
    _fake_record(wrong, {"runs.parquet": profile})  # a grad_profile table saved as runs.parquet
    with pytest.warns(UserWarning) as warned:
        res = load_results(tmp_path)
    assert list(res.runs.run_id) == [s.run_id] and res.runs.run_id.is_unique
    assert set(res.curves.run_id) == {s.run_id}
    text = " ".join(str(w.message) for w in warned)
    assert "(copy)" in text and f"not its folder's {s.run_id} (copy)" in text
    assert "not a runs table (missing columns" in text


def test_stale_temp_files_are_removed_by_the_next_writer(tmp_path):
    s = spec(tmp_path)
    folder = run_dir(tmp_path, s.run_id)
    folder.mkdir(parents=True)
    stale = folder / ".curves.parquet.999999.deadbeef.tmp"
    stale.write_bytes(b"half")
    assert execute(s).status == "ok"
    assert not stale.exists() and not any(p.name.endswith(".tmp") for p in folder.iterdir())


def test_tables_are_fsynced_before_the_record_and_the_folder_after(tmp_path, monkeypatch):
    log = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(a, b):
        log.append(("rename", str(b)))
        return real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    s = spec(tmp_path)
    execute(s)
    folder = str(run_dir(tmp_path, s.run_id))
    done = log.index(("rename", f"{folder}/{COMPLETE}"))
    for name in ("runs.parquet", "curves.parquet", "grad_profile.parquet"):
        renamed = log.index(("rename", f"{folder}/{name}"))
        assert log[renamed - 1][0] == "fsync" and log[renamed - 1][1].endswith(".tmp")  # data before the name
        assert renamed < done
    assert ("fsync", folder) in log[done:]  # the folder after the record's rename
    assert ("fsync", folder) in log[renamed:done]  # and after the tables' renames, before the record


# ---- 2. one trainer per run


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _write_claim(folder: Path, host: str, pid: int, age_s: float = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLAIM).write_text(json.dumps({"host": host, "pid": pid, "token": "x", "started_at": "then"}))
    t = time.time() - age_s
    os.utime(folder / CLAIM, (t, t))


def test_claims_are_exclusive_heartbeat_and_are_released(tmp_path):
    folder = tmp_path / "run"
    with claim(folder, heartbeat_s=0.05) as got:
        assert got and claim_holder(folder)["pid"] == os.getpid()
        with claim(folder) as again:
            assert not again  # the same run cannot be claimed twice
        old = time.time() - 1000
        os.utime(folder / CLAIM, (old, old))
        time.sleep(0.4)
        assert time.time() - (folder / CLAIM).stat().st_mtime < 5  # the heartbeat refreshed it
    assert not (folder / CLAIM).exists() and claim_holder(folder) is None


def test_stale_claims_are_taken_over_live_ones_are_not(tmp_path, monkeypatch):
    import socket

    here = socket.gethostname()
    cases = {
        "dead pid on this host": (here, _dead_pid(), 0, True),
        "live pid on this host": (here, os.getppid(), 1000, False),  # pid only: old mtime does not matter
        "other host, no heartbeat": ("elsewhere", 1, 1000, True),
        "other host, recent heartbeat": ("elsewhere", 1, 5, False),
    }
    for name, (host, pid, age, taken) in cases.items():
        folder = tmp_path / name.replace(" ", "_").replace(",", "")
        _write_claim(folder, host, pid, age)
        with claim(folder) as got:
            assert got == taken, name
    calls = counting_train(monkeypatch)
    s = spec(tmp_path)
    _write_claim(run_dir(tmp_path, s.run_id), here, os.getppid())
    assert execute(s).status == "claimed" and calls == []
    assert not (run_dir(tmp_path, s.run_id) / COMPLETE).exists()


@pytest.mark.slow  # process-level / figure-heavy (10-20 s): `pytest -m slow`
def test_a_killed_claimant_is_taken_over(tmp_path):
    # long enough to be killed while it trains (~2 s after its config.json appears), short to retrain here
    args = [*TINY, "train.steps=500", "train.eval_every=500", "train.early_stop=false"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", *args, f"results_dir={tmp_path}"], env=ENV, cwd=tmp_path
    )
    s = spec(tmp_path, *args[len(TINY) :])
    folder = run_dir(tmp_path, s.run_id)
    deadline = time.time() + 60
    while not (folder / "config.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    assert claim_holder(folder)["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (folder / CLAIM).exists() and claim_holder(folder) is None  # left behind, and stale
    assert not (folder / COMPLETE).exists()
    assert execute(s).status == "ok"  # the stale claim is taken over and the run trained
    assert is_complete(folder) and not (folder / CLAIM).exists()


SWEEPER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import bench.train as bt
    log, barrier, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    real = bt.train
    def train(spec, **kw):
        with open(log, "a") as f:
            f.write(spec.run_id + " " + me + "\\n")
        return real(spec, **kw)
    bt.train = train
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < 2:
        time.sleep(0.01)
    from bench.cli import main
    sys.exit(main(["sweep", *sys.argv[4:]]))
    """
)


@pytest.mark.slow  # a process-level sweep (20-40 s): `pytest -m slow`
def test_two_concurrent_sweeps_train_every_run_exactly_once(tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    log = tmp_path / "trainings.log"
    grid = [
        "sweep=smoke",
        "task=recall",
        "cell=rnn,gru",
        "seed=0,1",
        "train.steps=10",
        "progress=false",
        "jobs=1",
        "threads=1",  # two sweeps on the shared cores: one thread each, no OpenMP spin-waiting
    ]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SWEEPER,
                str(log),
                str(barrier),
                me,
                *grid,
                f"results_dir={tmp_path / 'results'}",
                f"report_dir={tmp_path / me}",
                f"hydra.sweep.dir={tmp_path / ('multirun_' + me)}",
            ],
            env=ENV,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in ("a", "b")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    trained = [line.split()[0] for line in log.read_text().splitlines()]
    assert len(trained) == 4 == len(set(trained)), log.read_text()  # each of the 4 runs trained once
    res = load_results(tmp_path / "results")
    assert len(res.runs) == 4 and set(res.runs.status) == {"ok"} and res.runs.run_id.is_unique
    assert not list((tmp_path / "results").glob(f"runs/*/{CLAIM}"))


def _descendants(pid: int) -> list[int]:
    kids = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2 :].split()[0] != "Z"


@pytest.mark.slow  # process-level / figure-heavy (10-20 s): `pytest -m slow`
def test_killing_the_sweep_stops_its_joblib_workers(tmp_path):
    grid = ["sweep=none", "cell=rnn,gru", *TINY, "train.steps=100000", "train.early_stop=false"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "sweep",
            *grid,
            *sweep_dirs(tmp_path),
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.time() + 90
        while len(list((tmp_path / "results").glob(f"runs/*/{CLAIM}"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert len(list((tmp_path / "results").glob(f"runs/*/{CLAIM}"))) == 2, "workers never started"
        workers = _descendants(proc.pid)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while any(_alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers survived their sweep"
        time.sleep(0.5)
        assert not list((tmp_path / "results").glob(f"runs/*/{COMPLETE}"))
    finally:
        for w in workers:  # only the processes this test started
            if _alive(w):
                os.kill(w, signal.SIGKILL)


# ---- 3. full disks, read-only paths, odd paths


def _enospc_on(monkeypatch, names: tuple[str, ...]) -> None:
    """Simulated full disk: writing a file whose final name is in `names` writes half, then ENOSPC."""
    real = atomic._write_data

    def write(f, data):
        if any(Path(f.name).name.startswith(f".{n}.") for n in names):
            f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, data)

    monkeypatch.setattr(atomic, "_write_data", write)


def test_disk_full_stops_the_sweep_with_one_line(tmp_path, monkeypatch, capsys):
    calls = counting_train(monkeypatch)
    _enospc_on(monkeypatch, ("curves.parquet",))  # config.json fits; the tables do not
    rc = sweep_main([*BARE, "cell=rnn,lstm,gru", *TINY, *sweep_dirs(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and len(calls) == 1  # stopped after the first run that could not be written
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "no space left on device at " in lines[0] and "curves.parquet (needs " in lines[0]
    assert not list((tmp_path / "results").glob(f"runs/*/{COMPLETE}"))
    assert not list((tmp_path / "results").glob("runs/*/.*.tmp"))
    assert load_results(tmp_path / "results").runs.empty


def test_disk_full_in_bench_run_is_one_line_and_nothing_complete(tmp_path, monkeypatch, capsys):
    _enospc_on(monkeypatch, ("runs.parquet",))
    assert cli_main(["run", *TINY, f"results_dir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write_error: no space left on device at" in err
    assert not list(tmp_path.glob(f"runs/*/{COMPLETE}"))


def _mount(*args: str) -> bool:
    if shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_real_full_tmpfs(tmp_path, capsys):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)):
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN); the simulated tests cover this")
    try:
        filler = mnt / "filler"
        with open(filler, "wb") as f:  # leave ~12 KB: the pre-flight probe and config.json fit, tables not
            try:
                f.write(b"\0" * (shutil.disk_usage(mnt).free - 12_000))
            except OSError:
                pass
        assert cli_main(["run", *TINY, "train.profile_batch=8", f"results_dir={mnt}"]) == 1
        err = capsys.readouterr().err
        assert "no space left on device at " in err and "Traceback" not in err
        assert not list(mnt.glob(f"runs/*/{COMPLETE}")) and not list(mnt.glob("runs/*/.*.tmp"))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_unwritable_results_dir_is_a_preflight_error(tmp_path, monkeypatch, capsys):
    calls = counting_train(monkeypatch)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    # real failures: results_dir is a file, or lies under one
    assert cli_main(["run", *TINY, f"results_dir={a_file}"]) == 2
    assert capsys.readouterr().err.strip() == f"error: results_dir: {a_file} is not a directory"
    assert cli_main(["run", *TINY, f"results_dir={a_file / 'sub'}"]) == 2
    assert f"error: results_dir: {a_file / 'sub'} cannot be created" in capsys.readouterr().err
    assert sweep_main([*BARE, "cell=rnn,gru", *TINY, *sweep_dirs(tmp_path, a_file / "sub")]) == 2
    assert "error: sweep not started: results_dir: " in capsys.readouterr().err
    # simulated read-only directory (as root a chmod does not bite): the probe write fails with EROFS
    ro = tmp_path / "ro"

    def probe(path):
        if path.parent == ro:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_probe(path)

    real_probe = atomic._probe
    monkeypatch.setattr(atomic, "_probe", probe)
    assert sweep_main([*BARE, "cell=rnn,gru", *TINY, *sweep_dirs(tmp_path, ro)]) == 2
    err = capsys.readouterr().err
    assert f"error: sweep not started: results_dir: {ro} is not writable (Read-only file system)" in err
    assert calls == []
    # unwritable report_dir: also before anything trains
    assert sweep_main([*BARE, "cell=rnn,gru", *TINY, *sweep_dirs(tmp_path), f"report_dir={a_file}"]) == 2
    assert "report_dir: " in capsys.readouterr().err and calls == []
    assert cli_main(["report", f"results_dir={tmp_path}", f"report_dir={a_file}"]) == 2


@pytest.fixture(scope="module")
def odd_sweep(tmp_path_factory) -> tuple[Path, Path]:
    """A bare grid of two runs swept (in this process) into a results_dir with a space, a comma and a
    non-ASCII letter in its name: (the folder it lies in, the results_dir)."""
    root = tmp_path_factory.mktemp("odd")
    odd = root / "a b,c é"
    with pytest.MonkeyPatch.context() as mp:
        text_only(mp)
        assert sweep_main([*BARE, "cell=rnn,gru", *TINY, *sweep_dirs(root, odd)]) == 0
    return root, odd


def test_a_complete_read_only_archive_still_reads(tmp_path, monkeypatch, capsys, odd_sweep, text_report):
    grid = [*BARE, "cell=rnn,gru", *TINY]
    results = tmp_path / "results"
    shutil.copytree(odd_sweep[1], results)  # the grid's two runs, swept to completion by the fixture
    real_probe = atomic._probe
    monkeypatch.setattr(  # simulated read-only results_dir
        atomic,
        "_probe",
        lambda p: (_ for _ in ()).throw(OSError(errno.EROFS, "ro")) if p.parent == results else real_probe(p),
    )
    capsys.readouterr()
    assert sweep_main([*grid, *sweep_dirs(tmp_path)]) == 0
    assert "0 ok, 0 diverged, 0 failed, 2 skipped" in capsys.readouterr().out
    assert cli_main(["run", "cell=rnn", *TINY, f"results_dir={results}"]) == 0
    assert cli_main(["run", "cell=lstm", *TINY, f"results_dir={results}"]) == 2  # something to train


def test_real_read_only_bind_mount(tmp_path, capsys):
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    execute(spec(src))
    if not (_mount("--bind", str(src), str(ro)) and _mount("-o", "remount,ro,bind", str(ro))):
        subprocess.run(["umount", str(ro)], capture_output=True)
        pytest.skip("cannot make a read-only bind mount here; test_unwritable_results_dir simulates it")
    try:
        assert (
            atomic.check_writable("results_dir", ro)
            == f"results_dir: {ro} is not writable (Read-only file system)"
        )
        assert cli_main(["run", *TINY, f"results_dir={ro}"]) == 0  # complete: read-only is fine
        assert cli_main(["run", *TINY, "seed=1", f"results_dir={ro}"]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(ro)], check=False)


@pytest.mark.parametrize("value", ["/tmp/a b,c é", "/x/it's", "a\\b", "end\\", "q\\'x", "a=b", "[1,2]"])
def test_hydra_quote_round_trips(value):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    o = OverridesParser.create().parse_override(f"results_dir={hydra_quote(value)}")
    assert not o.is_sweep_override() and o.value() == value


def test_results_dir_with_space_comma_and_non_ascii(odd_sweep):
    root, odd = odd_sweep  # swept into `odd` by the fixture (exit status 0)
    assert len(load_results(odd).runs) == 2
    assert sorted(p.name for p in root.iterdir() if "a b" in p.name or "c é" in p.name) == ["a b,c é"]


def test_report_files_are_written_atomically_and_a_failure_exits_non_zero(tmp_path, monkeypatch, capsys):
    from bench.report import main as report_main

    execute(spec(tmp_path / "results"))
    out = tmp_path / "reports"
    assert report_main(tmp_path / "results", out) == 0
    before = (out / "report.html").read_bytes()
    _enospc_on(monkeypatch, ("report.html",))
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:  # the text is what fails here: no need to draw again
        text_only(mp)
        assert report_main(tmp_path / "results", out) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on device at" in err and "report.html" in err
    assert (out / "report.html").read_bytes() == before  # the old report, not a truncated one
    assert not list(out.rglob(".*.tmp"))
    # a figure that cannot be written fails the report too (not a note), and leaves the old figure intact
    from matplotlib.figure import Figure

    figs = {p: p.read_bytes() for p in (out / "figures").glob("*.png")}

    def full_savefig(self, fname, **kw):
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_savefig)
    assert report_main(tmp_path / "results", out) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on device at" in err and ".png" in err
    assert figs and all(p.read_bytes() == data for p, data in figs.items())
    assert not list(out.rglob(".*.tmp"))
