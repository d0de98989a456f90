"""RNN / LSTM / GRU benchmark-and-ablation harness: cells, training, sweeps, report."""

from bench.results import Results, load_results

__all__ = ["Results", "load_results"]
