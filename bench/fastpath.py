"""Fast path for the explicit cells: one layer's whole time loop, forward and hand-written backward, in C++.

The C++ source (bench/csrc/fastpath.cpp) is compiled on first use with torch.utils.cpp_extension.load
into torch's extension cache (quietly; about a minute the first time, then loaded from the cache). Each
step is one GEMM plus one fused elementwise loop (gates, cell, output) in the forward and one GEMM plus one
elementwise loop in the backward; the input projection and the weight / input gradients are single GEMMs
over all steps. It computes the same function as the Python loops of bench/cells.py (`_lstm_layer`,
`_gru_layer`, `_rnn_layer`), which tests/test_fastpath.py checks along with the fused torch.nn modules.

    from bench import fastpath
    if fastpath.available() and fastpath.supports("lstm", "cifg"):
        h = fastpath.layer("lstm", "cifg", x, w_ih, w_hh, b_ih, b_hh)  # x (T, B, I) -> h (T, B, H)

Where there is no compiler (or the build fails), available() is False and warns once per process; CUDA
tensors and dtypes other than float32 / float64 are not supported (``supports_tensor``): the caller keeps
its Python path for those.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).resolve().parent / "csrc" / "fastpath.cpp"
_OPS = "rnn_bench_fastpath"  # the TORCH_LIBRARY namespace of the C++ ops

# variant -> index, in the order of the C++ enums
LSTM_VARIANTS = ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg")
GRU_VARIANTS = ("vanilla", "nrg", "nug")
RNN_VARIANTS = ("tanh", "relu")
VARIANTS: dict[str, tuple[str, ...]] = {"lstm": LSTM_VARIANTS, "gru": GRU_VARIANTS, "rnn": RNN_VARIANTS}
DTYPES = (torch.float32, torch.float64)

_lock = threading.Lock()
_state: dict[str, object] = {"ok": None, "error": None}


def _cpu_flags() -> list[str]:
    """-mavx2 -mfma where the CPU has them (the vectorised gate loops need no more); nothing elsewhere."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    lines = info.splitlines()
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return ["-mavx2", "-mfma"] if {"avx2", "fma"} <= set(flags) else []


def _build() -> None:
    """Compile (or load from torch's extension cache) the C++ ops; raises on any failure."""
    from torch.utils import cpp_extension

    cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", *_cpu_flags()]
    # flags and torch version are part of the name: a cache shared by machines with different CPUs, or
    # kept across a torch upgrade, never hands out a build for the wrong one
    tag = hashlib.sha1(" ".join([torch.__version__, *cflags]).encode()).hexdigest()[:8]
    cpp_extension.load(
        name=f"rnn_bench_fastpath_{tag}",
        sources=[str(SOURCE)],
        extra_cflags=cflags,
        extra_ldflags=["-lm"],
        is_python_module=False,
        verbose=False,
    )


def available() -> bool:
    """True when the C++ ops are loaded; builds them on the first call. False (one warning per process)
    when they cannot be built; BENCH_FASTPATH=0 in the environment turns the fast path off."""
    if _state["ok"] is not None:
        return bool(_state["ok"])
    with _lock:
        if _state["ok"] is None:
            if os.environ.get("BENCH_FASTPATH", "") == "0":
                _state["ok"] = False
                return False
            try:
                _build()
                getattr(torch.ops, _OPS).lstm_fwd  # noqa: B018 -- the ops are registered
                _state["ok"] = True
            except Exception as e:  # no compiler, failed build, missing ops: keep the Python path
                _state["ok"], _state["error"] = False, e
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                warnings.warn(
                    f"bench.fastpath: C++ fast path unavailable ({type(e).__name__}: {first[:200]}); "
                    "using the Python loops",
                    RuntimeWarning,
                    stacklevel=2,
                )
    return bool(_state["ok"])


def supports(cell: str, variant: str) -> bool:
    """Whether layer() implements this (cell, variant); says nothing about the build (see available())."""
    return variant in VARIANTS.get(cell, ())


def supports_tensor(x: Tensor) -> bool:
    """Whether layer() takes tensors like x (CPU, float32 / float64)."""
    return x.device.type == "cpu" and x.dtype in DTYPES


def _ops():
    return getattr(torch.ops, _OPS)


def clear_cache() -> int:
    """Free this thread's pool of big (T, B, G*H) work buffers (the C++ side reuses them across calls once
    nothing else holds them, to spare the page faults of fresh tens-of-MB allocations); returns how many."""
    return int(_ops().clear_pool()) if available() else 0


class _LSTMFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: int, x, w_ih, w_hh, b_ih, b_hh):
        out, acts, cs, ys = _ops().lstm_fwd(x, w_ih, w_hh, b_ih, b_hh, v)
        ctx.save_for_backward(x, w_ih, w_hh, out, acts, cs, ys)
        ctx.v = v
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        x, w_ih, w_hh, out, acts, cs, ys = ctx.saved_tensors
        need_x = ctx.needs_input_grad[1]
        dx, dw_ih, dw_hh, db = _ops().lstm_bwd(dout, x, w_ih, w_hh, out, acts, cs, ys, ctx.v, need_x)
        return None, dx if need_x else None, dw_ih, dw_hh, db, db.clone()


class _GRUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: int, x, w_ih, w_hh, b_ih, b_hh):
        out, acts, hpn = _ops().gru_fwd(x, w_ih, w_hh, b_ih, b_hh, v)
        ctx.save_for_backward(x, w_ih, w_hh, out, acts, hpn)
        ctx.v = v
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        x, w_ih, w_hh, out, acts, hpn = ctx.saved_tensors
        need_x = ctx.needs_input_grad[1]
        dx, dw_ih, dw_hh, db_ih, db_hh = _ops().gru_bwd(dout, x, w_ih, w_hh, out, acts, hpn, ctx.v, need_x)
        return None, dx if need_x else None, dw_ih, dw_hh, db_ih, db_hh


class _RNNFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: int, x, w_ih, w_hh, b_ih, b_hh):
        out = _ops().rnn_fwd(x, w_ih, w_hh, b_ih, b_hh, v)
        ctx.save_for_backward(x, w_ih, w_hh, out)
        ctx.v = v
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        x, w_ih, w_hh, out = ctx.saved_tensors
        need_x = ctx.needs_input_grad[1]
        dx, dw_ih, dw_hh, db = _ops().rnn_bwd(dout, x, w_ih, w_hh, out, ctx.v, need_x)
        return None, dx if need_x else None, dw_ih, dw_hh, db, db.clone()


_FNS = {"lstm": _LSTMFn, "gru": _GRUFn, "rnn": _RNNFn}


def layer(
    cell: str, variant: str, x: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor
) -> Tensor:
    """One recurrent layer, zero initial state: x (T, B, I) time-major -> h (T, B, H).

    Differentiable w.r.t. x and the four parameters (once: no double backward). Same function and
    parameter layout as bench.cells' explicit cells / torch.nn.{LSTM, GRU, RNN} (gates i,f,g,o / r,z,n).
    CPU float32/float64 only and needs available(); anything else raises (check supports_tensor first).
    """
    if not supports(cell, variant):
        raise ValueError(f"bench.fastpath does not implement {cell} variant {variant!r}")
    if not supports_tensor(x):
        raise ValueError(f"bench.fastpath takes CPU float32/float64 tensors, got {x.device} {x.dtype}")
    if not available():
        raise RuntimeError(f"bench.fastpath is unavailable: {_state['error']}")
    if x.dim() != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be (T, B, I) with T, B >= 1, got {tuple(x.shape)}")
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    if any(p.dtype != x.dtype or p.device != x.device for p in params):
        raise ValueError("bench.fastpath: x and the parameters must share dtype and device")
    return _FNS[cell].apply(VARIANTS[cell].index(variant), x.contiguous(), *(p.contiguous() for p in params))


def _reset_for_tests() -> None:
    _state["ok"], _state["error"] = None, None
