"""Compose the Hydra config of a run and validate all of it before any work starts.

Validation collects every problem as one line, `key: what is wrong (what is allowed)`, so a sweep
can list all bad jobs at once and `bench run` can exit 2 without a traceback and without writing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

# The keys that decide what a run computes: run_id hashes these (resolved) and nothing else. Left out:
# where and how visibly it is written (results_dir, threads, progress, force, sweep_name, ...), and the
# helper keys of a preset (per-task tables that task/cell/train interpolate from), so that these never
# split one run into two ids and `bench run` with the same effective settings finds the sweep's run.
RUN_KEYS = ("task", "cell", "train", "seed", "device", "dtype")

OPTIMIZERS = ("adam", "rmsprop", "sgd")
CLIPS = ("none", "norm", "value")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


class ConfigError(ValueError):
    """A config that cannot run; `problems` holds one line per bad key."""

    def __init__(self, problems: list[str]):
        super().__init__(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems)
        )
        self.problems = problems


def compose(
    overrides: list[str] | tuple[str, ...] = (), config_name: str = "config", return_hydra: bool = False
) -> DictConfig:
    """The resolved config for `overrides` (Hydra grammar), without starting a Hydra app.

    Hydra's own errors (unknown key, unknown group option, bad syntax) become a ConfigError line.
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
        raise ConfigError([_first_line(e)]) from None
    finally:
        GlobalHydra.instance().clear()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# ----------------------------------------------------------------------------- checks
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int(problems: list[str], key: str, v: Any, lo: int, hi: int | None = None, null: bool = False) -> None:
    if v is None and null:
        return
    rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        problems.append(f"{key} must be an integer {rng}{' or null' if null else ''}, got {v!r}")


def _choice(problems: list[str], key: str, v: Any, allowed: tuple[str, ...]) -> bool:
    if v not in allowed:
        problems.append(f"{key} must be one of {list(allowed)}, got {v!r}")
        return False
    return True


def _bool(problems: list[str], key: str, v: Any) -> None:
    if not isinstance(v, bool):
        problems.append(f"{key} must be true or false, got {v!r}")


@dataclass(frozen=True)
class RunSpec:
    """A validated run: the plain config dict plus what validation resolved."""

    config: dict[str, Any]  # the whole resolved config, plain python
    hidden_size: int  # resolved from cell.budget when set
    task_options: dict[str, Any]  # kwargs for tasks.make_task besides name and seq_len

    @property
    def semantic(self) -> dict[str, Any]:
        """The part of the config that determines what the run computes (hashed into run_id)."""
        return {k: self.config[k] for k in RUN_KEYS if k in self.config}

    @property
    def run_id(self) -> str:
        from bench.store import run_id_for

        return run_id_for(self.semantic)


def validate(cfg: DictConfig | dict[str, Any]) -> RunSpec:
    """Check every key of a resolved run config; raise ConfigError listing all problems."""
    from bench.cells import CELLS, FUSED_VARIANTS, IMPLS, RECURRENT_INITS, VARIANTS
    from tasks import TASKS, make_task

    if isinstance(cfg, DictConfig):
        from omegaconf.errors import OmegaConfBaseException

        try:
            c = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as e:  # e.g. a preset's table has no entry for the chosen key
            raise ConfigError([f"{e.full_key}: cannot be resolved: {_first_line(e)}"]) from None
    else:
        c = cfg
    p: list[str] = []
    for section in ("task", "cell", "train"):
        if not isinstance(c.get(section), dict):
            p.append(f"{section} must be a config group, got {c.get(section)!r}")
    if p:
        raise ConfigError(p)
    task, cell, train = c["task"], c["cell"], c["train"]

    # top level
    _int(p, "seed", c.get("seed"), 0, 2**31 - 1)
    dev = c.get("device")
    if not (isinstance(dev, str) and (dev in DEVICES or dev.startswith("cuda:"))):
        p.append(f"device must be one of {list(DEVICES)} (or cuda:N), got {dev!r}")
    elif dev.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            p.append(f"device is {dev!r} but no CUDA device is present (use device=cpu)")
    _choice(p, "dtype", c.get("dtype"), DTYPES)
    if not isinstance(c.get("results_dir"), str) or not c.get("results_dir"):
        p.append(f"results_dir must be a non-empty path, got {c.get('results_dir')!r}")
    _int(p, "threads", c.get("threads"), 1, null=True)
    _bool(p, "force", c.get("force"))
    _bool(p, "progress", c.get("progress"))
    if not isinstance(c.get("report_dir"), str) or not c.get("report_dir"):
        p.append(f"report_dir must be a non-empty path, got {c.get('report_dir')!r}")
    if c.get("sweep_name") is not None and not isinstance(c.get("sweep_name"), str):
        p.append(f"sweep_name must be a string or null, got {c.get('sweep_name')!r}")

    # task: the generator validates its own options; we prefix its message with the key path.
    task_options = {k: v for k, v in task.items() if k not in ("name", "seq_len")}
    if _choice(p, "task.name", task.get("name"), tuple(TASKS)):
        _int(p, "task.seq_len", task.get("seq_len"), 1)
        if _is_int(task.get("seq_len")) and task["seq_len"] >= 1:
            try:
                make_task(task["name"], task["seq_len"], **task_options)
            except (ValueError, TypeError) as e:
                p.append(f"task.{_first_line(e)}")

    # cell
    name, impl, variant = cell.get("name"), cell.get("impl"), cell.get("variant")
    if _choice(p, "cell.name", name, CELLS):
        ok_impl = _choice(p, "cell.impl", impl, IMPLS)
        if _choice(p, f"cell.variant (for {name})", variant, VARIANTS[name]) and ok_impl:
            if impl == "fused" and variant not in FUSED_VARIANTS[name]:
                p.append(
                    f"cell.variant {variant!r} needs cell.impl=explicit "
                    f"(fused {name} supports {list(FUSED_VARIANTS[name])})"
                )
        fb = cell.get("forget_bias")
        if fb != "chrono" and not _is_num(fb):
            p.append(f"cell.forget_bias must be a number or 'chrono', got {fb!r}")
        elif name == "rnn" and fb != 0:
            p.append(f"cell.forget_bias must be 0 for cell=rnn (it has no gates), got {fb!r}")
    _int(p, "cell.hidden_size", cell.get("hidden_size"), 1)
    _int(p, "cell.budget", cell.get("budget"), 1, null=True)
    _int(p, "cell.layers", cell.get("layers"), 1)
    _choice(p, "cell.recurrent_init", cell.get("recurrent_init"), RECURRENT_INITS)

    # train
    _choice(p, "train.optimizer", train.get("optimizer"), OPTIMIZERS)
    lr = train.get("lr")
    if not _is_num(lr) or lr <= 0:
        p.append(f"train.lr must be a number > 0, got {lr!r}")
    mom = train.get("momentum")
    if not _is_num(mom) or not 0 <= mom < 1:
        p.append(f"train.momentum must be a number in [0, 1), got {mom!r}")
    _choice(p, "train.clip", train.get("clip"), CLIPS)
    cv = train.get("clip_value")
    if not _is_num(cv) or cv <= 0:
        p.append(f"train.clip_value must be a number > 0, got {cv!r}")
    _int(p, "train.batch_size", train.get("batch_size"), 1)
    _int(p, "train.steps", train.get("steps"), 1)
    _int(p, "train.eval_every", train.get("eval_every"), 1)
    _int(p, "train.eval_size", train.get("eval_size"), 1)
    _int(p, "train.log_every", train.get("log_every"), 1)
    _bool(p, "train.early_stop", train.get("early_stop"))
    _int(p, "train.profile_points", train.get("profile_points"), 0)
    _int(p, "train.profile_batch", train.get("profile_batch"), 1)

    if p:
        raise ConfigError(p)

    hidden = cell["hidden_size"]
    if cell["budget"] is not None:
        from bench.model import hidden_for_budget

        t = make_task(task["name"], task["seq_len"], **task_options)
        hidden = hidden_for_budget(cell["budget"], t.input_size, t.output_size, name, cell["layers"], variant)
    # The model constructor has the last word on combinations (e.g. chrono needs a horizon).
    try:
        from bench.cells import make_core

        make_core(
            name,
            impl,
            1,
            min(hidden, 4),
            cell["layers"],
            variant,
            _forget_bias(cell["forget_bias"]),
            chrono_tmax=4.0,
            recurrent_init=cell["recurrent_init"],
        )
    except (ValueError, TypeError) as e:
        raise ConfigError([f"cell: {_first_line(e)}"]) from None
    return RunSpec(config=c, hidden_size=hidden, task_options=task_options)


def _forget_bias(v: Any) -> float | str:
    return v if v == "chrono" else float(v)
