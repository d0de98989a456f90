"""The typed spec of one run: what it computes (task, cell, training, seed, device, dtype) and, apart
from that, where and how visibly it runs (Settings).

Everything that identifies a run is generated from these dataclasses, never hand-listed:

- ``RunSpec.run_id``: a hash of every field (values normalised first, so 1 and 1.0 are one value);
- ``RunSpec.config_id``: the same without the seed, i.e. the configuration the seeds are samples of;
- ``RunSpec.columns()``: one runs-table column per field, flat dotted names (``task.n_symbols``);
- the constructor arguments of the task, the core and the model (``bench.model.build_model``).

No torch and no Hydra here (``bench.config`` registers these classes as Hydra structured configs), so the
schema can be read by anything: the report, a notebook, another harness. Each spec part carries its own
typed defaults and range checks; the cell registry (``bench.cells``) checks what depends on the cell.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.fields import _is_num, _normalise, build, suggest

__all__ = ["suggest"]  # re-exported: bench.cells and bench.sweep name it from here

OPTIMIZERS = ("adam", "rmsprop", "sgd")
CLIPS = ("none", "norm", "value")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
IMPLS = ("fused", "explicit")
RECURRENT_INITS = ("default", "orthogonal", "identity")


class SpecError(ValueError):
    """A config that cannot run; `problems` holds one line per bad key (`key: what is wrong`)."""

    def __init__(self, problems: list[str]):
        super().__init__(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems)
        )
        self.problems = problems


def added(default: Any, since: int) -> Any:
    """A dataclass field added in schema `since` (> 2): hashed into run_id only when it differs from
    `default` (see RunSpec.identity). `default` must compute what the runs before it computed."""
    return field(default=default, metadata={"since": since})


# ----------------------------------------------------------------------------- task specs
@dataclass(frozen=True)
class TaskSpec:
    """What every task has: its registry name and its length parameter T. One subclass per task, whose
    fields are exactly the task constructor's keyword arguments (a test pins this)."""

    name: str = "copy"
    seq_len: int = 100

    def __post_init__(self) -> None:
        _normalise(type(self), self)

    def options(self) -> dict[str, Any]:
        """The constructor's keyword arguments besides seq_len (``tasks.make_task(spec)`` uses them)."""
        return {k: v for k, v in asdict(self).items() if k not in ("name", "seq_len")}

    def variant_label(self) -> str:
        """A short label of the task's form, for tables (each task says what its own label is)."""
        return str(getattr(self, "variant", "standard"))


@dataclass(frozen=True)
class CopySpec(TaskSpec):
    """Copy memory (Arjovsky, Shah, Bengio 2016): `n_copy` of `n_symbols` symbols, T-1 blanks, recall."""

    name: str = "copy"
    variant: str = "standard"  # standard | variable (Henaff et al. 2016) | selective
    n_symbols: int = 8
    n_copy: int = 10
    solve_accuracy: float = 0.99


@dataclass(frozen=True)
class AddingSpec(TaskSpec):
    """Adding problem: modern (Arjovsky 2016 / Le et al. 2015), hochreiter (H&S 1997 exp. 4), anywhere."""

    name: str = "adding"
    variant: str = "modern"
    tolerance: float = 0.04
    solve_accuracy: float = 0.95


@dataclass(frozen=True)
class RecallSpec(TaskSpec):
    """Delayed recall: one of `vocab` symbols, a delay of T steps, a cue; scored at the cue."""

    name: str = "recall"
    vocab: int = 8
    distractors: bool = False  # fill the delay with random symbols instead of blanks
    random_delay: bool = False  # delay drawn per sequence in 1..seq_len
    solve_accuracy: float = 0.99
    # the cue comes first and the symbol after the delay: the answer needs the future (bidirectional cells)
    anticipation: bool = added(False, since=3)

    def variant_label(self) -> str:
        label = "distractors" if self.distractors else "blanks"
        label += "+random_delay" if self.random_delay else ""
        return label + ("+anticipation" if self.anticipation else "")


# The task registry of the spec: name -> its spec class (tasks.TASKS holds the generators).
TASK_SPECS: dict[str, type[TaskSpec]] = {"copy": CopySpec, "adding": AddingSpec, "recall": RecallSpec}


# ----------------------------------------------------------------------------- cell and training
@dataclass(frozen=True)
class CellSpec:
    """The recurrent core. Which variants, gates and biases a cell has is the cell registry's business
    (bench.cells.CELL_DEFS); this holds the choices."""

    name: str = "lstm"  # a name of bench.cells.CELL_DEFS
    impl: str = "fused"  # fused (torch.nn) | explicit (gate equations written out; needed for ablations)
    variant: str = "vanilla"  # the cell's variants (bench.cells); vanilla / tanh are the textbook ones
    hidden_size: int = 128
    budget: int | None = None  # parameter budget: when set, hidden_size is chosen to land closest to it
    layers: int = 1
    forget_bias: Any = 0.0  # a number, or "chrono" (Tallec & Ollivier 2018): LSTM forget / GRU update gate
    recurrent_init: str = "default"  # default | orthogonal | identity (IRNN, Le et al. 2015)
    # a second stack of layers reads the sequence backwards; outputs concatenated (B, T, 2H)
    bidirectional: bool = added(False, since=3)

    def __post_init__(self) -> None:
        _normalise(type(self), self)

    def problems(self) -> list[str]:
        p: list[str] = []
        _choice(p, "cell.impl", self.impl, IMPLS)
        _min(p, "cell.hidden_size", self.hidden_size, 1)
        if self.budget is not None:
            _min(p, "cell.budget", self.budget, 1)
        _min(p, "cell.layers", self.layers, 1)
        if self.forget_bias != "chrono" and not _is_num(self.forget_bias):
            p.append(f"cell.forget_bias must be a number or 'chrono', got {self.forget_bias!r}")
        _choice(p, "cell.recurrent_init", self.recurrent_init, RECURRENT_INITS)
        return p

    @property
    def forget_bias_label(self) -> str:
        """The forget bias as a table label: '1.0', 'chrono'."""
        return str(self.forget_bias)


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation and instrumentation of one run."""

    optimizer: str = "adam"  # adam | rmsprop | sgd (with momentum)
    lr: float = 0.001
    momentum: float = 0.9  # sgd only
    clip: str = "norm"  # none | norm | value
    clip_value: float = 1.0  # max global norm (clip=norm) or max |grad| (clip=value)
    batch_size: int = 64
    steps: int = 2000  # step budget
    eval_every: int = 200  # evaluate on the held-out set every N steps (and at the end)
    eval_size: int = 512  # held-out sequences, drawn once from a separate seed stream
    log_every: int = 20  # training loss and gradient norm every N steps
    early_stop: bool = True  # stop when the task's solved criterion holds on evaluation
    profile_points: int = 4  # gradient profiles at init, at this many log-spaced steps, and at the end
    profile_batch: int = 32  # probe batch size for the gradient profiles
    # truncated BPTT: chunks of this many steps, state carried and detached between them; None = full BPTT
    tbptt: int | None = added(None, since=3)

    def __post_init__(self) -> None:
        _normalise(type(self), self)

    def problems(self) -> list[str]:
        p: list[str] = []
        _choice(p, "train.optimizer", self.optimizer, OPTIMIZERS)
        if not self.lr > 0:
            p.append(f"train.lr must be a number > 0, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            p.append(f"train.momentum must be a number in [0, 1), got {self.momentum!r}")
        _choice(p, "train.clip", self.clip, CLIPS)
        if not self.clip_value > 0:
            p.append(f"train.clip_value must be a number > 0, got {self.clip_value!r}")
        for key in ("batch_size", "steps", "eval_every", "eval_size", "log_every", "profile_batch"):
            _min(p, f"train.{key}", getattr(self, key), 1)
        _min(p, "train.profile_points", self.profile_points, 0)
        if self.tbptt is not None:
            _min(p, "train.tbptt", self.tbptt, 1)
        return p

    def length_problems(self, length: int) -> list[str]:
        """What depends on the task's sequence length L (tasks.Task.length): a chunk longer than it."""
        if self.tbptt is not None and self.tbptt > length:
            return [
                f"train.tbptt must be at most the task's sequence length {length} (tbptt={length} is "
                f"full BPTT; null also), got {self.tbptt!r}"
            ]
        return []


def _choice(p: list[str], key: str, v: Any, allowed: tuple[str, ...]) -> None:
    if v not in allowed:
        p.append(f"{key} must be one of {list(allowed)}, got {v!r}{suggest(str(v), allowed)}")


def _min(p: list[str], key: str, v: int, lo: int) -> None:
    if v < lo:
        p.append(f"{key} must be an integer >= {lo}, got {v!r}")


# ----------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class RunSpec:
    """Everything that decides what a run computes. Two runs with equal specs compute the same thing."""

    task: TaskSpec = field(default_factory=CopySpec)
    cell: CellSpec = field(default_factory=CellSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    seed: int = 0  # model init, training batches, eval set and probe batch all derive from it
    device: str = "cpu"  # cpu | cuda | cuda:N
    dtype: str = "float32"  # training precision; gradient profiles always use float64

    def problems(self) -> list[str]:
        p = [*self.cell.problems(), *self.train.problems()]
        if self.cell.bidirectional and self.train.tbptt is not None:
            p.append(
                f"train.tbptt={self.train.tbptt} needs cell.bidirectional=false (the backward direction "
                "reads the whole future of each step; chunking it would change the model)"
            )
        if not 0 <= self.seed <= 2**31 - 1:
            p.append(f"seed must be an integer in 0..{2**31 - 1}, got {self.seed!r}")
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            p.append(f"device must be one of {list(DEVICES)} (or cuda:N), got {self.device!r}")
        _choice(p, "dtype", self.dtype, DTYPES)
        return p

    def identity(self, seed: bool = True) -> dict[str, Any]:
        """The normalised nested dict that is hashed; without the seed for config_id. A field added after
        schema 2 (declared with `added()`) is left out while it holds its default, the value that computes
        what runs did before the field existed: adding a field never renames the runs already shipped."""
        d = {part: _identity_part(getattr(self, part)) for part in ("task", "cell", "train")}
        d |= {"device": self.device, "dtype": self.dtype}
        return d | ({"seed": self.seed} if seed else {})

    @property
    def run_id(self) -> str:
        """12 hex digits from every field: the run's folder name."""
        return _digest(self.identity())

    @property
    def config_id(self) -> str:
        """12 hex digits from every field but the seed: runs that are seeds of one configuration."""
        return _digest(self.identity(seed=False))

    def columns(self) -> dict[str, Any]:
        """One runs-table column per field, flat dotted names; the forget bias as its label."""
        cols: dict[str, Any] = {}
        for part in ("task", "cell", "train"):
            for k, v in asdict(getattr(self, part)).items():
                cols[f"{part}.{k}"] = v
        cols["cell.forget_bias"] = self.cell.forget_bias_label
        cols["cell.forget_bias_value"] = forget_bias_value(self.cell.forget_bias)
        return cols | {"seed": self.seed, "device": self.device, "dtype": self.dtype}

    def with_seed(self, seed: int) -> RunSpec:
        return replace(self, seed=seed)


def _identity_part(part: Any) -> dict[str, Any]:
    d = asdict(part)
    for f in fields(part):
        if "since" in f.metadata and d[f.name] == f.default:
            del d[f.name]
    return d


def forget_bias_value(fb: Any) -> float:
    """The forget bias as a number for the runs table: NaN for a label such as 'chrono'."""
    try:
        return float(fb)
    except (TypeError, ValueError):
        return math.nan


def _digest(obj: dict[str, Any]) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Settings:
    """Where and how visibly a run is executed: never part of its identity."""

    results_dir: str = "results"  # runs land in results_dir/runs/<run_id>/
    # where `bench sweep` / `bench report` write the report; null = reports/ for the default results_dir,
    # else <results_dir>/report (so a sweep into another results_dir never overwrites the checkout's report)
    report_dir: str | None = None
    threads: int | None = (
        None  # torch threads per run; null: 1 for `bench run` on CPU, cores // jobs in sweeps
    )
    jobs: int | None = None  # sweep runs in parallel (built-in runner); null = all cores, 1 = in this process
    force: bool = False  # rerun even if a complete run with the same run_id exists
    progress: bool = True  # tqdm bars (silent anyway when stderr is not a terminal)
    sweep_name: str | None = None  # set by sweep presets; recorded in the runs table
    length: str | None = None  # a preset's length label (short / medium / long), recorded too
    init: str | None = None  # a preset's init label (default, fb1, chrono, orthogonal), recorded too

    def problems(self) -> list[str]:
        p: list[str] = []
        if not self.results_dir:
            p.append(f"results_dir must be a non-empty path, got {self.results_dir!r}")
        if self.report_dir is not None and not self.report_dir:
            p.append(f"report_dir must be a non-empty path or null, got {self.report_dir!r}")
        if self.threads is not None:
            _min(p, "threads", self.threads, 1)
        if self.jobs is not None:
            _min(p, "jobs", self.jobs, 1)
        return p

    @property
    def report_path(self) -> str:
        """Where the report goes (see report_dir)."""
        return report_dir_for(self.results_dir, self.report_dir)


DEFAULT_RESULTS_DIR, DEFAULT_REPORT_DIR = "results", "reports"


def report_dir_for(results_dir: str, report_dir: str | None) -> str:
    """report_dir if given; else reports/ next to the default results/, and <results_dir>/report for any
    other results_dir."""
    if report_dir:
        return report_dir
    if str(results_dir).rstrip("/") == DEFAULT_RESULTS_DIR:
        return DEFAULT_REPORT_DIR
    return str(Path(results_dir) / "report")


# Top-level keys of a composed config besides the run and the settings: a preset's helper tables
# (per-task lengths and rates that task/cell/train interpolate from) live under `preset`.
FREE_KEYS = ("preset",)
RUN_FIELDS = tuple(f.name for f in fields(RunSpec))
SETTING_FIELDS = tuple(f.name for f in fields(Settings))


def from_config(c: dict[str, Any], check: bool = True) -> tuple[RunSpec, Settings]:
    """The run spec and settings of a resolved config dict (plain python); SpecError lists every problem:
    unknown keys (with the key that was probably meant), missing keys, wrong types, and (with `check`)
    bad values."""
    problems: list[str] = []
    top = (*RUN_FIELDS, *SETTING_FIELDS, *FREE_KEYS)
    for k in c:
        if k not in top:
            problems.append(f"{k}: unknown key{suggest(k, top)}")
    parts: dict[str, Any] = {}
    for key, cls in (("cell", CellSpec), ("train", TrainSpec)):
        if not isinstance(c.get(key), dict):
            problems.append(f"{key} must be a config group, got {c.get(key)!r}")
            continue
        parts[key], bad = build(cls, c[key], f"{key}.")
        problems += bad
    task = c.get("task")
    if not isinstance(task, dict):
        problems.append(f"task must be a config group, got {task!r}")
    elif task.get("name") not in TASK_SPECS:
        problems.append(
            f"task.name must be one of {sorted(TASK_SPECS)}, got {task.get('name')!r}"
            + suggest(str(task.get("name")), TASK_SPECS)
        )
    else:
        parts["task"], bad = build(TASK_SPECS[task["name"]], task, "task.")
        problems += bad
    top_run = {k: c[k] for k in ("seed", "device", "dtype") if k in c}
    scalars, bad = build(_RunScalars, top_run, "")
    problems += bad
    settings, bad = build(Settings, {k: c[k] for k in SETTING_FIELDS if k in c}, "")
    problems += bad
    if problems:
        raise SpecError(problems)
    spec = RunSpec(parts["task"], parts["cell"], parts["train"], **asdict(scalars))
    problems = spec.problems() + settings.problems() if check else []
    if problems:
        raise SpecError(problems)
    return spec, settings


@dataclass(frozen=True)
class _RunScalars:
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
