"""Tests for the tasks package: generators against loop-based references, baselines, scoring, validation."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tasks
from tasks import TASKS, AddingTask, Batch, CopyTask, RecallTask, Task, make_generator, make_task
from tasks.base import stream_seed

# One small configuration per task option, so every code path is sampled.
CONFIGS: list[tuple[str, int, dict]] = [
    ("copy", 6, {}),
    ("copy", 6, {"variant": "variable"}),
    ("copy", 6, {"variant": "selective"}),
    ("copy", 1, {"n_symbols": 3, "n_copy": 2}),
    ("copy", 4, {"variant": "variable", "n_symbols": 2, "n_copy": 3}),
    ("copy", 2, {"variant": "selective", "n_copy": 4}),
    ("adding", 10, {}),
    ("adding", 3, {"variant": "modern"}),
    ("adding", 10, {"variant": "anywhere"}),
    ("adding", 2, {"variant": "anywhere"}),
    ("adding", 11, {"variant": "hochreiter"}),
    ("adding", 34, {"variant": "hochreiter", "tolerance": 0.1}),
    ("recall", 5, {}),
    ("recall", 5, {"distractors": True}),
    ("recall", 5, {"random_delay": True}),
    ("recall", 1, {"vocab": 2, "distractors": True, "random_delay": True}),
    ("recall", 5, {"anticipation": True}),
    ("recall", 3, {"anticipation": True, "distractors": True, "random_delay": True}),
]
CONFIG_IDS = [f"{n}-{t}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for n, t, o in CONFIGS]


# ---------------------------------------------------------------------------------------------------------
# Loop-based references: recompute everything from the inputs alone, one sequence at a time.


def check_copy(task: CopyTask, batch: Batch) -> None:
    T, K, n, L = task.seq_len, task.n_copy, task.n_symbols, task.length
    blank, delim = n, n + 1
    for row in range(batch.inputs.shape[0]):
        x = batch.inputs[row].tolist()
        assert all(0 <= v <= delim for v in x)
        data_pos = [i for i, v in enumerate(x) if v < n]
        delims = [i for i, v in enumerate(x) if v == delim]
        assert len(data_pos) == K and len(delims) == 1
        d = delims[0]
        if task.variant == "standard":
            assert data_pos == list(range(K)) and d == T + K - 1
        elif task.variant == "variable":
            assert data_pos == list(range(K)) and 1 <= d - K + 1 <= T  # the gap g = d - K + 1
        else:
            assert max(data_pos) <= T + K - 2 and d == T + K - 1
        expected = [blank] * L
        for j, i in enumerate(data_pos):
            expected[d + 1 + j] = x[i]
        assert batch.targets[row].tolist() == expected
        recall = [d + 1 <= i <= d + K for i in range(L)]
        assert task.recall_mask(batch)[row].tolist() == recall
    assert batch.mask.all()


def check_adding(task: AddingTask, batch: Batch) -> None:
    T, L = task.seq_len, task.length
    for row in range(batch.inputs.shape[0]):
        values = batch.inputs[row, :, 0].tolist()
        markers = batch.inputs[row, :, 1].tolist()
        marked = [i for i, m in enumerate(markers) if m == 1.0]
        assert len(marked) == 2
        p, q = marked
        if task.variant == "hochreiter":
            n = max(i for i, m in enumerate(markers) if m == -1.0) + 1  # the last real step has marker -1
            assert T <= n <= T + T // 10
            assert all(values[i] == 0.0 and markers[i] == 0.0 for i in range(n, L))
            assert all(-1.0 <= v <= 1.0 for v in values[:n])
            expected_markers = [0.0] * n
            expected_markers[0] = expected_markers[n - 1] = -1.0
            expected_markers[p] = expected_markers[q] = 1.0
            assert markers[:n] == expected_markers

            # One marker among the first 10 steps, the other among the first T//2-1 steps still unmarked.
            def rank(x: int, other: int) -> int:
                return x - (other < x)

            assert (p < 10 and rank(q, p) < T // 2 - 1) or (q < 10 and rank(p, q) < T // 2 - 1)
            target, scored = 0.5 + (values[p] + values[q]) / 4, n - 1
        else:
            assert all(m in (0.0, 1.0) for m in markers) and all(0.0 <= v < 1.0 for v in values)
            if task.variant == "modern":
                assert p < T // 2 <= q < T
            target, scored = values[p] + values[q], L - 1
        assert batch.mask[row].tolist() == [i == scored for i in range(L)]
        assert batch.targets[row, scored].item() == pytest.approx(target, abs=1e-6)


def check_recall(task: RecallTask, batch: Batch) -> None:
    T, V, L = task.seq_len, task.vocab, task.length
    blank, cue = V, V + 1
    for row in range(batch.inputs.shape[0]):
        x = batch.inputs[row].tolist()
        cues = [i for i, v in enumerate(x) if v == cue]
        assert len(cues) == 1
        if task.anticipation:  # the cue at 0, the symbol at the delay's end (the last non-blank step)
            c, s, scored = 0, max(i for i, v in enumerate(x) if v != blank), 0
            assert cues == [0] and 0 <= x[s] < V
        else:
            c, s, scored = cues[0], 0, cues[0]
            assert 0 <= x[0] < V
        end = max(c, s)  # step d+1
        if task.random_delay:
            assert 2 <= end <= T + 1
        else:
            assert end == T + 1
        delay = x[1:end]
        if task.distractors:
            assert all(0 <= v < V for v in delay)
        else:
            assert all(v == blank for v in delay)
        assert all(v == blank for v in x[end + 1 :])
        assert batch.mask[row].tolist() == [i == scored for i in range(L)]
        assert batch.targets[row, scored].item() == x[s]
        assert all(0 <= v < V for v in batch.targets[row].tolist())  # the filler is a valid class too


def check_batch(task: Task, batch: Batch, batch_size: int) -> None:
    """Shapes, dtypes and the per-task reference."""
    B, L = batch_size, task.length
    assert batch.mask.shape == (B, L) and batch.mask.dtype == torch.bool
    assert batch.targets.shape == (B, L)
    if task.input_kind == "tokens":
        assert batch.inputs.shape == (B, L) and batch.inputs.dtype == torch.int64
        assert 0 <= batch.inputs.min() and batch.inputs.max() < task.input_size
    else:
        assert batch.inputs.shape == (B, L, task.input_size) and batch.inputs.dtype == torch.float32
    if task.kind == "classification":
        assert batch.targets.dtype == torch.int64
        assert 0 <= batch.targets.min() and batch.targets.max() < task.output_size
    else:
        assert batch.targets.dtype == torch.float32 and task.output_size == 1
    {"copy": check_copy, "adding": check_adding, "recall": check_recall}[task.name](task, batch)


# ---------------------------------------------------------------------------------------------------------
# Generators and seeding


def test_make_generator_is_deterministic():
    a = torch.rand(5, generator=make_generator(3, 7))
    b = torch.rand(5, generator=make_generator(3, 7))
    assert torch.equal(a, b)
    assert make_generator(3, 7).device == torch.device("cpu")


def test_make_generator_pairs_give_distinct_streams():
    # seed+step or a symmetric mix would collide on some of these.
    pairs = [(0, 0), (0, 1), (1, 0), (1, 2), (2, 1), (0, 3), (3, 0), (1, 1), (2, 0), (0, 2), (1, 1 << 32)]
    draws = {tuple(torch.rand(4, generator=make_generator(s, t)).tolist()) for s, t in pairs}
    assert len(draws) == len(pairs)


def test_stream_seed_is_injective_where_it_promises():
    # torch's CPU generator only uses the low 32 bits of its seed: within one seed they must all differ.
    # 2**18 steps: a plain 64-bit hash would repeat ~8 low halves here (birthday bound), a permutation none.
    for seed, steps in ((0, 1 << 18), (1, 5000), (987654321, 5000)):
        low = {stream_seed(seed, step) & 0xFFFFFFFF for step in range(steps)}
        assert len(low) == steps
    full = {stream_seed(seed, step) for seed in range(30) for step in range(300)}
    assert len(full) == 30 * 300
    assert all(0 <= stream_seed(s, t) < 1 << 64 for s in (0, (1 << 64) - 1) for t in (0, (1 << 64) - 1))


BAD_SEEDS = [(-1, 0, "seed"), (0, -1, "step"), (True, 0, "seed"), (0, 1.0, "step"), (1 << 64, 0, "seed")]


@pytest.mark.parametrize("seed, step, name", BAD_SEEDS)
def test_make_generator_rejects_bad_arguments(seed, step, name):
    with pytest.raises(ValueError, match=f"^{name} must be an integer"):
        make_generator(seed, step)


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_batch_is_deterministic_per_seed_and_step(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    a = task.batch(16, seed=5, step=2)
    b = task.batch(16, seed=5, step=2)
    c = task.sample(16, make_generator(5, 2))
    for field in ("inputs", "targets", "mask"):
        assert torch.equal(getattr(a, field), getattr(b, field))
        assert torch.equal(getattr(a, field), getattr(c, field))
    assert not torch.equal(a.inputs, task.batch(16, seed=5, step=3).inputs)
    assert not torch.equal(a.inputs, task.batch(16, seed=6, step=2).inputs)
    generator = make_generator(5, 2)
    first, second = task.sample(16, generator), task.sample(16, generator)
    assert not torch.equal(first.inputs, second.inputs)  # sampling advances the generator


# ---------------------------------------------------------------------------------------------------------
# Structure against the references


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_batch_matches_reference(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    check_batch(task, task.batch(48, seed=0, step=1), 48)


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"), None])
def test_sample_device(device):
    task = make_task("copy", 4)
    batch = task.sample(2, make_generator(0, 0), device=device)
    assert batch.inputs.device == batch.targets.device == batch.mask.device == torch.device("cpu")
    moved = batch.to("cpu")
    assert torch.equal(moved.inputs, batch.inputs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_cuda_batches(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    batch = task.batch(8, seed=0, step=0, device="cuda")
    assert batch.inputs.is_cuda and batch.targets.is_cuda and batch.mask.is_cuda
    check_batch(task, batch.to("cpu"), 8)
    moved = task.sample(8, make_generator(0, 0), device="cuda")
    assert moved.inputs.is_cuda and torch.equal(moved.inputs.cpu(), task.batch(8, 0, 0).inputs)


# Property-based: random small parameters, seeds and steps.
SEEDS = st.integers(0, 2**40)
STEPS = st.integers(0, 10**6)


@settings(max_examples=30, deadline=None)
@given(
    seq_len=st.integers(1, 12),
    variant=st.sampled_from(["standard", "variable", "selective"]),
    n_symbols=st.integers(2, 6),
    n_copy=st.integers(1, 5),
    batch_size=st.integers(1, 6),
    seed=SEEDS,
    step=STEPS,
)
def test_copy_property(seq_len, variant, n_symbols, n_copy, batch_size, seed, step):
    task = CopyTask(seq_len, variant=variant, n_symbols=n_symbols, n_copy=n_copy)
    check_batch(task, task.batch(batch_size, seed, step), batch_size)


@settings(max_examples=30, deadline=None)
@given(
    variant=st.sampled_from(["modern", "anywhere", "hochreiter"]),
    seq_len=st.integers(11, 40),
    short=st.integers(2, 10),
    batch_size=st.integers(1, 6),
    seed=SEEDS,
    step=STEPS,
)
def test_adding_property(variant, seq_len, short, batch_size, seed, step):
    # Short lengths are only valid for the first two variants.
    task = AddingTask(seq_len if variant == "hochreiter" else min(seq_len, short), variant=variant)
    check_batch(task, task.batch(batch_size, seed, step), batch_size)


@settings(max_examples=30, deadline=None)
@given(
    seq_len=st.integers(1, 12),
    vocab=st.integers(2, 6),
    distractors=st.booleans(),
    random_delay=st.booleans(),
    anticipation=st.booleans(),
    batch_size=st.integers(1, 6),
    seed=SEEDS,
    step=STEPS,
)
def test_recall_property(seq_len, vocab, distractors, random_delay, anticipation, batch_size, seed, step):
    task = RecallTask(
        seq_len, vocab=vocab, distractors=distractors, random_delay=random_delay, anticipation=anticipation
    )
    check_batch(task, task.batch(batch_size, seed, step), batch_size)


# ---------------------------------------------------------------------------------------------------------
# Distributions: counts within 5 standard deviations of their expectations (fixed seeds: deterministic).


def assert_uniform(values: torch.Tensor, low: int, high: int) -> None:
    """`values` look uniform on the integers low..high inclusive."""
    counts = torch.bincount(values.flatten() - low, minlength=high - low + 1).double()
    assert counts.numel() == high - low + 1, "values outside the range"
    n, p = values.numel(), 1.0 / (high - low + 1)
    assert ((counts - n * p).abs() <= 5 * math.sqrt(n * p * (1 - p))).all(), counts.tolist()


def test_copy_distributions():
    T, K = 5, 3
    standard = CopyTask(T, n_symbols=4, n_copy=K).batch(2000, 0, 0)
    assert_uniform(standard.inputs[:, :K], 0, 3)
    variable = CopyTask(T, variant="variable", n_copy=K).batch(3000, 0, 0)
    delimiter = (variable.inputs == 9).long().argmax(1)  # (B,)
    assert_uniform(delimiter - K + 1, 1, T)  # the gap
    selective = CopyTask(T, variant="selective", n_copy=K).batch(3000, 0, 0)
    occupied = (selective.inputs[:, : T + K - 1] < 8).double().mean(0)  # each slot holds data w.p. K/(T+K-1)
    assert torch.allclose(occupied, torch.full_like(occupied, K / (T + K - 1)), atol=0.04)


def test_adding_distributions():
    T = 12
    modern = AddingTask(T).batch(4000, 0, 0)
    marked = modern.inputs[..., 1].nonzero()[:, 1].view(-1, 2)  # (B, 2) sorted positions
    assert_uniform(marked[:, 0], 0, T // 2 - 1)
    assert_uniform(marked[:, 1], T // 2, T - 1)
    anywhere = AddingTask(T, variant="anywhere").batch(4000, 0, 0)
    assert_uniform(anywhere.inputs[..., 1].nonzero()[:, 1], 0, T - 1)

    T = 30
    hoch = AddingTask(T, variant="hochreiter").batch(20000, 0, 0)
    assert_uniform(hoch.mask.long().argmax(1) + 1, T, T + T // 10)  # the real lengths
    step0_marked = hoch.inputs[:, 0, 1] == 1.0
    x1_zeroed = step0_marked & (hoch.inputs[:, 0, 0] == 0.0)
    # The first marker is on step 0 w.p. 1/10 (then X1 := 0); the second w.p. 9/10 * 1/(T//2-1).
    for observed, p in ((x1_zeroed, 0.1), (step0_marked & ~x1_zeroed, 0.9 / (T // 2 - 1))):
        n = observed.numel()
        assert abs(observed.sum().item() - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_recall_distributions():
    task = RecallTask(6, vocab=5, distractors=True, random_delay=True)
    batch = task.batch(4000, 0, 0)
    assert_uniform(batch.inputs[:, 0], 0, 4)
    cue = batch.mask.long().argmax(1)
    assert_uniform(cue - 1, 1, 6)  # the delay
    assert_uniform(batch.inputs[:, 1][cue > 1], 0, 4)  # distractors


def test_anticipation_is_recall_with_the_two_ends_swapped():
    # the same draws (symbol, delay, distractors): only the cue and the symbol trade places
    kw = {"vocab": 5, "distractors": True, "random_delay": True}
    plain, ahead = (
        RecallTask(6, **kw).batch(500, 3, 1),
        RecallTask(6, anticipation=True, **kw).batch(500, 3, 1),
    )
    end = plain.mask.long().argmax(1)  # (B,): the ordinary cue's step d+1
    rows = torch.arange(500)
    assert (ahead.inputs[:, 0] == 6).all() and torch.equal(ahead.inputs[rows, end], plain.inputs[:, 0])
    swapped = plain.inputs.clone()
    swapped[:, 0], swapped[rows, end] = 6, plain.inputs[:, 0]
    assert torch.equal(ahead.inputs, swapped)
    assert ahead.mask[:, 0].all() and ahead.mask.sum() == 500  # scored at the cue only
    assert torch.equal(ahead.targets[:, 0], plain.targets[rows, end])
    assert_uniform(ahead.targets[:, 0], 0, 4)


# ---------------------------------------------------------------------------------------------------------
# Chance baselines


@pytest.mark.parametrize("T, expected", [(100, 0.1733), (200, 0.0945), (500, 0.0400), (1000, 0.0204)])
def test_copy_chance_matches_reference(T, expected):
    for variant in ("standard", "variable", "selective"):
        task = CopyTask(T, variant=variant)
        assert round(task.chance_loss, 4) == expected
        assert task.chance_loss == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-12)
        assert task.chance_accuracy == 1 / 8 and task.length == T + 20
    assert CopyTask(T, n_symbols=4, n_copy=3).chance_loss == pytest.approx(3 * math.log(4) / (T + 6))


def test_adding_and_recall_chance_values():
    assert AddingTask(50).chance_loss == pytest.approx(1 / 6)
    assert AddingTask(50, variant="anywhere").chance_loss == pytest.approx(1 / 6)
    assert AddingTask(50).chance_accuracy == pytest.approx(0.0784)
    hoch = AddingTask(100, variant="hochreiter")
    assert hoch.chance_loss == pytest.approx((0.1 / 3 + 0.9 * 2 / 3) / 16)
    assert hoch.chance_loss == pytest.approx(0.0395833, abs=1e-7)
    b = 0.16  # tolerance 0.04 in units of X1 + X2
    assert hoch.chance_accuracy == pytest.approx(0.1 * b + 0.9 * (b - b * b / 4)) == pytest.approx(0.15424)
    assert AddingTask(50, tolerance=2.0).chance_accuracy == 1.0
    # Past the clamps: b = 4 * tolerance >= 2 covers all of X1 + X2 in [-2, 2].
    assert AddingTask(50, variant="hochreiter", tolerance=0.6).chance_accuracy == 1.0
    b = 1.6  # tolerance 0.4: every X2 alone is within b, the triangle is not
    assert AddingTask(50, variant="hochreiter", tolerance=0.4).chance_accuracy == pytest.approx(
        0.1 + 0.9 * (b - b * b / 4)
    )
    for V in (2, 8, 30):
        for anticipation in (False, True):
            task = RecallTask(7, vocab=V, anticipation=anticipation)
            assert task.chance_loss == pytest.approx(math.log(V)) and task.chance_accuracy == 1 / V


@pytest.mark.parametrize("variant, seq_len", [("modern", 12), ("anywhere", 12), ("hochreiter", 20)])
@pytest.mark.parametrize("tolerance", [0.04, 0.3])
def test_adding_chance_by_monte_carlo(variant, seq_len, tolerance):
    task = AddingTask(seq_len, variant=variant, tolerance=tolerance)
    batch = task.batch(200_000, seed=1, step=0)
    c = task.constant_prediction()
    output = torch.full((*batch.mask.shape, 1), c)
    metrics = task.metrics(output, batch)
    squared = (c - batch.targets[batch.mask]).double() ** 2  # (B,)
    se_loss = squared.std().item() / math.sqrt(squared.numel())
    p = task.chance_accuracy
    se_acc = math.sqrt(p * (1 - p) / squared.numel())
    assert abs(metrics["loss"] - task.chance_loss) < 5 * se_loss
    assert abs(metrics["accuracy"] - task.chance_accuracy) < 5 * se_acc
    for shifted in (c - 0.05, c + 0.05):  # c is the best constant under MSE
        assert task.loss(torch.full_like(output, shifted), batch) > metrics["loss"]


# ---------------------------------------------------------------------------------------------------------
# Loss and metrics


def perfect_output(task: Task, batch: Batch) -> torch.Tensor:
    if task.kind == "regression":
        return batch.targets.unsqueeze(-1).clone()  # (B, L, 1)
    return F.one_hot(batch.targets, task.output_size).float() * 40.0  # (B, L, C)


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_perfect_predictor(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    batch = task.batch(32, 0, 0)
    output = perfect_output(task, batch)
    metrics = task.metrics(output, batch)
    assert metrics["accuracy"] == 1.0 and metrics["loss"] < 1e-9
    assert all(isinstance(v, float) for v in metrics.values())
    assert task.solved(metrics)


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_loss_is_differentiable_and_only_sees_scored_steps(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    batch = task.batch(8, 0, 0)
    output = torch.randn(*batch.mask.shape, task.output_size, requires_grad=True)
    loss = task.loss(output, batch)
    assert loss.ndim == 0 and loss.item() == pytest.approx(task.metrics(output, batch)["loss"], rel=1e-6)
    loss.backward()
    touched = output.grad.abs().sum(-1) > 0  # (B, L)
    assert torch.equal(touched, batch.mask)


def test_regression_loss_follows_output_dtype():
    task = AddingTask(8)
    batch = task.batch(4, 0, 0)
    output = torch.zeros(4, 8, 1, dtype=torch.float64, requires_grad=True)
    loss = task.loss(output, batch)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx((batch.targets[batch.mask].double() ** 2).mean().item())


@pytest.mark.parametrize("name, seq_len, options", CONFIGS[:1] + CONFIGS[6:7] + CONFIGS[12:13])
def test_bad_output_shape(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    batch = task.batch(2, 0, 0)
    L, C = task.length, task.output_size
    for shape in ((2, L, C + 1), (2, L + 1, C), (2, L)):
        with pytest.raises(ValueError, match="output must have shape"):
            task.loss(torch.zeros(shape), batch)
        with pytest.raises(ValueError, match="output must have shape"):
            task.metrics(torch.zeros(shape), batch)


@pytest.mark.parametrize("variant", ["standard", "variable", "selective"])
def test_copy_memoryless_predictor_gets_chance(variant):
    task = CopyTask(20, variant=variant)
    batch = task.batch(2000, 0, 0)
    recall = task.recall_mask(batch).unsqueeze(-1)  # (B, L, 1)
    # Knows when to recall but not what: blank elsewhere, uniform over the data symbols on recall steps.
    blank_row = torch.full((task.output_size,), -1e4)
    blank_row[task.blank] = 0.0
    uniform_row = torch.zeros(task.output_size)
    uniform_row[task.blank] = -1e4
    output = torch.where(recall, uniform_row, blank_row)  # (B, L, C)
    metrics = task.metrics(output, batch)
    assert metrics["loss"] == pytest.approx(task.chance_loss, rel=1e-5)
    assert metrics["recall_loss"] == pytest.approx(math.log(8), rel=1e-5)
    # argmax of a tie is symbol 0, right w.p. 1/8.
    n = batch.inputs.shape[0] * task.n_copy
    assert abs(metrics["accuracy"] - 1 / 8) < 5 * math.sqrt(1 / 8 * 7 / 8 / n)
    assert not task.solved(metrics)


def test_copy_accuracy_counts_recall_steps_only():
    task = CopyTask(5, n_copy=4)
    batch = task.batch(10, 0, 0)
    recall = task.recall_mask(batch)
    assert recall.sum() == 10 * 4
    output = perfect_output(task, batch)
    wrong_class = (batch.targets + 1) % task.output_size
    # Wrong on every non-recall step: accuracy and recall_loss stay perfect, the all-steps loss does not.
    output = torch.where(recall.unsqueeze(-1), output, F.one_hot(wrong_class, task.output_size) * 40.0)
    metrics = task.metrics(output, batch)
    assert metrics["accuracy"] == 1.0 and metrics["recall_loss"] < 1e-9 and metrics["loss"] > 10
    # One wrong recalled symbol among 40.
    row, col = recall.nonzero()[0].tolist()
    output[row, col] = F.one_hot(wrong_class[row, col], task.output_size) * 40.0
    assert task.metrics(output, batch)["accuracy"] == pytest.approx(39 / 40)


def test_recall_uniform_predictor_gets_chance():
    task = RecallTask(4, vocab=5, distractors=True)
    batch = task.batch(4000, 0, 0)
    output = torch.zeros(*batch.mask.shape, 5)
    output[..., 0] = 1e-3  # argmax picks symbol 0: right w.p. 1/5
    metrics = task.metrics(output, batch)
    assert metrics["loss"] == pytest.approx(math.log(5), rel=1e-3)
    assert abs(metrics["accuracy"] - 0.2) < 5 * math.sqrt(0.2 * 0.8 / 4000)


@pytest.mark.parametrize("variant, seq_len", [("modern", 10), ("anywhere", 10), ("hochreiter", 22)])
def test_adding_accuracy_uses_tolerance(variant, seq_len):
    task = AddingTask(seq_len, variant=variant, tolerance=0.1)
    batch = task.batch(64, 0, 0)
    target = batch.targets.unsqueeze(-1)
    garbage = torch.where(batch.mask.unsqueeze(-1), 0.0, 100.0)  # unscored steps must not matter
    inside = task.metrics(target + 0.09 + garbage, batch)
    assert inside["accuracy"] == 1.0 and inside["loss"] == pytest.approx(0.09**2, rel=1e-4)
    outside = task.metrics(target - 0.11 + garbage, batch)
    assert outside["accuracy"] == 0.0 and not task.solved(outside)
    half = target + torch.where(torch.arange(64).view(64, 1, 1) % 2 == 0, 0.0, 0.2)
    assert task.metrics(half, batch)["accuracy"] == 0.5


def test_solved_threshold():
    task = RecallTask(3, solve_accuracy=0.9)
    assert task.solved({"loss": 1.0, "accuracy": 0.9})
    assert not task.solved({"loss": 0.0, "accuracy": 0.8999})
    assert AddingTask(5).solved({"loss": 1.0, "accuracy": 0.95})
    assert not AddingTask(5).solved({"loss": 1.0, "accuracy": 0.94})
    assert CopyTask(5, solve_accuracy=1.0).solved({"loss": 1.0, "accuracy": 1.0})
    assert not CopyTask(5).solved({"loss": 0.0, "accuracy": 0.98})


# ---------------------------------------------------------------------------------------------------------
# max_distance: an upper bound on every observed dependency, reached in a large enough batch.


def observed_distances(task: Task, batch: Batch) -> list[int]:
    """Distance from each informative input to the step where it is scored, per sequence."""
    out = []
    for row in range(batch.inputs.shape[0]):
        if task.name == "copy":
            x = batch.inputs[row].tolist()
            data_pos = [i for i, v in enumerate(x) if v < task.n_symbols]
            d = x.index(task.delimiter)
            out += [d + 1 + j - i for j, i in enumerate(data_pos)]
        elif task.name == "adding":
            scored = int(batch.mask[row].long().argmax())
            marked = batch.inputs[row, :, 1] == 1.0
            informative = marked & (batch.inputs[row, :, 0] != 0.0)  # a zeroed X1 carries nothing
            out += [scored - i for i in informative.nonzero().flatten().tolist()]
        elif task.anticipation:  # scored at step 0, the symbol at the last non-blank step
            out.append(int((batch.inputs[row] != task.blank).nonzero().max()))
        else:
            out.append(int(batch.mask[row].long().argmax()))  # the symbol is at step 0
    return out


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_max_distance(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    distances = observed_distances(task, task.batch(400, 0, 0))
    assert max(distances) == task.max_distance
    expected = {"copy": seq_len + options.get("n_copy", 10), "recall": seq_len + 1, "adding": task.length - 1}
    assert task.max_distance == expected[name]


# ---------------------------------------------------------------------------------------------------------
# Validation: every ValueError path names its parameter in one line.

BAD = [
    (CopyTask, {"seq_len": 0}, "seq_len"),
    (CopyTask, {"seq_len": -3}, "seq_len"),
    (CopyTask, {"seq_len": True}, "seq_len"),
    (CopyTask, {"seq_len": 10.0}, "seq_len"),
    (CopyTask, {"seq_len": "10"}, "seq_len"),
    (CopyTask, {"seq_len": 5, "variant": "foo"}, "variant"),
    (CopyTask, {"seq_len": 5, "variant": None}, "variant"),
    (CopyTask, {"seq_len": 5, "n_symbols": 1}, "n_symbols"),
    (CopyTask, {"seq_len": 5, "n_symbols": True}, "n_symbols"),
    (CopyTask, {"seq_len": 5, "n_copy": 0}, "n_copy"),
    (CopyTask, {"seq_len": 5, "n_copy": 2.5}, "n_copy"),
    (CopyTask, {"seq_len": 5, "solve_accuracy": 0.0}, "solve_accuracy"),
    (CopyTask, {"seq_len": 5, "solve_accuracy": 1.01}, "solve_accuracy"),
    (CopyTask, {"seq_len": 5, "solve_accuracy": True}, "solve_accuracy"),
    (CopyTask, {"seq_len": 5, "solve_accuracy": float("nan")}, "solve_accuracy"),
    (CopyTask, {"seq_len": 5, "solve_accuracy": "high"}, "solve_accuracy"),
    (AddingTask, {"seq_len": 1}, "seq_len"),
    (AddingTask, {"seq_len": 1, "variant": "anywhere"}, "seq_len"),
    (AddingTask, {"seq_len": 10, "variant": "hochreiter"}, "seq_len"),
    (AddingTask, {"seq_len": False}, "seq_len"),
    (AddingTask, {"seq_len": 10, "variant": "Modern"}, "variant"),
    (AddingTask, {"seq_len": 10, "tolerance": 0.0}, "tolerance"),
    (AddingTask, {"seq_len": 10, "tolerance": -0.1}, "tolerance"),
    (AddingTask, {"seq_len": 10, "tolerance": float("inf")}, "tolerance"),
    (AddingTask, {"seq_len": 10, "tolerance": True}, "tolerance"),
    (AddingTask, {"seq_len": 10, "solve_accuracy": -0.5}, "solve_accuracy"),
    (RecallTask, {"seq_len": 0}, "seq_len"),
    (RecallTask, {"seq_len": 5, "vocab": 1}, "vocab"),
    (RecallTask, {"seq_len": 5, "vocab": True}, "vocab"),
    (RecallTask, {"seq_len": 5, "distractors": 1}, "distractors"),
    (RecallTask, {"seq_len": 5, "distractors": "yes"}, "distractors"),
    (RecallTask, {"seq_len": 5, "random_delay": 0}, "random_delay"),
    (RecallTask, {"seq_len": 5, "solve_accuracy": 2}, "solve_accuracy"),
    (RecallTask, {"seq_len": 5, "anticipation": "yes"}, "anticipation"),
]


@pytest.mark.parametrize("cls, kwargs, param", BAD, ids=[f"{c.__name__}-{p}-{k[p]!r}" for c, k, p in BAD])
def test_constructor_rejects(cls, kwargs, param):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{param} must be ") and "\n" not in message
    assert f"got {kwargs[param]!r}" in message


def test_constructor_boundaries_are_accepted():
    # The smallest valid values, so the bounds in the messages are exact.
    CopyTask(1, n_symbols=2, n_copy=1, solve_accuracy=1.0)
    AddingTask(2)
    AddingTask(2, variant="anywhere")
    AddingTask(11, variant="hochreiter", tolerance=1e-9)
    RecallTask(1, vocab=2, solve_accuracy=1e-9)
    assert "seq_len must be an integer >= 11" in _error(lambda: AddingTask(10, variant="hochreiter"))
    assert "variant must be one of ['standard', 'variable', 'selective'], got 'foo'" in _error(
        lambda: CopyTask(5, variant="foo")
    )
    assert _error(lambda: CopyTask(0)) == "seq_len must be an integer >= 1, got 0"


def _error(build) -> str:
    with pytest.raises(ValueError) as info:
        build()
    return str(info.value)


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0])
def test_sample_rejects_bad_batch_size(batch_size):
    task = RecallTask(3)
    with pytest.raises(ValueError, match="^batch_size must be an integer >= 1"):
        task.sample(batch_size, make_generator(0, 0))
    with pytest.raises(ValueError, match="^batch_size must be an integer >= 1"):
        task.batch(batch_size, 0, 0)


# ---------------------------------------------------------------------------------------------------------
# Registry


def test_registry_and_exports():
    assert TASKS == {"copy": CopyTask, "adding": AddingTask, "recall": RecallTask}
    for name, cls in TASKS.items():
        assert cls.name == name and issubclass(cls, Task)
    exported = "Batch Task make_generator make_task TASKS CopyTask AddingTask RecallTask".split()
    for symbol in exported:
        assert symbol in tasks.__all__ and hasattr(tasks, symbol)


@pytest.mark.parametrize("name, seq_len, options", CONFIGS, ids=CONFIG_IDS)
def test_make_task_and_params_round_trip(name, seq_len, options):
    task = make_task(name, seq_len, **options)
    assert isinstance(task, TASKS[name])
    params = task.params()
    assert params["name"] == name and params["seq_len"] == seq_len
    for key, value in options.items():
        assert params[key] == value
    assert json.loads(json.dumps(params)) == params
    assert set(params) == {"name", "seq_len", *tasks.task_options(name)}
    rebuilt = make_task(**params)
    assert rebuilt.params() == params and repr(rebuilt) == repr(task)
    for attr in ("length", "input_size", "output_size", "chance_loss", "chance_accuracy", "max_distance"):
        assert getattr(rebuilt, attr) == getattr(task, attr)


def test_task_attributes():
    def shape_of(task: Task) -> tuple:
        return task.length, task.input_kind, task.input_size, task.output_size, task.kind

    copy = make_task("copy", 100)
    assert shape_of(copy) == (120, "tokens", 10, 9, "classification")
    assert (copy.blank, copy.delimiter) == (8, 9)
    assert shape_of(make_task("adding", 100, variant="hochreiter")) == (110, "float", 2, 1, "regression")
    assert shape_of(make_task("adding", 100)) == (100, "float", 2, 1, "regression")
    recall = make_task("recall", 100, vocab=6)
    assert shape_of(recall) == (102, "tokens", 8, 6, "classification")
    assert (recall.blank, recall.cue) == (6, 7)


def test_make_task_rejects_unknown_name_and_option():
    with pytest.raises(ValueError, match=r"unknown task 'lstm'; allowed: \['adding', 'copy', 'recall'\]"):
        make_task("lstm", 10)
    message = _error(lambda: make_task("recall", 10, variant="standard"))
    assert "unknown option 'variant'" in message
    assert "['vocab', 'distractors', 'random_delay', 'solve_accuracy', 'anticipation']" in message
    assert "'tolerance'" in _error(lambda: make_task("copy", 10, tolerance=0.1))
    with pytest.raises(ValueError, match="^seq_len"):
        make_task("copy", 0)
