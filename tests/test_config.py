"""Config composition and validation: every config composes, every bad-config class is one clear line."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import CONF_DIR, ConfigError, compose, validate
from bench.spec import TASK_SPECS
from bench.sweep import presets

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("task", sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml")))
@pytest.mark.parametrize("cell", sorted(p.stem for p in (CONF_DIR / "cell").glob("*.yaml")))
def test_every_task_and_cell_config_composes_and_validates(task, cell):
    job = validate(compose([f"task={task}", f"cell={cell}"]))
    assert (job.spec.task.name, job.spec.cell.name) == (task, cell)
    assert isinstance(job.spec.task, TASK_SPECS[task])


@pytest.mark.parametrize("preset", presets())
def test_every_sweep_preset_composes_and_validates(preset):
    cfg = compose([f"sweep={preset}"], return_hydra=True)
    assert bool(cfg.hydra.sweeper.params) == (preset != "none"), f"preset {preset} has no grid"
    validate(compose([f"sweep={preset}"]))


def test_run_id_ignores_execution_keys_and_tracks_every_spec_field():
    a = validate(compose([]))
    b = validate(compose(["results_dir=/elsewhere", "threads=1", "progress=false", "force=true"]))
    assert a.run_id == b.run_id and a.spec.config_id == b.spec.config_id
    # stable across processes and sessions: a fixed config hashes to a fixed id
    assert a.run_id == validate(compose([])).run_id
    assert len(a.run_id) == 12 and int(a.run_id, 16) >= 0
    # every field of the spec changes run_id; every field but the seed changes config_id
    changed = {
        "seed": "seed=1",
        "dtype": "dtype=float64",
        "task.n_symbols": "task.n_symbols=4",
        "task.n_copy": "task.n_copy=5",
        "train.momentum": "train.momentum=0.5",
        "train.eval_every": "train.eval_every=50",
        "train.eval_size": "train.eval_size=64",
        "train.log_every": "train.log_every=10",
        "train.early_stop": "train.early_stop=false",
        "train.profile_points": "train.profile_points=2",
        "train.profile_batch": "train.profile_batch=8",
        "train.lr": "train.lr=0.002",
    }
    jobs = {k: validate(compose([o])) for k, o in changed.items()}
    assert len({a.run_id, *(j.run_id for j in jobs.values())}) == len(changed) + 1
    assert jobs["seed"].spec.config_id == a.spec.config_id
    others = [j.spec.config_id for k, j in jobs.items() if k != "seed"]
    assert len({a.spec.config_id, *others}) == len(others) + 1


@pytest.mark.parametrize(
    "one, other",
    [
        (["train.lr=1"], ["train.lr=1.0"]),
        (["cell.forget_bias=1"], ["cell.forget_bias=1.0"]),
        (["train.clip_value=1"], []),  # the default is 1.0
        (["task=adding", "task.tolerance=1"], ["task=adding", "task.tolerance=1.0"]),
    ],
)
def test_equal_values_spelled_differently_are_one_run(one, other):
    assert validate(compose(one)).run_id == validate(compose(other)).run_id


def test_an_added_key_is_rejected_with_the_key_that_was_meant():
    for override, meant in (("+train.stpes=100", "steps"), ("+task.n_symbol=3", "n_symbols")):
        with pytest.raises(ConfigError) as e:
            validate(compose([override]))
        (line,) = e.value.problems
        assert override[1:].split("=")[0] in line and f"did you mean {meant!r}" in line
    with pytest.raises(ConfigError) as e:
        compose(["train.stpes=100"])
    assert "did you mean 'steps'" in e.value.problems[0]


def test_task_specs_are_the_task_constructors():
    # The spec of each task has exactly the generator's keyword arguments, with the same defaults.
    import inspect
    from dataclasses import fields

    from tasks import TASKS

    assert set(TASK_SPECS) == set(TASKS)
    for name, cls in TASK_SPECS.items():
        params = inspect.signature(TASKS[name].__init__).parameters
        ctor = {k: p.default for k, p in params.items() if k not in ("self", "seq_len")}
        spec = {f.name: f.default for f in fields(cls) if f.name not in ("name", "seq_len")}
        assert spec == ctor, name


def test_every_spec_field_is_a_runs_column():
    from dataclasses import fields

    from bench.schema import RUN_COLUMNS

    job = validate(compose(["task=copy"]))
    cols = job.spec.columns()
    for part in ("task", "cell", "train"):
        for f in fields(getattr(job.spec, part)):
            assert f"{part}.{f.name}" in cols and f"{part}.{f.name}" in RUN_COLUMNS
    assert {"seed", "device", "dtype"} <= set(cols) <= set(RUN_COLUMNS)


def test_run_id_depends_on_the_resolved_run_not_on_preset_helper_keys():
    # The main study reaches its per-task settings through helper tables (preset.lengths, preset.lr, ...):
    # the same effective run composed by hand has the same id, so resume and `bench run` find it.
    swept = validate(
        compose(["sweep=default", "task=recall", "cell=lstm", "length=r4", "init=fb1", "seed=1"])
    )
    c = swept.config
    by_hand = validate(
        compose(
            [
                "task=recall",
                *(f"task.{k}={v}" for k, v in c["task"].items() if k != "name"),
                "cell=lstm",
                *(f"cell.{k}={v}" for k, v in c["cell"].items() if k != "name" and v is not None),
                *(f"train.{k}={v}" for k, v in c["train"].items() if v is not None),
                "seed=1",
            ]
        )
    )
    assert c["task"]["seq_len"] == c["preset"]["lengths"]["recall"]["r4"]
    assert c["train"]["lr"] == c["preset"]["lr"]["recall"]["lstm"]["fb1"] and c["cell"]["forget_bias"] == 1
    assert by_hand.run_id == swept.run_id
    assert by_hand.config["preset"] == {}


def test_budget_resolves_hidden_size():
    from bench.model import count_params, resolve_hidden
    from tasks import make_task
    from tests.util import model_of

    job = validate(compose(["cell=gru", "cell.budget=5000", "task=adding"]))
    h = resolve_hidden(job.spec.cell, make_task(job.spec.task))
    # closest to the budget: one unit more or less is not closer
    best = abs(count_params(model_of(2, 1, "float", "gru", h)) - 5000)
    for other in (h - 1, h + 1):
        assert abs(count_params(model_of(2, 1, "float", "gru", other)) - 5000) >= best


BAD = [
    (["task.seq_len=0"], "task.seq_len"),
    (["task.seq_len=abc"], "task.seq_len"),
    (["train.lr=0"], "train.lr"),
    (["train.lr=-1"], "train.lr"),
    (["cell.hidden_size=0"], "cell.hidden_size"),
    (["cell.layers=0"], "cell.layers"),
    (["train.batch_size=1.5"], "train.batch_size"),
    (["train.optimizer=lbfgs"], "train.optimizer"),
    (["train.clip=sometimes"], "train.clip"),
    (["cell.impl=cudnn"], "cell.impl"),
    (["cell.variant=nope"], "cell.variant"),
    (["cell.variant=cifg"], "cell.impl=explicit"),  # explicit-only ablation with the fused impl
    (["cell=rnn", "cell.forget_bias=1"], "cell.forget_bias"),
    (["cell.recurrent_init=xavier"], "cell.recurrent_init"),
    (["task.variant=weird"], "variant"),
    (["task=recall", "task.vocab=1"], "vocab"),
    (["seed=-1"], "seed"),
    (["device=tpu"], "device"),
    (["dtype=float16"], "dtype"),
    (["train.early_stop=maybe"], "train.early_stop"),
    (["cell.bidirectional=maybe"], "cell.bidirectional"),
    (["task=recall", "task.anticipation=maybe"], "task.anticipation"),
    (["train.tbptt=0"], "train.tbptt"),
    (["train.tbptt=-4"], "train.tbptt"),
    (["task=recall", "task.seq_len=10", "train.tbptt=13"], "train.tbptt"),  # L = 12
    (["task=copy", "task.seq_len=10", "train.tbptt=31"], "train.tbptt"),  # L = 30
    (["train.tbptt=8", "cell.bidirectional=true"], "train.tbptt"),
]


@pytest.mark.parametrize("overrides,key", BAD)
def test_bad_config_names_the_key(overrides, key):
    with pytest.raises(ConfigError) as e:
        validate(compose(overrides))
    assert any(key in line for line in e.value.problems), e.value.problems


@pytest.mark.parametrize(
    "overrides", [["task=nosuchtask"], ["nosuchkey=1"], ["cell.nosuch=1"], ["task.seq_len"]]
)
def test_hydra_errors_become_config_errors(overrides):
    with pytest.raises(ConfigError) as e:
        compose(overrides)
    assert len(e.value.problems) == 1 and "\n" not in e.value.problems[0]


def test_all_problems_are_listed_at_once():
    with pytest.raises(ConfigError) as e:
        validate(compose(["task.seq_len=0", "train.lr=0", "cell.hidden_size=0"]))
    assert len(e.value.problems) == 3


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["train.lr=0"], "train.lr"),
        (["task=nosuchtask"], "nosuchtask"),
        (["cell.variant=nfg"], "cell.impl"),
        (["cell.bidirectional=maybe"], "cell.bidirectional must be true or false"),
        (["train.tbptt=0"], "train.tbptt must be an integer >= 1"),
        (["task=recall", "task.seq_len=10", "train.tbptt=13"], "train.tbptt must be at most"),
    ],
)
def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path, overrides, key):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", *overrides, f"results_dir={tmp_path / 'r'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()
    assert list(tmp_path.iterdir()) == []  # no outputs/ or multirun/ either


def test_a_field_added_later_keeps_old_run_ids_at_its_default():
    """Adding a spec field (declared with `added`) renames no shipped run: it is hashed only when it
    differs from the default that computes what runs computed before it existed."""
    from dataclasses import dataclass

    from bench.spec import CellSpec, RunSpec, added

    @dataclass(frozen=True)
    class CellSpecV3(CellSpec):
        extra: int = added(0, since=3)

    old = RunSpec(cell=CellSpec(name="gru"))
    assert RunSpec(cell=CellSpecV3(name="gru")).run_id == old.run_id
    assert RunSpec(cell=CellSpecV3(name="gru", extra=2)).run_id != old.run_id


# ----------------------------------------------------------------------------- issue 12's presets
ISSUE12_PRESETS = {"bidirectional": 36, "depth": 54, "tbptt": 48, "activation": 48}


@pytest.mark.parametrize("preset, n", sorted(ISSUE12_PRESETS.items()))
def test_issue12_presets_plan_every_job_valid(preset, n):
    from bench.model import build_model, count_params
    from bench.sweep import plan
    from tasks import make_task

    p = plan([f"sweep={preset}"])
    assert p.problems == [] and len(p.specs) == n == len({j.run_id for j in p.specs})
    specs = [j.spec for j in p.specs]
    if preset == "bidirectional":
        assert {(s.task.name, s.task.anticipation, s.cell.bidirectional) for s in specs} == {
            ("recall", a, b) for a in (False, True) for b in (False, True)
        }
    if preset == "depth":  # matched parameter count: every depth lands within 3% of the budget
        for s in specs:
            params = count_params(build_model(s.cell, make_task(s.task)))
            assert abs(params - 12500) / 12500 < 0.03, (s.cell.name, s.cell.layers, params)
        assert {s.cell.layers for s in specs} == {1, 2, 3}
    if preset == "tbptt":
        assert {make_task(s.task).length for s in specs} == {64}
        assert {s.train.tbptt for s in specs} == {8, 16, 32, 64}
    if preset == "activation":
        assert {(s.cell.variant, s.cell.recurrent_init, s.train.clip) for s in specs} == {
            (v, i, c) for v in ("tanh", "relu") for i in ("default", "identity") for c in ("none", "norm")
        }


def test_a_sweep_with_a_bad_tbptt_lists_those_jobs_and_exits_2_before_any_work(tmp_path, capsys):
    from bench.sweep import main, plan

    p = plan(["sweep=tbptt", "train.tbptt=0,8,65", "seed=0"])
    assert p.bad_jobs == 8  # 2 tasks x 2 cells x (0 and 65)
    assert all("train.tbptt must be" in line for line in p.problems)
    assert main(["sweep=tbptt", "train.tbptt=0,8", "seed=0", f"results_dir={tmp_path / 'r'}"]) == 2
    assert not (tmp_path / "r").exists()
