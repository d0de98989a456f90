"""Shared test setup: small, deterministic, and light on the 2 CPU cores."""

import pytest
import torch

WORKERS = 2  # the CI machine's cores


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """`pytest` runs on two xdist workers, one test file per worker (its module fixtures, a synthetic
    study or a report, are built once): the tests are single-threaded (one torch thread, below), so two
    halve the suite's time on two cores. Not for benchmarks (they time one process alone), nor when -n is
    given (-n 0: one process), nor inside a worker, nor without pytest-xdist."""
    opt = config.option
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if opt.numprocesses is None and not getattr(opt, "benchmark_only", False) and not opt.collectonly:
        opt.numprocesses, opt.dist = WORKERS, "loadfile"


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    # An in-process sweep sets cores // jobs torch threads and leaves them set: every test starts at one.
    torch.set_num_threads(1)
    yield


# Unit tests use tiny models: one thread is as fast, and it avoids OpenMP spin-waiting when other
# processes (a parallel launcher's workers, a benchmark) share the two cores.
torch.set_num_threads(1)


@pytest.fixture
def text_report(monkeypatch):
    """In-process sweeps of this test build their report without figures: drawing is most of a tiny
    sweep's time, and the figures are tested where they are made (test_report, test_store_reliability)."""
    from tests.util import text_only

    text_only(monkeypatch)
