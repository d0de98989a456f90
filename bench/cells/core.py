"""What every recurrent cell shares: its registry entry (CellDef), the parameter container of the explicit
implementations, the stacked core, and the initialisation options.

A cell is one module (bench/cells/<name>.py) that builds a CellDef: its gate blocks per variant, its step
equations (an autograd loop over time), an optional fast path, its fused torch.nn module, which gate the
forget bias goes to, and which states it exposes. Everything else (FLOP and parameter counts, validation,
the report's cell order) reads the registry in bench/cells/__init__.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from bench import fastpath

# A layer's carried state, one (B, .) tensor per entry: "h", "c" (cells with a memory cell) and what else a
# variant carries from step to step (the fgr LSTM: "gates", its previous gate activations (B, 3H)).
State = dict[str, Tensor]
# One layer over a whole sequence: x (T, B, I) time-major, the layer's parameters keyed without the _l{k}
# suffix, the variant, the initial state (None: zeros) -> per-step states {"h": [h_t (B, H)] * T, "c": [...],
# ...}: every entry of the carried state, so the final state is each list's last element.
LayerFn = Callable[[Tensor, dict[str, Tensor], str, State | None], dict[str, list[Tensor]]]
# The same function without per-step autograd nodes, zero initial state: -> h (T, B, H).
FastFn = Callable[[Tensor, dict[str, Tensor], str], Tensor]
DIRECTIONS = ("forward", "backward")  # a bidirectional core's second stack reads the sequence backwards
SUFFIXES = ("", "_reverse")  # torch.nn's parameter suffix of each direction (weight_ih_l0_reverse)


@dataclass(frozen=True)
class CellDef:
    """A recurrent cell's registry entry."""

    name: str
    gates: dict[str, tuple[str, ...]]  # variant -> the H-row gate blocks stacked in weight_ih / weight_hh
    default_variant: str  # the textbook cell
    layer: LayerFn  # the step equations, as an autograd loop (exposes every state to the graph)
    fused: type[nn.Module]  # torch.nn.RNN / LSTM / GRU
    fused_variants: tuple[str, ...]  # the variants the fused module computes
    states: tuple[str, ...] = ("h",)  # the per-step states layer() returns
    # variant, bias b (H,), chrono? -> {gate: bias total to set}: which gate(s) the forget bias goes to
    memory_bias: Callable[[str, Tensor, bool], dict[str, Tensor]] = lambda v, b, chrono: {}
    memory_gate_name: str = ""  # how the report and errors call that gate
    fused_kwargs: Callable[[str], dict] = lambda variant: {}
    fast: FastFn | None = None  # used by RecurrentCore.forward for fast_variants
    fast_variants: tuple[str, ...] = ()
    extra_params: Callable[[str, int], dict[str, tuple[int, ...]]] = lambda variant, H: {}
    extra_flops: Callable[[str, int], int] = lambda variant, H: 0  # per step per sequence, beyond gate GEMMs
    descriptions: dict[str, str] = field(default_factory=dict)  # variant -> one line

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.gates)

    def gate_blocks(self, variant: str) -> int:
        return len(self.gates[variant])

    def param_count(
        self, input_size: int, hidden_size: int, num_layers: int, variant: str, directions: int = 1
    ) -> int:
        """Exact parameter count of the core (fused and explicit alike); a bidirectional core
        (directions=2) has two sets per layer, and its upper layers read both directions' outputs (2H)."""
        G, H = self.gate_blocks(variant), hidden_size
        total = 0
        for k in range(num_layers):
            n_in = input_size if k == 0 else directions * H
            per = G * H * (n_in + H) + 2 * G * H  # weight_ih, weight_hh, bias_ih, bias_hh
            per += sum(math.prod(s) for s in self.extra_params(variant, H).values())
            total += directions * per
        return total

    def step_flops(
        self, variant: str, input_size: int, hidden_size: int, num_layers: int = 1, directions: int = 1
    ) -> int:
        """Forward FLOPs per step per sequence: the gate GEMMs (2 G H (I + H) per layer and direction)
        and extras."""
        G, H, total = self.gate_blocks(variant), hidden_size, 0
        for k in range(num_layers):
            n_in = input_size if k == 0 else directions * H
            total += directions * (2 * G * H * (n_in + H) + self.extra_flops(variant, H))
        return total


class ExplicitRNN(nn.Module):
    """Parameter container of the explicit cells, laid out exactly like torch.nn.RNN/LSTM/GRU's."""

    def __init__(
        self,
        cell: CellDef,
        variant: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        directions: int = 1,
    ):
        super().__init__()
        G, H = cell.gate_blocks(variant), hidden_size
        for k in range(num_layers):
            n_in = input_size if k == 0 else directions * H
            for sfx in SUFFIXES[:directions]:  # torch's order: layer by layer, forward then reverse
                self.register_parameter(f"weight_ih_l{k}{sfx}", nn.Parameter(torch.empty(G * H, n_in)))
                self.register_parameter(f"weight_hh_l{k}{sfx}", nn.Parameter(torch.empty(G * H, H)))
                self.register_parameter(f"bias_ih_l{k}{sfx}", nn.Parameter(torch.empty(G * H)))
                self.register_parameter(f"bias_hh_l{k}{sfx}", nn.Parameter(torch.empty(G * H)))
                for name, shape in cell.extra_params(variant, H).items():
                    self.register_parameter(f"{name}_l{k}{sfx}", nn.Parameter(torch.empty(*shape)))
        self.hidden_size = hidden_size
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's RNN init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        bound = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            nn.init.uniform_(w, -bound, bound)


class RecurrentCore(nn.Module):
    """Stacked recurrent layers: x (B, T, I) batch_first -> top-layer outputs (B, T, D*H), D = 2 when
    bidirectional (the forward and the backward direction's h_t concatenated, as torch.nn does).

    The parameters live in ``self.rnn`` (a torch.nn.RNN/LSTM/GRU for ``fused``, an ExplicitRNN with the same
    names for ``explicit``), so state dicts of the two implementations are interchangeable. Build it with
    bench.cells.make_core, which also validates the spec and applies the initialisation options.

    States between calls (``scan``, truncated BPTT) use torch's layout: {"h": (layers * D, B, H), "c": ...},
    entry layer * D + direction.
    """

    def __init__(
        self,
        cell: CellDef,
        impl: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        variant: str,
        bidirectional: bool = False,
    ):
        super().__init__()
        self.defn, self.cell, self.impl, self.variant = cell, cell.name, impl, variant
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.directions = bidirectional, 2 if bidirectional else 1
        self.output_size = self.directions * hidden_size  # what the head reads
        if impl == "fused":
            kw = cell.fused_kwargs(variant) | ({"bidirectional": True} if bidirectional else {})
            self.rnn = cell.fused(input_size, hidden_size, num_layers, batch_first=True, **kw)
        else:
            self.rnn = ExplicitRNN(cell, variant, input_size, hidden_size, num_layers, self.directions)

    def layer_params(self, k: int, direction: int = 0) -> dict[str, Tensor]:
        """Layer k's parameters of one direction (0 forward, 1 backward) keyed without the _l{k} /
        _l{k}_reverse suffix: weight_ih, weight_hh, bias_ih, bias_hh, ..."""
        suffix = f"_l{k}{SUFFIXES[direction]}"
        return {n[: -len(suffix)]: w for n, w in self.rnn.named_parameters() if n.endswith(suffix)}

    def forward(self, x: Tensor) -> Tensor:
        """x (B, T, I) -> (B, T, D*H), zero initial state."""
        if self.impl == "fused":
            return self.rnn(x)[0]
        path = self.explicit_path(x)
        if path == "autograd":
            return self._unroll(x)["out"]
        inp = x.transpose(0, 1).contiguous()  # (T, B, I)
        for k in range(self.num_layers):
            outs = []
            for d in range(self.directions):  # the backward direction: the same loop on the reversed steps
                p, seq = self.layer_params(k, d), inp if d == 0 else inp.flip(0)
                if path == "cpp":
                    w = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
                    h = fastpath.layer(self.cell, self.variant, seq, *w)  # (T, B, H)
                else:
                    h = self.defn.fast(seq, p, self.variant)  # (T, B, H)
                outs.append(h if d == 0 else h.flip(0))
            inp = outs[0] if self.directions == 1 else torch.cat(outs, -1)  # (T, B, D*H)
        return inp.transpose(0, 1)

    def scan(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """x (B, T, I) from `state` (torch's layout, see the class; None: zeros) -> (outputs (B, T, D*H),
        the final state in the same layout). For truncated BPTT: the fast paths of the explicit cells
        start from zeros and keep no final state, so the explicit cells run the autograd loop here."""
        if self.impl == "fused":
            hx = None if state is None else _fused_hx(self.cell, state)
            out, hn = self.rnn(x, hx)
            return out, _fused_state(self.cell, hn)
        st = self._unroll(x, state)
        return st["out"], st["final"]

    def explicit_path(self, x: Tensor | None = None) -> str:
        """Which code runs the explicit cell's forward: "cpp" (bench/fastpath.py: the whole loop and its
        backward in C++, CPU float32/64), "python" (the cell's own fast path, e.g. the LSTM's custom
        autograd.Function), or "autograd" (the step equations under autograd). Each serves both
        directions of a bidirectional core (the backward one on the time-reversed sequence)."""
        probe = x if x is not None else self.rnn.weight_hh_l0
        if fastpath.supports(self.cell, self.variant) and fastpath.supports_tensor(probe):
            if fastpath.available():
                return "cpp"
        if self.defn.fast is not None and self.variant in self.defn.fast_variants:
            return "python"
        return "autograd"

    def forward_with_states(self, x: Tensor, state: State | None = None) -> dict:
        """Step one timestep at a time (the fused core runs the same step equations on its own weights).

        Returns {"out": (B, T, D*H) top-layer outputs, "h": [layer][t] -> (B, H), "c": same, LSTM only,
        for a bidirectional core also "h_reverse" / "c_reverse" (the backward direction, also indexed by
        time t), "final": the final state (see `scan`)}; the states are nodes of the autograd graph, so
        torch.autograd.grad(loss, h[l][t]) is the total derivative.
        """
        return self._unroll(x, state)

    def _unroll(self, x: Tensor, state: State | None = None) -> dict:
        inp = x.transpose(0, 1)  # (T, B, I) time-major: each step's slice is a cheap view
        sfx = SUFFIXES[: self.directions]
        per_state: dict[str, list] = {s + f: [] for f in sfx for s in self.defn.states}
        finals: list[State] = []  # torch's order: layer * D + direction
        for k in range(self.num_layers):
            outs = []
            for d, f in enumerate(sfx):
                s0 = None if state is None else {key: v[k * self.directions + d] for key, v in state.items()}
                seq = inp if d == 0 else inp.flip(0)  # the backward direction reads the steps reversed
                steps = self.defn.layer(seq, self.layer_params(k, d), self.variant, s0)
                finals.append({key: v[-1] for key, v in steps.items()})  # backward: its state at t = 0
                if d == 1:
                    steps = {key: v[::-1] for key, v in steps.items()}  # back in time order
                for s in self.defn.states:
                    per_state[s + f].append(steps[s])
                outs.append(torch.stack(steps["h"]))  # (T, B, H)
            inp = outs[0] if self.directions == 1 else torch.cat(outs, -1)  # the next layer's input
        final = {key: torch.stack([f[key] for f in finals]) for key in finals[0]}  # (layers * D, B, .)
        return {"out": inp.transpose(0, 1), **per_state, "final": final}  # out: (B, T, D*H)

    def extra_repr(self) -> str:
        bi = ", bidirectional" if self.bidirectional else ""
        return f"cell={self.cell}, impl={self.impl}, variant={self.variant}{bi}"


def _fused_hx(cell: str, state: State) -> Tensor | tuple[Tensor, Tensor]:
    return (state["h"], state["c"]) if cell == "lstm" else state["h"]


def _fused_state(cell: str, hn: Tensor | tuple[Tensor, Tensor]) -> State:
    return {"h": hn[0], "c": hn[1]} if cell == "lstm" else {"h": hn}


# -----------------------------------------------------------------------------
# initialisation options


def blocks(w: Tensor, names: tuple[str, ...]) -> dict[str, Tensor]:
    """Views of the per-gate row blocks of a stacked (G*H, ...) weight or (G*H,) bias."""
    return dict(zip(names, w.chunk(len(names), 0), strict=True))


def _layer_directions(core: RecurrentCore) -> list[tuple[int, int]]:
    """(layer, direction) pairs in torch's order (a unidirectional core: the layers, as before)."""
    return [(k, d) for k in range(core.num_layers) for d in range(core.directions)]


@torch.no_grad()
def init_recurrent_(core: RecurrentCore, scheme: str) -> None:
    """default: keep PyTorch's; orthogonal: each gate's H x H block of W_hh orthogonal;
    identity: each block = I and the recurrent biases 0 (IRNN, Le et al. 2015)."""
    if scheme == "default":
        return
    names = core.defn.gates[core.variant]
    for k, d in _layer_directions(core):
        p = core.layer_params(k, d)
        for block in blocks(p["weight_hh"], names).values():
            if scheme == "orthogonal":
                block.copy_(nn.init.orthogonal_(torch.empty_like(block)))
            else:
                block.copy_(torch.eye(core.hidden_size, dtype=block.dtype, device=block.device))
        if scheme == "identity":
            p["bias_hh"].zero_()


@torch.no_grad()
def init_forget_bias_(
    core: RecurrentCore, forget_bias: float | str, chrono_tmax: float | None = None
) -> None:
    """Set the gate bias that controls remembering (bias_ih = b, bias_hh = 0, so the total is b); which gate
    that is, is the cell's memory_bias (LSTM: forget gate, GRU: update gate).

    "chrono" (Tallec & Ollivier 2018): b ~ log U[1, chrono_tmax - 1] per unit (and the LSTM input gate bias
    -b). A number 0 leaves PyTorch's default init untouched.
    """
    if forget_bias == 0:
        return
    names = core.defn.gates[core.variant]
    for k, d in _layer_directions(core):
        p = core.layer_params(k, d)
        b_ih, b_hh = blocks(p["bias_ih"], names), blocks(p["bias_hh"], names)
        if forget_bias == "chrono":
            u = torch.empty_like(p["bias_ih"][: core.hidden_size]).uniform_(1.0, chrono_tmax - 1.0)
            b = torch.log(u)  # (H,)
        else:
            b = torch.full_like(p["bias_ih"][: core.hidden_size], float(forget_bias))
        for gate, value in core.defn.memory_bias(core.variant, b, forget_bias == "chrono").items():
            b_ih[gate].copy_(value)
            b_hh[gate].zero_()
