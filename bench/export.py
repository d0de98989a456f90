"""`python -m bench export [results_dir=DIR] [out=DIR]`: the results in formats other tools read.

- `out/runs.csv`, `out/curves.csv`, `out/grad_profile.csv`, `out/weights.csv`, `out/states.csv`: the
  tables (bench.load_results; bench.schema.TABLES);
- `out/tensorboard/<task>_T<seq_len>_<cell>_seed<seed>_<run_id>/`: one TensorBoard run per run with its
  learning curves (tags `train/loss`, `train/grad_norm`, `eval/loss`, `eval/accuracy`, ... by step), so
  `tensorboard --logdir out/tensorboard` shows them. Needs the `tensorboard` extra; without it the CSV
  files are written and one line says how to get the event files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from bench.results import load_results
from bench.schema import TABLES


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def run_label(row: dict) -> str:
    return f"{row['task.name']}_T{row['task.seq_len']}_{row['cell.name']}_seed{row['seed']}_{row['run_id']}"


def write_csv(results_dir: str | Path, out: str | Path) -> list[Path]:
    res = load_results(results_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        path = out / f"{name}.csv"
        getattr(res, name).to_csv(path, index=False)
        paths.append(path)
    return paths


def write_tensorboard(results_dir: str | Path, out: str | Path) -> Path:
    """One event-file folder per run under out/tensorboard; returns that folder."""
    from torch.utils.tensorboard import SummaryWriter

    res = load_results(results_dir, warn=False)
    root = Path(out) / "tensorboard"
    curves = res.curves.groupby("run_id") if not res.curves.empty else {}
    by_run = dict(iter(curves)) if len(res.curves) else {}
    for row in res.runs.to_dict("records"):
        frame = by_run.get(row["run_id"])
        if frame is None:
            continue
        writer = SummaryWriter(log_dir=str(root / run_label(row)))
        try:
            for split, metric, step, value in frame[["split", "metric", "step", "value"]].itertuples(
                index=False
            ):
                writer.add_scalar(f"{split}/{metric}", float(value), int(step))
        finally:
            writer.close()
    return root


def main(results_dir: str, out: str) -> int:
    for path in write_csv(results_dir, out):
        print(f"wrote {path}")
    if not tensorboard_available():
        print(
            "skipped: TensorBoard event files need the 'tensorboard' extra: pip install -e '.[tensorboard]'"
        )
        return 0
    print(f"wrote {write_tensorboard(results_dir, out)} (tensorboard --logdir {Path(out) / 'tensorboard'})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(*sys.argv[1:3]))
