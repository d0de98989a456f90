"""Mean and 95% Student-t interval over seeds, vectorised over groups."""

from __future__ import annotations

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
