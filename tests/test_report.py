"""The comparison report, on synthetic results with known outcomes."""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.report import build_report, main
from bench.report.analysis import analyse
from bench.report.doc import to_markdown
from bench.report.factors import FACTORS, Factor
from bench.report.sections import SECTIONS, gradients, render
from bench.report.stats import wilson
from bench.results import load_results
from bench.schema import RUN_COLUMNS, SCHEMA_VERSION
from bench.spec import TASK_SPECS, CellSpec, RunSpec, TrainSpec
from bench.store import begin_run, finish_run, run_dir

CHANCE = {  # task -> (chance loss at T, chance accuracy)
    "copy": (lambda T: 10 * math.log(8) / (T + 20), 1 / 8),
    "adding": (lambda T: 1 / 6, float("nan")),
    "recall": (lambda T: math.log(8), 1 / 8),
}
STEPS = 200
T975_2 = 4.302652729911275  # Student t, 0.975 quantile, 2 degrees of freedom (3 seeds)


def solved_acc(seed: int) -> float:
    return 0.95 + 0.01 * seed


def chance_acc(task: str, seed: int) -> float:
    ca = CHANCE[task][1]
    return (0.05 if math.isnan(ca) else ca) + 0.004 * seed


def write_run(
    root: Path,
    *,
    task: str,
    seq_len: int,
    cell: str,
    seed: int,
    solved: bool,
    variant: str | None = None,
    lr: float = 1e-3,
    forget_bias: str = "0.0",
    recurrent_init: str = "default",
    sweep: str | None = "main",
    impl: str = "fused",
    task_variant: str = "default",
    status: str = "ok",
    drop: tuple[str, ...] = (),
    profile_steps: tuple[int, ...] = (0, STEPS),
    ms: float | None = None,
    batch_size: int = 16,
    sigma: tuple[float, float] | None = None,
    **overrides: object,
) -> str:
    """One plausible run: row, curves and gradient profile (with exact zeros for the RNN at init); with
    `sigma`, a weights table: sigma_max(W_hh) at init and at the last profiled step."""
    variant = variant or ("tanh" if cell == "rnn" else "vanilla")
    fb = forget_bias if forget_bias == "chrono" else float(forget_bias)
    spec = RunSpec(
        TASK_SPECS[task](seq_len=seq_len),
        CellSpec(cell, impl, variant, hidden_size=32, forget_bias=fb, recurrent_init=recurrent_init),
        TrainSpec(lr=lr, batch_size=batch_size, steps=STEPS),
        seed=seed,
    )
    rid = spec.run_id
    chance_loss, chance_accuracy = CHANCE[task][0](seq_len), CHANCE[task][1]
    acc = solved_acc(seed) if solved else chance_acc(task, seed)
    loss = chance_loss * (0.05 * (1 + 0.1 * seed) if solved else 0.99 + 0.01 * seed)
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    row = {
        "run_id": rid,
        "config_id": spec.config_id,
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "error": None,
        "sweep": sweep,
        "length": None,
        **spec.columns(),
        "task_variant": task_variant,
        "hidden_size": 32,
        "num_params": gates * 32 * 42 + 100,
        "steps": STEPS,
        "solved": solved,
        "steps_to_solve": 50.0 * (seed + 1) if solved else float("nan"),
        "wall_s_to_solve": 1.0 * (seed + 1) if solved else float("nan"),
        "diverged_at": float("nan"),
        "final_loss": loss,
        "final_accuracy": acc,
        "chance_loss": chance_loss,
        "chance_accuracy": chance_accuracy,
        "ms_per_step": ms
        if ms is not None
        else 0.02 * seq_len * gates * (3.0 if impl == "explicit" else 1.0),
        "elements_per_s": 16 * seq_len / (0.02e-3 * seq_len * gates),
        "peak_mem_mb": 50.0 + gates,
        "wall_s": 10.0,
        "torch_version": "2.13.0",
        "python_version": "3.11.7",
        "device_name": "Test CPU",
        "threads": 2,
        "git_commit": "abc1234",
        "hostname": "testhost",
        "started_at": f"2025-01-01T00:00:{seed:02d}",
        "config_json": json.dumps(spec.identity(), sort_keys=True),
    }
    row.update(overrides)  # any other run column, e.g. final_loss=...
    runs = pd.DataFrame([{c: row.get(c) for c in RUN_COLUMNS if c not in drop}])
    steps = np.arange(0, STEPS + 1, 25)
    frac = steps / STEPS
    eval_loss = chance_loss * (1 - frac * (1 - loss / chance_loss))
    curves = pd.concat(
        [
            pd.DataFrame(
                {"run_id": rid, "step": steps, "split": "eval", "metric": "loss", "value": eval_loss}
            ),
            pd.DataFrame(
                {
                    "run_id": rid,
                    "step": steps,
                    "split": "eval",
                    "metric": "accuracy",
                    "value": (1 - frac) * 0.1 + frac * acc,
                }
            ),
            pd.DataFrame(
                {"run_id": rid, "step": steps, "split": "train", "metric": "loss", "value": eval_loss * 1.01}
            ),
            pd.DataFrame(
                {"run_id": rid, "step": steps, "split": "train", "metric": "grad_norm", "value": 1.0}
            ),
        ],
        ignore_index=True,
    )
    d = np.arange(seq_len)
    prof = []
    decay = {"rnn": 0.3, "lstm": 0.8, "gru": 0.85}[cell]
    for step in profile_steps:
        rate = decay if step == 0 else decay**0.25
        norm = rate ** d.astype(float)
        if cell == "rnn" and step == 0:
            norm[d >= 15] = 0.0  # underflow to exactly 0
        states = ("h", "c") if cell == "lstm" else ("h",)
        for state in states:
            prof.append(
                pd.DataFrame(
                    {
                        "run_id": rid,
                        "step": step,
                        "layer": 0,
                        "t": seq_len - 1 - d,
                        "distance": d,
                        "state": state,
                        "grad_norm": norm * (1.5 if state == "c" else 1.0),
                    }
                )
            )
    tables = {"runs": runs, "curves": curves}
    if prof:  # a run may write no profile at all
        tables["grad_profile"] = pd.concat(prof, ignore_index=True)
    if sigma is not None and profile_steps:
        steps_w = [profile_steps[0], profile_steps[-1]]
        tables["weights"] = pd.DataFrame(
            {"run_id": rid, "step": steps_w, "layer": 0, "metric": "sigma_max_w_hh", "value": list(sigma)}
        )
    folder = run_dir(root, rid)
    begin_run(folder, spec.identity())
    finish_run(folder, tables, {"run_id": rid, "status": status})
    return rid


def make_results(
    root: Path,
    *,
    long_solvers=("lstm", "gru"),
    lengths=(20, 60),
    seeds=(0, 1, 2),
    tasks=("copy", "adding", "recall"),
    **kw,
) -> list[str]:
    """3 tasks x 3 cells x 2 lengths x 3 seeds: everything solves at the short length; at the long length only
    `long_solvers` do, the others stay at chance."""
    ids = []
    for task in tasks:
        for T in lengths:
            for cell in ("rnn", "lstm", "gru"):
                for seed in seeds:
                    solved = T == min(lengths) or cell in long_solvers
                    ids.append(
                        write_run(root, task=task, seq_len=T, cell=cell, seed=seed, solved=solved, **kw)
                    )
    return ids


class Drawn:
    """What one report build drew: every seaborn FacetGrid (and how often map_dataframe drew into it), and
    the matplotlib figures still open after it."""

    def __init__(self):
        self.grids: list = []
        self.open_figures: list[int] | None = None


def build_recording(root: Path, out: Path, drawn: Drawn):
    """build_report(root, out), recording into `drawn` the FacetGrids it makes and the figures it leaves."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    class Recording(sns.FacetGrid):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.mapped = 0
            drawn.grids.append(self)

        def map_dataframe(self, *args, **kwargs):
            self.mapped += 1
            return super().map_dataframe(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sns, "FacetGrid", Recording)
        res = build_report(root, out)
    drawn.open_figures = plt.get_fignums()
    return res


@pytest.fixture(scope="module")
def built_drawn(tmp_path_factory):
    """The full synthetic results and their report, built once; with what the build drew."""
    root = tmp_path_factory.mktemp("results")
    make_results(root)
    out = tmp_path_factory.mktemp("report")
    drawn = Drawn()
    res = build_recording(root, out, drawn)
    return root, out, res, drawn


@pytest.fixture(scope="module")
def built(built_drawn):
    return built_drawn[:3]


def summary_row(md: str, task: str, T: int, cell: str) -> list[str]:
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 3 and cells[:3] == [task, str(T), cell]:
            return cells
    raise AssertionError(f"no summary row for {task} {T} {cell}")


def test_every_section_heading(built):
    _, out, res = built
    md = (out / "report.md").read_text()
    for heading in (
        "## 1. Critical length",
        "## 2. Claims scorecard",
        "## 3. Summary",
        "## 4. Paired comparisons",
        "## 5. Solve rate and loss against sequence length",
        "## 6. Gradient profiles",
        "## 7. Learning curves",
        "## 8. Cost",
        "## 9. GRU vs LSTM speed",
        "## 10. Learning-rate tuning",
        "## 11. Ablations",
        "## 12. The literature side by side",
        "## 13. Reading",
        "## Notes: what was skipped and why",
        "## References",
    ):
        assert heading in md
    assert md.index("## 1. Critical") < md.index("## 2.") < md.index("## 3.") < md.index("## 13.")
    assert res.n_runs == 54
    assert not [n for n in res.notes if "could not be built" in n], res.notes
    assert "Delayed recall" in md and "Bengio, Simard, Frasconi 1994" in md
    assert "torch: 2.13.0" in md and "abc1234" in md
    assert "No ablations present" in md
    assert "underflow" in md
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "solved_vs_length.png" in figs and "learning_curves.png" in figs and "cost.png" in figs
    assert "critical_length.png" in figs and (out / "per_seed.csv").exists() and (out / "paired.csv").exists()
    assert "grad_profiles.png" in figs


def test_summary_numbers_recomputed(built):
    _, out, _ = built
    md = (out / "report.md").read_text()
    for task, T, cell, solved in (
        ("copy", 60, "RNN", False),
        ("adding", 60, "GRU", True),
        ("recall", 20, "RNN", True),
    ):
        # Solved with Wilson's interval; accuracy: Wilson's interval on the mean with the 3 seeds as trials;
        # loss / chance: geometric mean, t-interval on the log. Every run reaches step 200, so S = 200.
        row = summary_row(md, task, T, cell)
        assert row[3] == ("3/3 [0.44, 1]" if solved else "0/3 [0, 0.56]")
        assert row[4] == (f"{np.median([50, 100, 150]):,.0f}" if solved else "–")
        assert row[5] == "200"
        chance = CHANCE[task][0](T)
        ratios = np.array([0.05 * (1 + 0.1 * s) if solved else 0.99 + 0.01 * s for s in (0, 1, 2)])
        logs = np.log(ratios)
        gm, lh = math.exp(logs.mean()), T975_2 * logs.std(ddof=1) / math.sqrt(3)
        lo, hi = math.exp(logs.mean() - lh), math.exp(logs.mean() + lh)
        assert row[6] == row[8] == f"{gm:.3g} [{lo:.3g}, {hi:.3g}]"
        accs = np.array([solved_acc(s) if solved else chance_acc(task, s) for s in (0, 1, 2)])
        p, z2 = accs.mean(), 1.959963984540054**2
        c, h = (
            (p + z2 / 6) / (1 + z2 / 3),
            math.sqrt(z2) * math.sqrt(p * (1 - p) / 3 + z2 / 36) / (1 + z2 / 3),
        )
        assert row[7] == f"{p:.3g} [{c - h:.3g}, {min(1.0, c + h):.3g}]"
        assert row[9] == ("yes" if solved else "no (near chance)")
        assert row[10] == f"{chance:.3g}"


def reading_line(reading: list[str], start: str) -> str:
    hits = [s for s in reading if s.startswith(start)]
    assert len(hits) == 1, reading
    return hits[0]


def test_reading_follows_the_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_results(a, long_solvers=("gru",), tasks=("copy",), seeds=(0, 1))
    make_results(b, long_solvers=("rnn",), tasks=("copy",), seeds=(0, 1))
    ra = build_report(a, tmp_path / "ra", figures=False)
    rb = build_report(b, tmp_path / "rb", figures=False)
    sa = reading_line(ra.reading, "At T=60 on copy")
    sb = reading_line(rb.reading, "At T=60 on copy")
    assert re.search(r"GRU beats chance \(loss 0\.0\d+ of chance\) while RNN and LSTM stay near chance", sa)
    assert re.search(r"RNN beats chance .* while LSTM and GRU stay near chance", sb)
    assert sa != sb
    ta = reading_line(ra.reading, "On copy (")
    assert "RNN beats chance up to T=20 only" in ta and "GRU at every length" in ta
    grads = [
        s for s in ra.reading if s.startswith("On copy at T=60, at initialisation, the median ||dL/dh_t||")
    ]
    assert grads and "12 steps back (exactly 0, underflow, from 15 steps back) for RNN" in grads[0]
    assert any(s.endswith("RNN takes 0.25x and GRU takes 0.75x the LSTM's.") for s in ra.reading), ra.reading
    md = (tmp_path / "ra" / "report.md").read_text()
    assert sa in md and "beats chance**" in md  # the definition is stated


def test_diverged_failed_and_single_seed(tmp_path):
    root = tmp_path / "results"
    nan = float("nan")
    write_run(root, task="recall", seq_len=10, cell="gru", seed=0, solved=True)
    for seed in (0, 1):
        write_run(root, task="recall", seq_len=10, cell="lstm", seed=seed, solved=True)
    write_run(
        root,
        task="recall",
        seq_len=10,
        cell="lstm",
        seed=2,
        solved=False,
        status="diverged",
        final_loss=float("inf"),
        final_accuracy=nan,
        diverged_at=40.0,
    )
    write_run(
        root,
        task="recall",
        seq_len=10,
        cell="lstm",
        seed=3,
        solved=False,
        status="failed",
        final_loss=nan,
        final_accuracy=nan,
        profile_steps=(),
    )
    res = build_report(root, tmp_path / "report", figures=False)
    md = (tmp_path / "report" / "report.md").read_text()
    assert not [n for n in res.notes if "could not be built" in n], res.notes
    gru = summary_row(md, "recall", 10, "GRU")
    assert gru[3] == "1/1 [0.21, 1]" and gru[7] == f"{solved_acc(0):.3g} (n=1, no interval)"
    assert gru[9] == "yes (n=1)"
    lstm = summary_row(md, "recall", 10, "LSTM")
    # Solve rate over the ok and diverged seeds; the failed run only counts as failed; the diverged run's
    # infinite loss stays out of the means.
    assert lstm[3] == "2/3 [0.21, 0.94]" and lstm[-1] == "1 / 1"
    # at the common step S the diverged run's eval accuracy there counts; its infinite loss does not
    p = np.mean([solved_acc(0), solved_acc(1), chance_acc("recall", 2)])
    lo, hi = wilson(3 * p, 3)
    assert lstm[7] == f"{p:.3g} [{lo:.3g}, {hi:.3g}]"


def test_corrupt_and_incomplete_runs_are_named(tmp_path, capsys):
    root = tmp_path / "results"
    ids = make_results(root, tasks=("recall",), seeds=(0, 1), lengths=(10,))
    (run_dir(root, ids[0]) / "curves.parquet").write_bytes(b"not a parquet file")
    (run_dir(root, ids[1]) / "runs.parquet").write_bytes(b"PAR1 truncated")
    (run_dir(root, ids[2]) / "COMPLETE.json").unlink()
    assert main(root, tmp_path / "report") == 0
    printed = capsys.readouterr().out.splitlines()
    for rid in ids[:3]:  # one printed line per skipped item
        assert len([line for line in printed if line.startswith("skipped: ") and rid in line]) == 1
    assert any(line.startswith("wrote ") and line.endswith("report.html") for line in printed)
    res = build_report(root, tmp_path / "report", figures=False)
    md = (tmp_path / "report" / "report.md").read_text()
    assert res.n_runs == len(ids) - 3
    for rid, what in ((ids[0], "curves.parquet"), (ids[1], "runs.parquet")):
        assert f"runs/{rid}/{what}: skipped" in md
    assert f"runs/{ids[2]}: incomplete run" in md
    assert "2 unreadable files, 1 incomplete run (listed" in md
    assert "**Partial results:** 1 incomplete run and 2 unreadable files were left out" in md
    assert len([n for n in res.notes if ids[0] in n or ids[1] in n or ids[2] in n]) == 3


def test_older_schema_without_some_columns(tmp_path):
    root = tmp_path / "results"
    make_results(root, tasks=("copy",), seeds=(0, 1))
    # An older schema: no cost, memory or init columns, written beside the new runs.
    old = ("ms_per_step", "elements_per_s", "peak_mem_mb", "cell.recurrent_init", "task_variant",
           "cell.impl", "solved")  # fmt: skip
    for seed in (5, 6):
        write_run(root, task="copy", seq_len=20, cell="gru", seed=seed, solved=True, drop=old)
    res = build_report(root, tmp_path / "mixed", figures=False)
    assert res.n_runs == 14
    assert not [n for n in res.notes if "could not be built" in n], res.notes

    only_old = tmp_path / "old"
    for seed in (0, 1):
        for cell in ("rnn", "lstm"):
            write_run(
                only_old,
                task="adding",
                seq_len=30,
                cell=cell,
                seed=seed,
                solved=cell == "lstm",
                drop=(*old, "chance_loss", "chance_accuracy", "num_params"),
            )
    res = build_report(only_old, tmp_path / "old_report")
    md = (tmp_path / "old_report" / "report.md").read_text()
    assert not [n for n in res.notes if "could not be built" in n], res.notes
    assert "## 13. Reading" in md and "no values for ms_per_step" in md and "no values for num_params" in md
    assert "no values for chance_loss" in md


def test_empty_and_missing_results_dir(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "does_not_exist"):
        assert main(tmp_path / name, tmp_path / f"report_{name}") == 0
        md = (tmp_path / f"report_{name}" / "report.md").read_text()
        assert "There are no runs" in md and "python -m bench sweep" in md
        assert (tmp_path / f"report_{name}" / "report.html").exists()
    assert "wrote" in capsys.readouterr().out


def test_html_is_self_contained(built):
    _, out, _ = built
    html = (out / "report.html").read_text()
    assert 'src="http' not in html and "<link" not in html and "<script" not in html
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert len(imgs) == len(list((out / "figures").glob("*.png"))) == 5
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "http://" not in html and "https://" not in html


@pytest.mark.slow  # runs real benchmarks / builds twice (8-10 s): `pytest -m slow`
def test_same_inputs_same_report(tmp_path):
    root = tmp_path / "results"
    make_results(root, tasks=("recall",), seeds=(0, 1), lengths=(10,))
    first, again = build_report(root, tmp_path / "first"), build_report(root, tmp_path / "again")
    for name in ("report.md", "report.html"):
        assert (tmp_path / "first" / name).read_text() == (tmp_path / "again" / name).read_text()
    pngs = [p.name for p in first.paths if p.suffix == ".png"]
    assert pngs and pngs == [p.name for p in again.paths if p.suffix == ".png"]
    for name in pngs:  # the figures themselves are byte-identical (no timestamps in their metadata)
        assert (tmp_path / "first" / "figures" / name).read_bytes() == (
            tmp_path / "again" / "figures" / name
        ).read_bytes()


def test_ablations_literature_and_microbench(tmp_path):
    root = tmp_path / "results"
    run = functools.partial(write_run, task_variant="standard")  # copy's label of its standard form
    for seed in (0, 1):
        for cell in ("rnn", "lstm", "gru"):
            run(
                root, task="copy", seq_len=100, cell=cell, seed=seed, solved=cell != "rnn", profile_steps=(0,)
            )
            for lr in (1e-2, 1e-4):  # learning-rate sweep around the standard 1e-3
                run(
                    root,
                    task="copy",
                    seq_len=100,
                    cell=cell,
                    seed=seed,
                    solved=cell == "gru" and lr > 1e-3,
                    lr=lr,
                    sweep="lr",
                    profile_steps=(),
                )
        for variant in ("cifg", "nfg"):
            run(
                root,
                task="copy",
                seq_len=100,
                cell="lstm",
                seed=seed,
                solved=variant == "cifg",
                variant=variant,
                sweep="lstm_variants",
                profile_steps=(),
            )
        for fb in ("chrono", "1.0"):  # chrono against its paper's baseline, forget bias 1
            run(
                root,
                task="copy",
                seq_len=100,
                cell="lstm",
                seed=seed,
                solved=fb == "chrono",
                forget_bias=fb,
                sweep="init",
                profile_steps=(),
            )
    pd.DataFrame(
        {
            "name": ["step"],
            "cell": ["lstm"],
            "impl": ["fused"],
            "pass": ["forward"],
            "hidden": [32],
            "seq_len": [100],
            "batch": [16],
            "min_s": [0.0012],
            "mean_s": [0.0013],
            "rounds": [10],
            "flops": [1e6],
            "gflops_per_s": [0.83],
            "gemm_gflops_per_s": [200.0],
            "gemm_fraction": [0.004],
            "device": ["cpu"],
            "threads": [2],
        }
    ).to_parquet(root / "microbench.parquet")
    res = build_report(root, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert not [n for n in res.notes if "could not be built" in n], res.notes
    assert "### Learning rate" in md and "### Cell variants" in md and "### Initialisation" in md
    # compared at the common step (200: every run's last eval) by the geometric mean over seeds
    assert "LSTM: best lr 0.001 (loss / chance at step 200 0.0524)" in md
    assert "RNN: best lr 0.0001 (loss / chance at step 200 0.995; tied with 0.001, 0.01)" in md
    assert "vanilla (standard)" in md and "0.001 (standard)" in md
    assert {"ablation_lr.png", "ablation_variant.png", "ablation_init.png"} <= {
        p.name for p in (tmp_path / "report" / "figures").glob("*.png")
    }
    assert "Best learning rate by loss / chance at equal steps on copy at T=100" in " ".join(res.reading)
    # Arjovsky et al.'s copy setup is ~6.5K parameters with RMSProp: these runs (Adam, 1.4K-5.5K
    # parameters) are not in it, so its setups are one line naming the preset that would produce them.
    assert not [line for line in md.splitlines() if line.startswith("| copy, T=100 |")]
    arj = "none of its setups (copy (variant standard, ~6,500 parameters, optimizer rmsprop) at T=100"
    assert arj in md and "the `arjovsky` preset would produce them" in md
    assert "Loss / chance: chrono vs forget bias 1" in md
    # setups these results lack are one line per paper, never a table row of dashes each
    assert not [line for line in md.splitlines() if line.startswith("|") and "not in these results" in line]
    assert "*Not in these results: none of its setups (" in md and "the `paper` preset would produce" in md
    assert "| step | LSTM | fused | forward |" in md and "0.004" in md


def test_section_numbers_follow_position(tmp_path):
    root = tmp_path / "results"
    make_results(root, tasks=("copy",), seeds=(0, 1), lengths=(10,))
    without = tuple(s for s in SECTIONS if s[1] is not gradients)
    build_report(root, tmp_path / "report", figures=False, section_list=without)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Gradient profiles" not in md
    assert "## 6. Learning curves" in md and "## 10. Ablations" in md and "## 12. Reading" in md
    assert "main comparison (sections 1, 3-6, 8, 11, 12)" in md  # the intro's references follow too
    assert "the ablation tables of section 10" in md
    swapped = (SECTIONS[2], SECTIONS[0], *SECTIONS[3:])
    build_report(root, tmp_path / "swapped", figures=False, section_list=swapped)
    md = (tmp_path / "swapped" / "report.md").read_text()
    assert "## 1. Summary" in md and "## 2. Critical length" in md
    assert "Claims scorecard" not in md and "Verdicts (the claims scorecard, claim 3):" in md


def test_a_factor_is_data(tmp_path):
    root = tmp_path / "results"
    for seed in (0, 1):
        for cell in ("lstm", "gru"):
            write_run(root, task="copy", seq_len=30, cell=cell, seed=seed, solved=True)
            write_run(root, task="copy", seq_len=30, cell=cell, seed=seed, solved=False, batch_size=64,
                      sweep="batch", profile_steps=())  # fmt: skip
    batch = Factor("batch", "Batch size", ("train.batch_size",), preset="batch")
    a = analyse(load_results(root), factors=(*FACTORS, batch))
    assert list(a.ablations) == ["batch"]
    blocks, notes, _ = render(a, tmp_path, draw=False)
    md = to_markdown(blocks)
    assert "### Batch size" in md and "| batch |" in md
    assert "| copy | 30 | LSTM | 16 (standard) | 2/2 [0.34, 1] |" in md
    assert "| copy | 30 | LSTM | 64 | 0/2 [0, 0.66] |" in md
    named = "lstm_variants, init, rnn_init, clip, lr, budget, bidirectional, depth, tbptt, activation, batch"
    assert f"({named})" in md
    assert not [n for n in notes if "could not be built" in n], notes


def test_cost_never_pools_thread_counts(tmp_path):
    root = tmp_path / "results"
    for seed, threads, ms in ((0, 1, 10.0), (1, 1, 12.0), (2, 4, 3.0), (3, 4, 5.0)):
        for cell in ("lstm", "gru"):
            write_run(
                root, task="recall", seq_len=10, cell=cell, seed=seed, solved=True, threads=threads, ms=ms
            )
    cost = analyse(load_results(root)).cost
    lstm = cost[cost["cell.name"] == "lstm"].set_index("threads")
    assert sorted(lstm.index) == [1, 4] and list(lstm["n"]) == [2, 2]
    assert lstm.loc[1, "ms_per_step"] == 11.0 and lstm.loc[4, "ms_per_step"] == 4.0
    assert (cost["vs_lstm"] == 1.0).all()  # each GRU row against the LSTM of its own thread count


def test_figures_facet_through_seaborn(built_drawn):
    """Every figure is a seaborn FacetGrid drawn by map_dataframe, and is closed once saved."""
    _, out, _, drawn = built_drawn  # the full results' report, built while recording its FacetGrids
    assert len(drawn.grids) == len(list((out / "figures").glob("*.png"))) == 5
    assert all(g.mapped >= 1 for g in drawn.grids)
    assert drawn.grids[0].axes.shape == (2, 3)  # headline: accuracy and loss rows, one column per task
    assert drawn.grids[-1].axes.shape == (1, 3)  # the headline's critical length: one panel per task
    assert drawn.open_figures == []


def test_literature_is_an_analysis_table(tmp_path):
    """The matching of papers' setups to our runs happens in the analysis: one row per comparison."""
    root = tmp_path / "results"
    make_results(root)
    lit = analyse(load_results(root)).literature
    assert {"tcn", "arjovsky", "hochreiter", "tallec2018", "greff2017", "jozefowicz2015"} <= set(lit["kind"])
    assert lit.loc[~lit["matched"], ["ratio_mean", "verdict"]].isna().all().all()  # no numbers of ours
    hs = lit[lit["kind"] == "hochreiter"]
    assert len(hs) >= 1 and set(hs.loc[hs["matched"], "cell"]) <= {"rnn", "lstm", "gru"}


def test_report_reads_at_a_glance(tmp_path):
    # headline first, then a table of contents whose links resolve to heading ids in the HTML; emphasis
    # rendered; counts in good grammar; a smoke directory says it measures nothing.
    root = tmp_path / "results"
    write_run(root, task="recall", seq_len=10, cell="gru", seed=0, solved=True, sweep="smoke")
    write_run(root, task="recall", seq_len=10, cell="rnn", seed=0, solved=False, sweep="smoke")
    res = build_report(root, tmp_path / "report", figures=False)
    md = (tmp_path / "report" / "report.md").read_text()
    html = (tmp_path / "report" / "report.html").read_text()
    assert md.index("**Smoke test: measures nothing.**") < md.index("## Headline") < md.index("## 1.")
    assert "- [3. Summary](#3-summary)" in md and "- [References](#references)" in md
    ids = set(re.findall(r'<h2 id="([^"]+)"', html))
    links = set(re.findall(r'<a href="#([^"]+)"', html))
    assert links and links <= ids
    assert "<em>" in html and not re.search(r"(?<![*\w])\*[A-Z][^*<]+\*(?![*\w])", html)
    assert "2 runs used" in md and "0 unreadable files, 0 incomplete runs" in md
    assert "1 runs" not in md and "(1 threads)" not in md
    assert res.n_runs == 2


def test_gradient_profiles_that_never_fall_off_say_so_not_dashes(tmp_path):
    root = tmp_path / "results"
    # at T=60 the RNN's synthetic profile (0.3 per step) falls off; the gated ones (0.8, 0.85) do not
    make_results(root, tasks=("recall",), seeds=(0, 1), lengths=(10, 60))
    build_report(root, tmp_path / "report", figures=False)
    md = (tmp_path / "report" / "report.md").read_text()
    start = md.index(". Gradient profiles\n")  # numbered by position
    section = md[start : md.index("\n## ", start)]
    rows = [line for line in section.splitlines() if line.startswith("| recall | 60 | initialisation | h |")]
    # one table per cell, every profile a row: its fitted decay rate, and its horizon or "> 59"
    assert rows == [
        "| recall | 60 | initialisation | h | 0.52 (d 0-14) | 12 | – |",
        "| recall | 60 | initialisation | h | 0.097 (d 0-59) | > 59 | – |",
        "| recall | 60 | initialisation | h | 0.071 (d 0-59) | > 59 | – |",
    ]
