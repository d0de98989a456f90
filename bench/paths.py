"""Passing a path through Hydra's override grammar unchanged."""

from __future__ import annotations

import re


def hydra_quote(value: str) -> str:
    """`value` as a single-quoted Hydra override value that parses back to exactly `value`: commas, spaces,
    `=`, brackets and non-ASCII stay literal; quotes, the backslashes before a quote or at the end, and
    `${` (an interpolation) are escaped as Hydra's grammar requires."""
    s = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    s = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, s)
    return "'" + s.replace("${", "\\${") + "'"
