"""Shared test setup: small, deterministic, and light on the 2 CPU cores."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield
