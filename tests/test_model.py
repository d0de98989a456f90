"""SequenceModel: encoding, shapes, dtypes, parameter counting and budget matching."""

import pytest
import torch

from bench.cells import CELLS, FUSED_VARIANTS, VARIANTS
from bench.model import count_params, hidden_for_budget, model_param_count
from tests.util import model_of

ALL_VARIANTS = [(c, v) for c in CELLS for v in VARIANTS[c]]


def test_token_inputs_are_one_hot_in_the_model_dtype():
    m = model_of(6, 3, "tokens", "lstm", 8)
    ids = torch.tensor([[0, 5, 2], [1, 1, 3]])
    x = m.encode(ids)
    assert x.shape == (2, 3, 6) and x.dtype == torch.float32
    assert torch.equal(x.argmax(-1), ids) and torch.equal(x.sum(-1), torch.ones(2, 3))
    assert m.double().encode(ids).dtype == torch.float64
    with pytest.raises(ValueError, match="integer"):
        m.encode(ids.float())


def test_float_inputs_pass_through_cast_to_the_model_dtype():
    m = model_of(2, 1, "float", "gru", 8).double()
    x = torch.rand(4, 9, 2)
    assert m.encode(x).dtype == torch.float64 and torch.equal(m.encode(x), x.double())
    one = model_of(1, 1, "float", "rnn", 8)
    assert one.encode(torch.rand(4, 9)).shape == (4, 9, 1)  # (B, L) accepted for a single channel
    assert one(torch.rand(4, 9)).shape == (4, 9, 1)


@pytest.mark.parametrize("impl", ["fused", "explicit"])
@pytest.mark.parametrize("cell", CELLS)
def test_forward_shape_and_head_at_every_position(cell, impl):
    m = model_of(5, 7, "tokens", cell, 6, num_layers=2, impl=impl)
    ids = torch.randint(0, 5, (3, 11))
    out = m(ids)
    assert out.shape == (3, 11, 7)
    assert isinstance(m.head, torch.nn.Linear) and m.core.cell == cell and m.core.impl == impl
    torch.testing.assert_close(out, m.head(m.core(m.encode(ids))))


def test_model_passes_core_options_through():
    m = model_of(
        5,
        2,
        "float",
        "lstm",
        6,
        num_layers=2,
        impl="explicit",
        variant="cifg",
        forget_bias="chrono",
        chrono_tmax=20.0,
        recurrent_init="orthogonal",
    )
    assert (m.core.variant, m.core.num_layers, m.core.hidden_size) == ("cifg", 2, 6)
    with pytest.raises(ValueError, match="input_kind"):
        model_of(5, 2, "onehot", "lstm", 6)
    with pytest.raises(ValueError, match="impl=explicit"):
        model_of(5, 2, "float", "lstm", 6, variant="nog")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, variant", ALL_VARIANTS)
def test_param_count_formula_matches_built_models(cell, variant, layers):
    impl = "fused" if variant in FUSED_VARIANTS[cell] else "explicit"
    m = model_of(10, 9, "tokens", cell, 7, num_layers=layers, impl=impl, variant=variant)
    assert count_params(m) == model_param_count(10, 9, cell, 7, layers, variant)


def test_count_params_skips_frozen():
    m = model_of(3, 2, "float", "rnn", 4)
    n = count_params(m)
    m.head.weight.requires_grad_(False)
    assert count_params(m) == n - 8


@pytest.mark.parametrize("budget", [500, 6_500, 16_000, 70_000])
@pytest.mark.parametrize(
    "cell, variant, layers",
    [
        ("rnn", "tanh", 1),
        ("lstm", "vanilla", 1),
        ("gru", "vanilla", 1),
        ("lstm", "vanilla", 2),
        ("lstm", "cifg", 1),
        ("lstm", "fgr", 1),
        ("lstm", "peephole", 2),
        ("gru", "nug", 1),
    ],
)
def test_hidden_for_budget_lands_closest(budget, cell, variant, layers):
    I, O = 10, 9
    h = hidden_for_budget(budget, I, O, cell, layers, variant)
    impl = "fused" if variant in FUSED_VARIANTS[cell] else "explicit"

    def n(hidden):  # count of a really built model
        return count_params(model_of(I, O, "tokens", cell, hidden, layers, impl, variant))

    assert abs(n(h) - budget) <= abs(n(h + 1) - budget)
    if h > 1:
        assert abs(n(h) - budget) <= abs(n(h - 1) - budget)


def test_hidden_for_budget_examples():
    # one-hot 10 symbols in, 9 classes out, ~6.5K parameters (Arjovsky et al. 2016's copy-task size):
    # LSTM H=33: 4*33*(10+33) + 8*33 + 34*9 = 6246; H=34: 4*34*44 + 8*34 + 35*9 = 6571 (closer)
    assert hidden_for_budget(6_500, 10, 9, "lstm") == 34
    # RNN H=71: 71*81 + 2*71 + 72*9 = 6541; H=70: 70*80 + 140 + 71*9 = 6379
    assert hidden_for_budget(6_500, 10, 9, "rnn") == 71
    # an ablation that removes a gate gets more units for the same budget
    assert hidden_for_budget(6_500, 10, 9, "lstm", variant="cifg") > hidden_for_budget(6_500, 10, 9, "lstm")
    assert hidden_for_budget(1, 10, 9, "gru") == 1
    with pytest.raises(ValueError, match="budget"):
        hidden_for_budget(0, 10, 9, "gru")
