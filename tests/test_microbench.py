"""The micro-benchmark converter and ratio gates: on synthetic pytest-benchmark JSON, and on a real JSON
from running the suite's LSTM pair on the tiny grid in a subprocess (the suite itself stays out of the
unit run)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.gates import check_fastpath_gates, check_gates
from bench.microbench import (
    FASTPATH_GATE_SHAPES,
    FASTPATH_LIMITS,
    GATE_SHAPE,
    TABLE_COLUMNS,
    cli,
    forward_flops,
    gemm_reference,
    main,
    pass_flops,
    time_min,
    to_table,
)

ROOT = Path(__file__).resolve().parent.parent
H, T, B = GATE_SHAPE["hidden"], GATE_SHAPE["seq_len"], GATE_SHAPE["batch"]


def _bench(name: str, min_s: float, group: str = "g", **info) -> dict:
    """One benchmark entry laid out as pytest-benchmark 5 writes it."""
    data = [min_s, min_s * 1.1, min_s * 1.2]
    stats = {
        "min": min_s,
        "max": max(data),
        "mean": sum(data) / 3,
        "stddev": 0.1 * min_s,
        "rounds": 3,
        "median": data[1],
        "iqr": 0.1 * min_s,
        "q1": min_s,
        "q3": data[2],
        "iqr_outliers": 0,
        "stddev_outliers": 0,
        "outliers": "0;0",
        "ld15iqr": min_s,
        "hd15iqr": data[2],
        "ops": 1 / min_s,
        "total": sum(data),
        "data": data,
        "iterations": 1,
    }
    return {
        "group": group,
        "name": name,
        "fullname": f"tests/benchmarks/x.py::{name}",
        "params": None,
        "param": None,
        "extra_info": {"device": "cpu", "threads": 2, **info},
        "options": {},
        "stats": stats,
    }


def _cell(pass_: str, cell: str, impl: str, min_s: float, gemm_s: float | None = None) -> dict:
    flops = pass_flops(pass_, cell, H, 10, T, B)
    info = {"pass": pass_, "cell": cell, "impl": impl, "hidden": H, "seq_len": T, "batch": B, "flops": flops}
    if gemm_s is not None:
        info["gemm_s"] = gemm_s
    return _bench(f"test_{pass_}[H{H}-T{T}-{cell}-{impl}]", min_s, group=f"{pass_} H{H} T{T}", **info)


def _run(pass_: str, min_s: float, steps: int = 400) -> dict:
    return _bench(
        f"test_{pass_}",
        min_s,
        group="harness",
        **{
            "pass": pass_,
            "cell": "lstm",
            "impl": "fused",
            "hidden": 128,
            "seq_len": 120,
            "batch": 64,
            "steps": steps,
        },
    )


def _json(tmp_path: Path, benches: list[dict], name: str = "bench.json") -> Path:
    doc = {
        "machine_info": {"node": "test", "cpu": {"count": 2}},
        "commit_info": {},
        "benchmarks": benches,
        "datetime": "2025-01-01T00:00:00",
        "version": "5.3.1",
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _fast(cell: str, shape: tuple[int, int, int], min_s: float, twin_s: float) -> dict:
    """A fast-path forward_backward benchmark with its fused twin, as test_bench_fastpath writes it."""
    h, t, b = shape
    info = {"pass": "forward_backward", "cell": cell, "impl": "fast", "hidden": h, "seq_len": t, "batch": b}
    info.update(flops=pass_flops("forward_backward", cell, h, 10, t, b), gemm_s=min_s / 2)
    info.update(twin=FASTPATH_LIMITS[cell][0], twin_min_s=twin_s)
    name = f"test_fastpath_fwd_bwd[H{h}-T{t}-B{b}-{cell}]"
    return _bench(name, min_s, group=f"fastpath forward_backward H{h} T{t} B{b}", **info)


def _fast_doc(ratio: float = 0.9, slow: tuple[str, tuple, float] | None = None) -> list[dict]:
    """Fast-path benchmarks at every gate shape, each `ratio` x its twin (slow: one (cell, shape, ratio))."""
    out = []
    for shape in FASTPATH_GATE_SHAPES:
        for cell in FASTPATH_LIMITS:
            r = slow[2] if slow is not None and (cell, shape) == slow[:2] else ratio
            out.append(_fast(cell, shape, 0.05 * r, 0.05))
    return out


def _doc(
    explicit_s: float, fused_s: float = 0.2, harness_s: float = 10.5, bare_s: float = 10.0
) -> list[dict]:
    return [
        _cell("forward_backward", "lstm", "fused", fused_s, gemm_s=0.1),
        _cell("forward_backward", "lstm", "explicit", explicit_s, gemm_s=0.1),
        _cell("forward", "lstm", "fused", fused_s / 3),  # other passes and shapes are not gated
        _run("bare_step", bare_s),
        _run("harness_run", harness_s),
        _bench(
            "test_generate[T300-copy]",
            5e-5,
            group="generate",
            **{"pass": "generate", "task": "copy", "seq_len": T, "batch": B},
        ),
        *_fast_doc(),  # the fast-path gates' benchmarks, all passing
    ]


def test_flop_counts():
    assert forward_flops("lstm", 128, 10, 300, 64) == 2 * 4 * 128 * (10 + 128) * 300 * 64
    assert forward_flops("gru", 64, 10, 1, 1) == 2 * 3 * 64 * 74
    assert forward_flops("rnn", 64, 10, 1, 1, layers=2) == 2 * 64 * 74 + 2 * 64 * 128
    assert pass_flops("forward_backward", "rnn", 8, 2, 5, 3) == 3 * forward_flops("rnn", 8, 2, 5, 3)
    assert pass_flops("bare_step", "rnn", 8, 2, 5, 3, steps=7) == 21 * forward_flops("rnn", 8, 2, 5, 3)
    assert pass_flops("generate", "rnn", 8, 2, 5, 3) is None


def test_gemm_reference_runs_forward_and_backward():
    fwd = gemm_reference("lstm", 16, 4, 10, 8, backward=False)
    both = gemm_reference("lstm", 16, 4, 10, 8, backward=True)
    t_fwd, t_both = time_min(fwd, budget_s=0.01), time_min(both, budget_s=0.01)
    assert 0 < t_fwd and 0 < t_both


def test_table_columns_and_derived_numbers(tmp_path):
    df = to_table(_json(tmp_path, _doc(explicit_s=0.25)))
    assert list(df.columns) == list(TABLE_COLUMNS)
    assert len(df) == 6 + 9
    r = df[(df["impl"] == "fused") & (df["pass"] == "forward_backward")].iloc[0]
    assert r["cell"] == "lstm" and r["hidden"] == H and r["seq_len"] == T and r["batch"] == B
    assert r["rounds"] == 3 and r["threads"] == 2 and r["device"] == "cpu"
    assert r["flops"] == 3 * forward_flops("lstm", H, 10, T, B)
    assert r["gflops_per_s"] == pytest.approx(r["flops"] / 0.2 / 1e9)
    assert r["gemm_gflops_per_s"] == pytest.approx(r["flops"] / 0.1 / 1e9)
    assert r["gemm_fraction"] == pytest.approx(0.5)
    assert r["mean_s"] > r["min_s"]
    gen = df[df["pass"] == "generate"].iloc[0]
    assert gen["task"] == "copy" and pd.isna(gen["cell"]) and math.isnan(gen["gflops_per_s"])
    assert df["hidden"].dtype == "Int64" and df["min_s"].dtype == "float64"


def test_gates_pass_on_a_good_run(tmp_path):
    results = check_gates(_json(tmp_path, _doc(explicit_s=0.26)))  # 1.3x and 1.05x
    assert [r.gate for r in results][:2] == ["explicit_lstm", "harness_overhead"]
    assert [r.gate for r in results][2:] == [
        f"fastpath_{c}_H{h}_T{t}_B{b}" for h, t, b in FASTPATH_GATE_SHAPES for c in FASTPATH_LIMITS
    ]
    assert all(r.passed for r in results), [r.message for r in results]
    assert results[0].ratio == pytest.approx(1.3) and results[1].ratio == pytest.approx(1.05)
    assert cli(["gates", str(tmp_path / "bench.json")]) == 0


def test_explicit_gate_rejects_a_slowed_explicit_lstm(tmp_path, capsys):
    results = check_gates(_json(tmp_path, _doc(explicit_s=0.4)))  # explicit deliberately 2x slower
    a = results[0]
    assert a.status == "fail" and a.ratio == pytest.approx(2.0)
    # both numbers and the ratio are in the message
    assert "400.00 ms" in a.message and "200.00 ms" in a.message and "2.000" in a.message
    assert "FAIL" in a.message and "1.5" in a.message
    assert results[1].passed
    assert cli(["gates", str(tmp_path / "bench.json")]) == 1
    out = capsys.readouterr().out
    assert "400.00 ms" in out and "200.00 ms" in out


def test_explicit_gate_prefers_the_interleaved_twin(tmp_path):
    benches = _doc(explicit_s=0.3, fused_s=0.1)  # separate benchmarks: 3.0x, under drifting load
    benches[1]["extra_info"].update(twin="fused", twin_min_s=0.24)  # fused timed between explicit rounds
    a = check_gates(_json(tmp_path, benches))[0]
    assert a.passed and a.ratio == pytest.approx(1.25)
    assert "300.00 ms" in a.message and "240.00 ms" in a.message and "3.000" in a.message  # both views
    benches[1]["extra_info"]["twin_min_s"] = 0.15
    a = check_gates(_json(tmp_path, benches))[0]
    assert a.status == "fail" and a.ratio == pytest.approx(2.0) and "150.00 ms" in a.message


def test_harness_gate_rejects_overhead(tmp_path):
    results = check_gates(_json(tmp_path, _doc(explicit_s=0.25, harness_s=15.0, bare_s=10.0)))
    b = results[1]
    assert b.status == "fail" and b.ratio == pytest.approx(1.5)
    assert "15000.00 ms" in b.message and "10000.00 ms" in b.message and "1.500" in b.message
    assert check_gates(_json(tmp_path, _doc(explicit_s=0.25, harness_s=13.0, bare_s=10.0)))[1].passed


def test_harness_gate_compares_runs_of_equal_length(tmp_path):
    benches = [*_doc(explicit_s=0.25), _run("bare_step", 1.0, steps=20)]  # a shorter bare run is ignored
    assert check_gates(_json(tmp_path, benches))[1].ratio == pytest.approx(1.05)


def test_missing_benchmarks_fail_unless_allowed(tmp_path, capsys):
    path = _json(tmp_path, [_cell("forward_backward", "lstm", "fused", 0.2)])
    results = check_gates(path)
    assert [r.status for r in results] == ["missing"] * (2 + 9)
    assert "numerator" in results[0].message
    assert cli(["gates", str(path)]) == 1
    assert cli(["gates", str(path), "--allow-missing"]) == 0


def test_main_writes_the_parquet_and_rejects_bad_json(tmp_path, capsys):
    path = _json(tmp_path, _doc(explicit_s=0.25))
    out = tmp_path / "results"
    assert main(str(path), str(out)) == 0
    df = pd.read_parquet(out / "microbench.parquet")
    assert list(df.columns) == list(TABLE_COLUMNS) and len(df) == 6 + 9
    assert str(out / "microbench.parquet") in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(str(bad), str(out)) == 2
    # the harness CLI wiring: python -m bench microbench JSON results_dir=DIR
    from bench.cli import main as bench_main

    assert bench_main(["microbench", str(path), f"results_dir={tmp_path / 'r2'}"]) == 0
    assert (tmp_path / "r2" / "microbench.parquet").is_file()


@pytest.fixture(scope="module")
def suite_json(tmp_path_factory) -> Path:
    """The suite's LSTM forward+backward pair, the harness-vs-bare pair and the fast-path benchmarks (all
    three cells) on the tiny grid, run as CI runs the suite (a subprocess, the benchmark folder named on
    the command line): one pytest-benchmark JSON, which real_json and fast_json split in two."""
    path = tmp_path_factory.mktemp("mb") / "suite.json"
    # not as an xdist worker (pytest-benchmark would disable itself): drop the worker's PYTEST_XDIST_* vars
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env |= {"BENCH_THREADS": "1", "BENCH_DEVICE": "cpu"}
    k = "forward_backward and lstm or harness_overhead or test_bench_fastpath"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/benchmarks",
        "--benchmark-only",
        "--bench-grid=tiny",
        "-k",
        k,
    ]
    cmd += [f"--benchmark-json={path}", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return path


def _part(suite: Path, out: Path, fastpath: bool) -> Path:
    """The suite's JSON with only the fast-path benchmarks (fastpath) or only the others."""
    doc = json.loads(suite.read_text())
    doc["benchmarks"] = [
        b for b in doc["benchmarks"] if ("test_bench_fastpath.py::" in b["fullname"]) == fastpath
    ]
    out.write_text(json.dumps(doc))
    return out


@pytest.fixture(scope="module")
def real_json(suite_json) -> Path:
    """The LSTM forward+backward pair and the harness-vs-bare pair of the suite's run."""
    return _part(suite_json, suite_json.with_name("real.json"), fastpath=False)


@pytest.mark.slow  # runs real benchmarks / builds twice (8-10 s): `pytest -m slow`
def test_converter_on_a_real_benchmark_json(real_json, tmp_path):
    df = to_table(real_json)
    assert list(df.columns) == list(TABLE_COLUMNS)
    assert sorted(df["pass"]) == ["bare_step", "forward_backward", "forward_backward", "harness_run"]
    assert set(df["cell"]) == {"lstm"} and (df["min_s"] > 0).all() and (df["mean_s"] >= df["min_s"]).all()
    assert (df["gflops_per_s"] > 0).all() and (df["gemm_fraction"] > 0).all()
    assert set(df["device"]) == {"cpu"} and set(df["threads"]) == {1}
    fb = df[df["pass"] == "forward_backward"]
    assert sorted(fb["impl"]) == ["explicit", "fused"] and (fb["rounds"] >= 2).all()
    assert set(fb["hidden"]) == {16} and set(fb["seq_len"]) == {30} and set(fb["batch"]) == {8}
    assert (fb["flops"] == 3 * forward_flops("lstm", 16, 10, 30, 8)).all()
    runs = df[df["pass"] != "forward_backward"]
    assert set(runs["steps"]) == {20} and set(runs["seq_len"]) == {30}  # copy gap 10 -> length 30
    assert (runs["flops"] == 20 * 3 * forward_flops("lstm", 16, 10, 30, 8)).all()
    assert main(str(real_json), str(tmp_path)) == 0
    assert len(pd.read_parquet(tmp_path / "microbench.parquet")) == 4


def test_gates_on_a_real_json(real_json, tmp_path):
    # the harness pair is there: whatever its verdict at these toy sizes, both times are reported
    b = check_gates(real_json)[1]
    assert b.status in ("pass", "fail") and b.numerator_s > 0 and b.denominator_s > 0
    assert f"{b.numerator_s * 1e3:.2f} ms" in b.message and f"{b.denominator_s * 1e3:.2f} ms" in b.message
    # relabel the tiny LSTM pair as the gate's shape, then slow the explicit one to exactly 2x its fused
    # twin (the fused core timed between the explicit rounds, which the gate reads)
    doc = json.loads(real_json.read_text())
    pair = [x for x in doc["benchmarks"] if x["extra_info"]["pass"] == "forward_backward"]
    for x in pair:
        x["extra_info"].update(hidden=H, seq_len=T, batch=B)
    explicit = next(x for x in pair if x["extra_info"]["impl"] == "explicit")
    fused = explicit["extra_info"]["twin_min_s"]
    assert explicit["extra_info"]["twin"] == "fused" and fused > 0
    factor = 2 * fused / explicit["stats"]["min"]
    for key in ("min", "max", "mean", "median", "stddev", "q1", "q3", "iqr", "total"):
        explicit["stats"][key] *= factor
    path = tmp_path / "slowed.json"
    path.write_text(json.dumps(doc))
    a = check_gates(path)[0]
    assert a.status == "fail" and a.ratio == pytest.approx(2.0)
    assert f"{fused * 1e3:.2f} ms" in a.message and f"{2 * fused * 1e3:.2f} ms" in a.message
    assert cli(["gates", str(path), "--allow-missing"]) == 1


@pytest.mark.parametrize("cell", sorted(FASTPATH_LIMITS))
def test_fastpath_gate_rejects_a_slowed_fast_cell(tmp_path, capsys, cell):
    twin, limit = FASTPATH_LIMITS[cell]
    shape = FASTPATH_GATE_SHAPES[1]
    # just under the limit passes, 1.2x the limit fails: only that (cell, shape) gate
    ok = check_fastpath_gates(to_table(_json(tmp_path, _fast_doc(slow=(cell, shape, limit * 0.99)))))
    assert all(r.passed for r in ok), [r.message for r in ok]
    path = _json(tmp_path, [*_doc(explicit_s=0.25)[:6], *_fast_doc(slow=(cell, shape, limit * 1.2))])
    results = check_gates(path)
    bad = [r for r in results if not r.passed]
    assert [r.gate for r in bad] == [f"fastpath_{cell}_H{shape[0]}_T{shape[1]}_B{shape[2]}"]
    r = bad[0]
    assert r.status == "fail" and r.ratio == pytest.approx(limit * 1.2)
    assert f"{0.05 * limit * 1.2 * 1e3:.2f} ms" in r.message and "50.00 ms" in r.message
    assert twin in r.message and "FAIL" in r.message and f"{limit:g}" in r.message
    assert cli(["gates", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{0.05 * limit * 1.2 * 1e3:.2f} ms" in out and "50.00 ms" in out


def test_fastpath_gates_need_the_twin(tmp_path):
    benches = _fast_doc()
    for b in benches:
        del b["extra_info"]["twin_min_s"]
    results = check_fastpath_gates(to_table(_json(tmp_path, benches)))
    assert {r.status for r in results} == {"missing"}


@pytest.fixture(scope="module")
def fast_json(suite_json) -> Path:
    """The fast-path benchmarks (all three cells) of the suite's run."""
    from bench import fastpath

    if not fastpath.available():
        pytest.skip("bench.fastpath could not be built")
    return _part(suite_json, suite_json.with_name("fast.json"), fastpath=True)


@pytest.mark.slow  # runs real benchmarks / builds twice (8-10 s): `pytest -m slow`
def test_fastpath_gates_on_a_real_json(fast_json, tmp_path):
    df = to_table(fast_json)
    assert sorted(df["cell"]) == ["gru", "lstm", "rnn"] and set(df["impl"]) == {"fast"}
    assert (df["twin_min_s"] > 0).all() and (df["gemm_fraction"] > 0).all()
    # relabel the tiny benchmarks as the first gate shape, then slow each fast cell to 2x its limit
    h, t, b = FASTPATH_GATE_SHAPES[0]
    doc = json.loads(fast_json.read_text())
    for x in doc["benchmarks"]:
        x["extra_info"].update(hidden=h, seq_len=t, batch=b)
        twin_s = x["extra_info"]["twin_min_s"]
        factor = 2 * FASTPATH_LIMITS[x["extra_info"]["cell"]][1] * twin_s / x["stats"]["min"]
        for key in ("min", "max", "mean", "median", "stddev", "q1", "q3", "iqr", "total"):
            x["stats"][key] *= factor
    path = tmp_path / "slowed.json"
    path.write_text(json.dumps(doc))
    results = {r.gate: r for r in check_fastpath_gates(to_table(path))}
    for cell, (_, limit) in FASTPATH_LIMITS.items():
        r = results[f"fastpath_{cell}_H{h}_T{t}_B{b}"]
        assert r.status == "fail" and r.ratio == pytest.approx(2 * limit)
        assert f"{r.numerator_s * 1e3:.2f} ms" in r.message and f"{r.denominator_s * 1e3:.2f} ms" in r.message
    assert cli(["gates", str(path), "--allow-missing"]) == 1
