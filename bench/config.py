"""Compose the Hydra config of a run and turn it into a validated Job (a RunSpec plus Settings).

The spec dataclasses (bench/spec.py) are registered as Hydra structured configs: the root schema
`config_schema` and one schema per group option (`schema/task/<name>`, `schema/cell/cell`,
`schema/train/train`), which the group yaml files extend. So Hydra itself rejects wrong types and unknown
keys at compose time, and `from_config` rejects what Hydra lets through (`+train.stpes=100` adds a key
to an open node): every problem becomes one line, `key: what is wrong (what is allowed)`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.spec import (
    FREE_KEYS,
    RUN_FIELDS,
    SETTING_FIELDS,
    TASK_SPECS,
    CellSpec,
    RunSpec,
    Settings,
    SpecError,
    TrainSpec,
    from_config,
    suggest,
)

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
ConfigError = SpecError  # the name the CLI and the sweep use


@dataclass(frozen=True)
class Job:
    """One validated run: what it computes (spec), how it is executed (settings), and the resolved config
    as composed (kept with the results for provenance)."""

    spec: RunSpec
    settings: Settings
    config: dict[str, Any] = field(compare=False, repr=False)

    @property
    def run_id(self) -> str:
        return self.spec.run_id


def describe(job: Job) -> str:
    """`adding T=200 gru seed 3` (`lstm [chrono]` where a preset labels the init): a job in a few words,
    for console lines."""
    s, init = job.spec, job.settings.init
    cell = f"{s.cell.name} [{init}]" if init else s.cell.name
    return f"{s.task.name} T={s.task.seq_len} {cell} seed {s.seed}"


# ----------------------------------------------------------------------------- Hydra schemas
def _mutable(cls: type, name: str) -> type:
    """A non-frozen copy of a spec dataclass: OmegaConf makes frozen dataclasses read-only, and Hydra
    must merge the group yaml and the overrides into the schema."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        specs.append((f.name, hints[f.name], field(default=default)))
    return dataclasses.make_dataclass(name, specs)


def _root_schema() -> type:
    hints = typing.get_type_hints(Settings)
    specs: list[tuple] = [(k, Any, field(default=None)) for k in ("task", "cell", "train")]
    specs += [("seed", int, field(default=0)), ("device", str, field(default="cpu"))]
    specs += [("dtype", str, field(default="float32"))]
    specs += [(f.name, hints[f.name], field(default=f.default)) for f in dataclasses.fields(Settings)]
    specs += [(k, dict[str, Any], field(default_factory=dict)) for k in FREE_KEYS]
    return dataclasses.make_dataclass("ConfigSchema", specs)


def register_schemas() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=_root_schema())
    for name, cls in TASK_SPECS.items():
        cs.store(group="schema/task", name=name, node=_mutable(cls, f"{cls.__name__}Schema"))
    cs.store(group="schema/cell", name="cell", node=_mutable(CellSpec, "CellSpecSchema"))
    cs.store(group="schema/train", name="train", node=_mutable(TrainSpec, "TrainSpecSchema"))


register_schemas()


# ----------------------------------------------------------------------------- compose and validate
def compose(
    overrides: list[str] | tuple[str, ...] = (), config_name: str = "config", return_hydra: bool = False
) -> DictConfig:
    """The composed config for `overrides` (Hydra grammar), without starting a Hydra app.

    Hydra's own errors (unknown key, unknown group option, bad syntax, wrong type) become a ConfigError
    line, with the key that was probably meant where one is close.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(
                config_name=config_name, overrides=list(overrides), return_hydra_config=return_hydra
            )
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError([hydra_problem(e)]) from None
    except ValueError as e:  # e.g. `=5`: Hydra's defaults list rejects an override without a key
        raise ConfigError([f"bad override: {first_line(e)}"]) from None
    finally:
        GlobalHydra.instance().clear()


GROUPS = tuple(sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()))


def compose_many(jobs: list[list[str]]) -> list[DictConfig | ConfigError]:
    """compose(job) for every job of a grid, fast: Hydra composes once per distinct set of group choices
    (task=, cell=, sweep=, ...); each job's plain `key=value` overrides are then applied to a copy as Hydra
    applies them (OmegaConf.update, merge). A job with any other override (+key, ~key, ++key) is composed
    on its own. Each entry is the config or the ConfigError of that job."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    parser = OverridesParser.create()
    bases: dict[tuple[str, ...], DictConfig | ConfigError] = {}
    out: list[DictConfig | ConfigError] = []
    for job in jobs:
        try:
            parsed = parser.parse_overrides(job)
        except HydraException as e:
            out.append(ConfigError([first_line(e)]))
            continue
        group = tuple(o.input_line for o in parsed if _is_group(o.key_or_group) or o.package is not None)
        values = [o for o in parsed if o.input_line not in group]
        if any(o.type.name != "CHANGE" for o in values):  # add / delete / force-add: Hydra's own path
            try:
                out.append(compose(job))
            except ConfigError as e:
                out.append(e)
            continue
        if group not in bases:
            bases[group] = _base(group)
        base = bases[group]
        if isinstance(base, ConfigError):
            out.append(base)
            continue
        cfg = copy.deepcopy(base)
        try:
            for o in values:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
        except (HydraException, OmegaConfBaseException) as e:
            key = o.key_or_group
            parent, _, leaf = key.rpartition(".")
            known = _known_keys(parent)
            line = f"{key}: unknown key{suggest(leaf, known)}" if known is not None else first_line(e)
            unknown = any(w in str(e) for w in ("not in struct", "Missing key", "Key '"))
            out.append(ConfigError([line if unknown else f"{key}: {first_line(e)}"]))
            continue
        out.append(cfg)
    return out


_BASES: dict[tuple[Any, ...], DictConfig | ConfigError] = {}  # (conf files' stat, group choices) -> base


def _base(group: tuple[str, ...]) -> DictConfig | ConfigError:
    """compose(group), once per process while conf/ is unchanged: one sweep plans a grid once, but a
    test session or a resumed sweep plans the same presets again (each base costs ~0.3 s of Hydra)."""
    stat = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(CONF_DIR.rglob("*.yaml")))
    key = (stat, group)
    if key not in _BASES:
        try:
            _BASES[key] = compose(list(group))
        except ConfigError as e:
            _BASES[key] = e
    return _BASES[key]  # never mutated: compose_many deep-copies it per job


def _is_group(key: str) -> bool:
    return "/" in key or key in GROUPS or key == "hydra"


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


_NOT_IN_STRUCT = re.compile(r"Key '([^']+)' is not in struct")
_OVERRIDE = re.compile(r"Could not override '([^']+)'")


def hydra_problem(e: BaseException) -> str:
    """One line for a Hydra/OmegaConf error; for an unknown key, the closest known key of its node; for an
    unknown group option, Hydra's list of options and the closest one."""
    line = first_line(e)
    options, missing = getattr(e, "options", None), getattr(e, "missing_cfg_file", None)
    if options and missing:
        group, _, choice = str(missing).rpartition("/")
        return f"{line}; Available options in '{group}': {' '.join(options)}{suggest(choice, options)}"
    cause = e.__cause__
    key = getattr(cause, "full_key", None)
    if key and type(cause).__name__ == "ValidationError":  # a value of the wrong type for a typed key
        return f"{key}{' must be true or false' if 'valid bool' in str(cause) else ''}: {first_line(cause)}"
    m = _OVERRIDE.search(line) or _NOT_IN_STRUCT.search(str(e))
    if m:
        full = m.group(1)
        parent, _, leaf = full.rpartition(".")
        known = _known_keys(parent)
        return f"{full}: unknown key{suggest(leaf, known)}" if known is not None else line
    return line


def _known_keys(parent: str) -> list[str] | None:
    if parent == "":
        return [*RUN_FIELDS, *SETTING_FIELDS, *FREE_KEYS]
    if parent in ("cell", "train"):
        return [f.name for f in dataclasses.fields(CellSpec if parent == "cell" else TrainSpec)]
    if parent == "task":
        return sorted({f.name for cls in TASK_SPECS.values() for f in dataclasses.fields(cls)})
    return None


def resolve(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The config as plain python with every interpolation resolved (one ConfigError line if one fails)."""
    if not isinstance(cfg, DictConfig):
        return cfg
    from omegaconf.errors import OmegaConfBaseException

    try:
        c = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:  # e.g. a preset's table has no entry for the chosen key
        hint = ""
        if "'preset.lr." in str(e):  # the study's tuned rates (bench/tuning.py) are not there yet
            hint = " (the study's learning rates come from `python -m bench tune`: conf/sweep/_tuned_lr.yaml)"
        raise ConfigError([f"{e.full_key}: cannot be resolved: {first_line(e)}{hint}"]) from None
    return {k: v for k, v in c.items() if k != "hydra"}


def validate(cfg: DictConfig | dict[str, Any]) -> Job:
    """Check every key of a composed run config; raise ConfigError listing all problems."""
    from bench.cells import check_cell
    from bench.model import build_model, resolve_hidden
    from tasks import make_task

    c = resolve(cfg)
    spec, settings = from_config(c, check=False)
    p = spec.problems() + settings.problems() + check_cell(spec.cell)
    if spec.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            p.append(f"device is {spec.device!r} but no CUDA device is present (use device=cpu)")
    try:
        task = make_task(spec.task)
    except (ValueError, TypeError) as e:  # the generator validates its own options
        p.append(f"task.{first_line(e)}")
        task = None
    if task is not None:
        p += spec.train.length_problems(task.length)  # what depends on the sequence length (train.tbptt)
    if p:
        raise ConfigError(list(dict.fromkeys(p)))  # a problem found twice is listed once
    # The model constructor has the last word on combinations (e.g. chrono needs a horizon): build a
    # tiny one (hidden at most 4) with the same choices (once per configuration: seeds share the answer).
    if spec.config_id not in _BUILT:
        try:
            hidden = resolve_hidden(spec.cell, task)
            build_model(dataclasses.replace(spec.cell, hidden_size=min(hidden, 4), budget=None), task)
            _BUILT[spec.config_id] = None
        except (ValueError, TypeError) as e:
            _BUILT[spec.config_id] = f"cell: {first_line(e)}"
    if _BUILT[spec.config_id]:
        raise ConfigError([_BUILT[spec.config_id]])
    return Job(spec, settings, c)


_BUILT: dict[str, str | None] = {}  # config_id -> the model constructor's objection (None: builds)
