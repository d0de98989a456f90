"""The claims scorecard and the GRU-speed verdicts: each verdict follows the data it cites (flip the data, the
verdict flips), the claims a sweep preset measures are that preset's verdicts, a claim without runs names
the preset that measures it, and the scorecard is section 2."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.report import preset_activation, preset_tbptt
from bench.report.analysis import analyse
from bench.report.data import CELL, CELL_INIT, TASK
from bench.report.data import T as LEN
from bench.report.doc import to_markdown
from bench.report.preset_common import FAILS, HOLDS, NO_RUNS, PARTLY, UNTESTED, VERDICT_COLUMNS, PresetResult
from bench.report.profiles import falloff
from bench.report.scorecard import NOT_MEASURED, gradient_rows, reach_rows, verdict_of
from bench.report.scorecard_presets import LINKS
from bench.report.scorecard_presets import rows as preset_rows
from bench.report.scorecard_speed import rows as speed_rows
from bench.report.scorecard_text import blocks
from bench.report.sections import SECTIONS, gradients, render, scorecard_section
from bench.report.speed import Speed
from bench.report.speed_text import step_sentences
from bench.results import load_results
from tests.test_report import write_run

D = np.arange(40)


def test_verdict_of_names_what_tells_the_cases_apart():
    d = pd.DataFrame({"task_label": ["a", "a", "b", "b"], "init": ["x", "y", "x", "y"], "ok": [1, 0, 1, 0]})
    assert verdict_of(d, "ok", {"task_label": "the task", "init": "the init"}) == "depends on the init"
    assert verdict_of(d.assign(ok=1), "ok", {"init": "the init"}) == "supported"
    assert verdict_of(d.assign(ok=0), "ok", {"init": "the init"}) == "not supported"


def profiles(arms: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """The falloff table of median profiles at initialisation: arm -> (cell, decay per step)."""
    med = pd.concat(
        pd.DataFrame(
            {
                "task_label": "copy",
                LEN: 40,
                CELL_INIT: arm,
                CELL: cell,
                TASK: "copy",
                "phase": "init",
                "state": "h",
                "distance": D,
                "median": rate**D,
            }
        )  # fmt: skip
        for arm, (cell, rate) in arms.items()
    )
    return falloff(med)


def test_claim_1a_follows_the_rnn_profile():
    vanishing = gradient_rows(profiles({"rnn": ("rnn", 0.3)}))[0]
    assert vanishing["verdict"] == "supported" and vanishing["sources"] == ("gradients",)
    flat = gradient_rows(profiles({"rnn": ("rnn", 0.95)}))[0]
    assert flat["verdict"] == "not supported"
    both = gradient_rows(profiles({"rnn": ("rnn", 0.3), "rnn+orthogonal": ("rnn", 0.99)}))[0]
    assert both["verdict"] == "depends on the init"
    assert both["condition"] == "vanishes within the sequence: RNN; does not: RNN (orthogonal)"


def test_claim_2a_gates_keep_the_gradient_only_with_a_gate_bias():
    card = gradient_rows(profiles({"lstm": ("lstm", 0.3), "lstm+chrono": ("lstm", 0.99)}))
    rnn, gated = card
    assert rnn["verdict"] == NOT_MEASURED and rnn["preset"] == "default"  # no RNN profile
    assert gated["verdict"] == "depends on the init"
    assert gated["condition"] == "kept over the whole sequence: LSTM (chrono); vanishes within it: LSTM"


def crit(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    """A critical-length table: (arm, kind, crit, fail, reach) on copy."""
    return pd.DataFrame(
        [
            {
                "task_label": "copy",
                TASK: "copy",
                CELL: a.split("+")[0],
                CELL_INIT: a,
                "kind": k,
                "crit": c,
                "fail": f,
                "gaps": (),
                "reach": r,
                "lengths": (),
            }
            for a, k, c, f, r in rows
        ]  # fmt: skip
    )


def test_critical_length_claims_flip_and_ties_at_the_top_are_undecided():
    one_b, two_b = reach_rows(crit([("rnn", "below", np.nan, 10, 0), ("lstm", "at_least", 100, np.nan, 3.5)]))
    assert one_b["verdict"] == two_b["verdict"] == "supported"
    one_b, two_b = reach_rows(crit([("rnn", "bracket", 30, 100, 2), ("lstm", "bracket", 30, 100, 2)]))
    assert one_b["verdict"] == two_b["verdict"] == "not supported"
    tie = reach_rows(crit([("rnn", "at_least", 100, np.nan, 3.5), ("lstm", "at_least", 100, np.nan, 3.5)]))[0]
    assert tie["verdict"] == NOT_MEASURED and "both arms hold to the longest length" in tie["evidence"]
    both_fail = reach_rows(crit([("rnn", "below", np.nan, 10, 0), ("lstm", "below", np.nan, 10, 0)]))[0]
    assert both_fail["verdict"] == NOT_MEASURED


def speed_of(gru_step: float, gru_wall: float, fused_gru: float) -> Speed:
    per_step = pd.DataFrame(
        [
            {
                "device": "cpu",
                "threads": 2,
                "cell.impl": "fused",
                "kernel": "fused",
                CELL: c,
                "ratio": v,
                "lo": v,
                "hi": v,
                "n": 3,
                "cheapest": k,
                "groups": 3,
            }
            for c, v, k in (("rnn", 0.4, 3), ("lstm", 1.0, 0), ("gru", gru_step, 0))
        ]  # fmt: skip
    )
    micro = pd.DataFrame(
        [
            {
                "device": "cpu",
                "threads": 2,
                "impl": "fused",
                "pass": "train_step",
                "hidden": 128,
                "seq_len": 300,
                "batch": 64,
                "cell": c,
                "ms": 100 * v,
                "ratio": v,
                "flop_ratio": f,
            }
            for c, v, f in (("rnn", 0.4, 0.25), ("lstm", 1.0, 1.0), ("gru", fused_gru, 0.75))
        ]  # fmt: skip
    )
    to_solve = pd.DataFrame(
        {"task_label": ["copy"], TASK: "copy", LEN: 20, "init": "default", "steps_ratio": 0.5,
         "wall_ratio": gru_wall}
    )  # fmt: skip
    return Speed(per_step=per_step, micro=micro, to_solve=to_solve)


def test_gru_speed_verdicts_follow_the_timings():
    main = pd.DataFrame({"device": ["cpu"], "threads": [2]})
    fast = {r["part"]: r for r in speed_rows(speed_of(0.8, 0.4, 0.8), main)}
    assert fast["b"]["verdict"] == fast["c"]["verdict"] == fast["d"]["verdict"] == "supported"
    assert fast["a"]["verdict"] == NOT_MEASURED  # no FLOP table: no main-comparison runs
    slow = {r["part"]: r for r in speed_rows(speed_of(1.2, 1.5, 1.2), main)}
    assert slow["b"]["verdict"] == slow["c"]["verdict"] == "not supported"
    mixed = {r["part"]: r for r in speed_rows(speed_of(0.8, 0.4, 1.0), main)}
    assert mixed["b"]["verdict"] == "depends on the sizing"  # faster at matched params, not in the micro
    # the CPU explanation is said only when the fused GRU's time does not follow its FLOPs
    assert any("do not buy their speed: no faster per step" in s for s in step_sentences(speed_of(1, 1, 1.0)))
    assert not any("do not buy" in s for s in step_sentences(speed_of(1, 1, 0.75)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Copy T=20, 2 seeds: RNN (fails; its profile vanishes), LSTM at PyTorch's default and chrono (solve)."""
    root = tmp_path_factory.mktemp("tiny")
    for seed in (0, 1):
        kw = {"task": "copy", "seq_len": 20, "seed": seed, "task_variant": "standard"}
        write_run(root, cell="rnn", solved=False, init="default", **kw)
        write_run(root, cell="lstm", solved=True, init="default", **kw)
        write_run(root, cell="lstm", solved=True, init="chrono", forget_bias="chrono", **kw)
    return analyse(load_results(root))


def test_scorecard_is_section_2_cites_sections_and_names_presets(tiny, tmp_path):
    assert SECTIONS[1] == ("Claims scorecard", scorecard_section)
    blocks, _, out = render(tiny, tmp_path, draw=False)
    md = to_markdown(blocks)
    card = md[md.index("## 2. Claims scorecard") : md.index("## 3.")]
    n = [fn for _, fn in SECTIONS].index(gradients) + 1
    assert "| 1a. A vanilla (tanh) RNN's gradient vanishes back through time | supported |" in card
    assert f"section {n} (gradient-profile tables)" in card
    for preset in ("activation", "tbptt", "depth", "bidirectional"):
        assert f"`python -m bench sweep sweep={preset}`" in card
    six_a = "- 6a. Stacked layers buy memory, not only parameters (better at a matched parameter count)"
    assert f"{six_a}: not measured: run `python -m bench sweep sweep=depth`." in card


def preset_analysis(rows: list[tuple[str, str, str, str, str]], n_runs: int = 12) -> SimpleNamespace:
    """What scorecard_presets reads of an Analysis: verdict rows (preset, claim, verdict, depends, where)."""
    frame = pd.DataFrame(
        [(p, c, v, f"evidence of {c}", d, w) for p, c, v, d, w in rows], columns=list(VERDICT_COLUMNS)
    )
    presets = {p: PresetResult(p, n_runs if v != NO_RUNS else 0) for p, _, v, *_ in rows}
    return SimpleNamespace(presets_verdicts=frame, presets=presets)


def test_preset_claims_are_the_preset_verdicts_mapped():
    """Each preset claim's row maps its preset's verdict (holds, does not hold, partly, not tested, no
    runs), cites the Ablations section and never recomputes it."""
    act, tb = preset_activation, preset_tbptt
    a = preset_analysis([
        (act.PRESET, act.TANH, HOLDS, "", ""),
        (act.PRESET, act.RELU, PARTLY, "clipping", "holds: identity init + clip none on adding; not: ..."),
        (act.PRESET, act.HELPS, FAILS, "", ""),
        (act.PRESET, act.CLIPS, UNTESTED, "", ""),
        (tb.PRESET, "runs", NO_RUNS, "", ""),
    ])  # fmt: skip
    card = {(r["claim"], r["part"]): r for r in preset_rows(a)}
    assert set(card) == set(LINKS)
    assert card[4, "a"]["verdict"] == "supported" and card[4, "a"]["sources"] == ("presets",)
    assert f"'{act.TANH}': holds" in card[4, "a"]["evidence"] and "12 runs" in card[4, "a"]["evidence"]
    assert card[4, "b"]["verdict"] == "depends on clipping"
    assert card[4, "b"]["condition"].startswith("holds: identity init + clip none")
    assert card[5, "b"]["verdict"] == "not supported"
    assert card[5, "c"]["verdict"] == NOT_MEASURED and card[5, "c"]["evidence"] == f"evidence of {act.CLIPS}"
    no_runs = card[5, "d"]
    assert no_runs["verdict"] == NOT_MEASURED and no_runs["preset"] == "tbptt" and no_runs["evidence"] == ""
    assert card[6, "a"]["verdict"] == NOT_MEASURED and card[6, "a"]["preset"] == "depth"  # no row at all
    # the lines that say so: 'not measured: run `python -m bench sweep sweep=tbptt`'
    md = to_markdown(blocks(pd.DataFrame(preset_rows(a)), {"presets": "section 11"}))
    five_d = "5d. Remedy: truncated backpropagation trains as well as full backpropagation"
    assert f"{five_d}: not measured: run `python -m bench sweep sweep=tbptt`." in md
    assert (
        "| supported | every case measured |" in md and "section 11 (the preset's table and verdicts)" in md
    )


def test_the_main_studys_init_arms_are_no_init_ablation(tiny, tmp_path):
    """The main study varies the init as arms: those are the main comparison, not an 'init' ablation."""
    assert "init" not in tiny.ablations and not tiny.ablations
    md = to_markdown(render(tiny, tmp_path, draw=False)[0])
    ablations = md[md.index("Ablations\n") :]
    said = "no ablation preset's runs. The main study's own arms (LSTM, LSTM (chrono)) differ in fields"
    assert (
        f"No ablations present in these results: {said} that this factor varies (Initialisation" in ablations
    )
    assert not [n for n in tiny.notes if "second context" in n], tiny.notes
