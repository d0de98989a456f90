"""A cache of sweep plans, so a sweep whose runs are all complete skips them in well under 3 s.

Composing and validating a grid (Hydra compose, a tiny model per configuration) costs tens of
milliseconds per job: seconds for the main study's hundreds of jobs, every time it is rerun to resume.
A valid plan is stored as its jobs' resolved configs under results_dir/.plans/<key>.json and rebuilt from
them with the typed spec alone (no Hydra, no torch). The key hashes everything a plan depends on: the
command line, every file under conf/, the source of the bench package (any code change recomputes),
and the Hydra / OmegaConf versions. A plan with problems is never cached (its errors are recomputed).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.config import CONF_DIR, Job
from bench.spec import from_config

PACKAGE = Path(__file__).resolve().parent
PLANS = ".plans"


def _sources() -> list[Path]:
    return sorted([*CONF_DIR.rglob("*.yaml"), *PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.cpp")])


def plan_key(args: list[str]) -> str:
    from importlib.metadata import version

    h = hashlib.sha256(json.dumps(args).encode())
    for path in _sources():
        h.update(str(path.relative_to(PACKAGE.parent)).encode())
        h.update(path.read_bytes())
    h.update(f"hydra {version('hydra-core')} omegaconf {version('omegaconf')}".encode())
    return h.hexdigest()[:20]


def _path(results_dir: str | Path, key: str) -> Path:
    return Path(results_dir) / PLANS / f"{key}.json"


def load(results_dir: str | Path, key: str) -> dict[str, Any] | None:
    """The cached plan {"jobs": [overrides...], "configs": [resolved config...], "dropped": n} or None."""
    try:
        return json.loads(_path(results_dir, key).read_text())
    except (OSError, ValueError):
        return None


def store(results_dir: str | Path, key: str, jobs: list[list[str]], specs: list[Job], dropped: int) -> None:
    """Cache a valid plan (best effort: a results_dir that cannot be written just is not cached)."""
    path = _path(results_dir, key)
    blob = {"jobs": jobs, "configs": [j.config for j in specs], "dropped": dropped}
    try:
        os.makedirs(path.parent, exist_ok=True)
        atomic_write_text(path, json.dumps(blob))
    except Exception:  # noqa: BLE001 - a cache: a results_dir that cannot be written is simply not used
        pass


def jobs_of(configs: list[dict[str, Any]]) -> list[Job]:
    """Jobs rebuilt from cached resolved configs (validated when they were cached)."""
    out = []
    for c in configs:
        spec, settings = from_config(c, check=False)
        out.append(Job(spec, settings, c))
    return out
