"""Shared test setup: small, deterministic, and light on the 2 CPU cores."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    # An in-process sweep sets cores // jobs torch threads and leaves them set: every test starts at one.
    torch.set_num_threads(1)
    yield


# Unit tests use tiny models: one thread is as fast, and it avoids OpenMP spin-waiting when other
# processes (a parallel launcher's workers, a benchmark) share the two cores.
torch.set_num_threads(1)
