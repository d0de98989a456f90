"""Intervals over seeds that respect each variable's range, vectorised over groups, and exact paired tests
(no scipy): Student-t for unbounded means, t on the log for positive quantities (losses and loss ratios,
back-transformed: never below 0), Wilson for solve rates and for mean accuracies (never outside [0, 1]);
the exact sign test and Wilcoxon signed-rank test for seeds paired across arms."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache

import numpy as np
import pandas as pd

# 0.975 quantile of Student's t for 1..30 degrees of freedom (n = 2..31 seeds). Checked against a numerical
# integration of the t density; used when scipy is absent (it is not a dependency of this project).
_T975 = (
    12.7062,
    4.3027,
    3.1824,
    2.7764,
    2.5706,
    2.4469,
    2.3646,
    2.3060,
    2.2622,
    2.2281,
    2.2010,
    2.1788,
    2.1604,
    2.1448,
    2.1314,
    2.1199,
    2.1098,
    2.1009,
    2.0930,
    2.0860,
    2.0796,
    2.0739,
    2.0687,
    2.0639,
    2.0595,
    2.0555,
    2.0518,
    2.0484,
    2.0452,
    2.0423,
)
_Z975 = 1.959963984540054
FLOOR = 1e-12  # a loss (ratio) of exactly 0 is floored here before taking its log


@cache
def t975(dof: int) -> float:
    """The 0.975 quantile of Student's t with `dof` degrees of freedom (two-sided 95%)."""
    if dof < 1:
        return float("nan")
    try:
        from scipy import stats  # optional: used when the environment has it
    except ImportError:
        stats = None
    if stats is not None:
        return float(stats.t.ppf(0.975, dof))
    if dof <= len(_T975):
        return _T975[dof - 1]
    # Cornish-Fisher expansion around the normal quantile: within 1e-4 of the exact value for dof > 30.
    z, v = _Z975, float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_ci(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    """Per group of `keys`: n (finite values), mean, std, and the 95% t-interval lo/hi (NaN when n < 2)."""
    x = pd.to_numeric(df[col], errors="coerce").replace([np.inf, -np.inf], np.nan)
    g = x.groupby([df[k] for k in keys], dropna=False, sort=True)
    out = g.agg(["count", "mean", "std"]).rename(columns={"count": "n"})
    t = out["n"].map(lambda n: t975(int(n) - 1) if n >= 2 else np.nan).astype(float)
    half = t * out["std"] / np.sqrt(out["n"].clip(lower=1))
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    out.index.names = keys
    return out


def wilson(k: float, n: float, z: float = _Z975) -> tuple[float, float]:
    """Wilson's 95% score interval for k successes in n trials (NaN when n = 0); always inside [0, 1]."""
    if not n or n <= 0 or not math.isfinite(k):
        return math.nan, math.nan
    p, z2 = k / n, z * z
    d = 1 + z2 / n
    c = (p + z2 / (2 * n)) / d
    h = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / d
    return (0.0 if k <= 0 else max(0.0, c - h)), (1.0 if k >= n else min(1.0, c + h))


def log_ci(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    """Per group, for a positive quantity (a loss, a loss ratio): n, the geometric mean, `std` of the log,
    and the 95% t-interval of the mean log back-transformed (lo > 0 always; NaN when n < 2). Values <= 0
    are floored at FLOOR (a loss of exactly 0), infinite ones left out."""
    x = pd.to_numeric(df[col], errors="coerce").replace([np.inf, -np.inf], np.nan)
    out = mean_ci(df.assign(_log=np.log(x.clip(lower=FLOOR))), keys, "_log")
    for c in ("mean", "lo", "hi"):
        out[c] = np.exp(out[c])
    return out


def wilson_mean(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    """Per group, for a quantity in [0, 1] (an accuracy): n, mean, std, and Wilson's interval for the mean
    with the n seeds as the trials. A mean of n values in [0, 1] has variance at most p(1-p)/n
    (Bhatia-Davis), the binomial one, so the interval is conservative and never leaves [0, 1]."""
    out = mean_ci(df, keys, col)
    pairs = zip(out["mean"], out["n"], strict=True)
    lo_hi = [wilson(m * n, n) if n >= 2 else (math.nan, math.nan) for m, n in pairs]
    out["lo"] = [a for a, _ in lo_hi]
    out["hi"] = [b for _, b in lo_hi]
    return out


def sign_test(n_plus: int, n_minus: int) -> float:
    """Exact two-sided sign test (binomial, p = 1/2) of n_plus against n_minus non-zero differences."""
    n = n_plus + n_minus
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(n_plus, n_minus) + 1)) / 2**n
    return min(1.0, 2 * tail)


def wilcoxon(d: Iterable[float]) -> tuple[float, int, float]:
    """Exact two-sided Wilcoxon signed-rank test of paired differences `d`: (W+, n, p). Zeros and NaN are
    dropped; tied |d| get their average rank (the exact null distribution then counts half ranks); an
    infinite difference ranks above every finite one."""
    x = pd.Series([v for v in d if not pd.isna(v) and v != 0], dtype=float)
    n = len(x)
    if n == 0:
        return 0.0, 0, 1.0
    ranks2 = (x.abs().rank(method="average") * 2).round().astype(int)  # doubled: integers
    w2 = int(ranks2[x > 0].sum())
    counts = {0: 1}  # doubled rank sum -> number of sign assignments giving it
    for r in ranks2:
        nxt = dict(counts)
        for s, c in counts.items():
            nxt[s + r] = nxt.get(s + r, 0) + c
        counts = nxt
    total = int(ranks2.sum())
    dev = abs(2 * w2 - total)  # |2 W+ - sum|, doubled ranks
    extreme = sum(c for s, c in counts.items() if abs(2 * s - total) >= dev)
    return w2 / 2, n, min(1.0, extreme / 2**n)


def min_p(n: int) -> float:
    """The smallest two-sided p either exact test can give with n paired seeds (all differences one way)."""
    return min(1.0, 2 / 2**n) if n > 0 else 1.0
