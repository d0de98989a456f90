"""Divergence beyond non-finite losses (issue 12): an evaluated loss far above chance, or a training loss
that rose by three orders of magnitude from its minimum, is recorded `diverged`, not ok."""

import torch
from tqdm.auto import tqdm

from bench import load_results
from bench.config import compose, validate
from bench.train import DIVERGED_EVAL_RATIO, Trained, _log_and_evaluate, execute, train
from tests.util import TINY


def _job(*overrides, results_dir=None):
    extra = [f"results_dir={results_dir}"] if results_dir else []
    return validate(compose([*TINY, "threads=1", *overrides, *extra]))


def test_adam_at_lr_1e3_is_diverged_not_ok(tmp_path):
    # Before: status ok, final eval loss ~2000x chance (finite, so the non-finite check never fired).
    job = _job("task=recall", "train.lr=1000", results_dir=tmp_path)
    out = execute(job, progress=False)
    r = load_results(tmp_path).runs.iloc[0]
    assert out.status == r.status == "diverged"
    assert r.final_loss > DIVERGED_EVAL_RATIO * r.chance_loss
    assert r.diverged_at == 10  # the first evaluation
    assert r.diverged_reason.startswith("eval loss ") and "x chance" in r.diverged_reason
    assert r.steps == 20  # finite: the run trained on, its curves show whether it recovered


def test_a_healthy_run_stays_ok():
    t = train(_job("task=recall", "train.lr=0.01"), progress=False)
    assert t.status == "ok" and t.diverged_at is None and t.diverged_reason is None


def _windows(losses, job):
    """Feed logged windows (one loss each) to the bookkeeping, with no evaluation due."""
    t = train(job, progress=False)  # a Trained to record into (its own history replaced)
    t = Trained(t.model, t.task)
    bar = tqdm(disable=True)
    for i, loss in enumerate(losses, 1):
        t.steps = 10 * i
        _log_and_evaluate(t, job, torch.tensor([[loss, 1.0]], dtype=torch.float64), None, bar, 0.0)
    return t


def test_a_training_loss_three_orders_of_magnitude_above_its_minimum_is_divergence():
    job = _job("task=adding", "train.eval_every=1000", "train.steps=100")
    t = _windows([0.5, 2e-3, 1.0, 0.1], job)  # 1.0 / 2e-3 = 500x: not yet
    assert t.status == "ok"
    t = _windows([0.5, 2e-3, 0.1, 2.0, 0.1], job)  # 2.0 / 2e-3 = 1000x, at the fourth window (step 40)
    assert (t.status, t.diverged_at) == ("diverged", 40) and "rose >= 1000x" in t.diverged_reason


def test_non_finite_divergence_is_unchanged(tmp_path):
    job = _job("cell=rnn", "cell.variant=relu", "task=adding", "train.optimizer=sgd", "train.lr=1e6",
               "train.clip=none", "train.steps=200", results_dir=tmp_path)  # fmt: skip
    execute(job, progress=False)
    r = load_results(tmp_path).runs.iloc[0]
    assert r.status == "diverged" and r.steps == r.diverged_at - 1
    assert r.diverged_reason.startswith("non-finite")


def test_only_the_final_evaluation_counts_against_chance(monkeypatch):
    # An untrained copy model sits ~10-20x above the memoryless baseline: an early evaluation far above
    # chance that later recovers is not divergence; a run that ends above 10x chance is, from where its
    # final stretch above the limit began.
    import bench.train as bt

    job = _job("task=adding", "train.eval_every=10", "train.steps=40")
    chance = bt.make_task(job.spec.task).chance_loss

    base = train(job, progress=False)

    def run(ratios):
        evals = iter(ratios)
        monkeypatch.setattr(bt, "evaluate", lambda *a: {"loss": next(evals) * chance, "accuracy": 0.0})
        t, bar = Trained(base.model, base.task), tqdm(disable=True)
        for i in range(1, len(ratios) + 1):
            t.steps = 10 * i
            _log_and_evaluate(t, job, torch.tensor([[0.1, 1.0]], dtype=torch.float64), None, bar, 0.0)
        return t

    assert run([30, 20, 1.0, 0.9]).status == "ok"  # recovered
    t = run([30, 1.0, 20, 25])  # above the limit from step 30 to the end
    assert (t.status, t.diverged_at) == ("diverged", 30) and "at the end" in t.diverged_reason
