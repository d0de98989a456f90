"""The sweep plan cache (bench/plancache.py): a rerun of a planned grid composes nothing, and any change
to the command line, conf/ or the code plans afresh."""

from __future__ import annotations

import bench.sweep as bs
from bench import plancache
from tests.util import TINY


def grid(tmp_path):
    return ["sweep=none", "task=recall", "cell=rnn,gru", *TINY, "seed=0,1", f"results_dir={tmp_path}"]


def test_a_second_plan_of_the_same_grid_comes_from_the_cache(tmp_path, monkeypatch):
    first = bs.plan(grid(tmp_path))
    assert not first.problems and len(first.specs) == 4

    def boom(*a, **k):
        raise AssertionError("composed again although the plan is cached")

    monkeypatch.setattr(bs, "compose_many", boom)
    monkeypatch.setattr(bs, "compose", boom)
    again = bs.plan(grid(tmp_path))
    assert [j.run_id for j in again.specs] == [j.run_id for j in first.specs]
    assert [j.settings for j in again.specs] == [j.settings for j in first.specs]
    assert again.jobs == first.jobs


def test_the_cache_key_changes_with_the_command_line_and_the_config_files(tmp_path, monkeypatch):
    args = grid(tmp_path)
    key = plancache.plan_key(args)
    assert plancache.plan_key([*args, "train.lr=0.01"]) != key
    extra = plancache.CONF_DIR / "sweep" / "_test_only.yaml"
    try:
        extra.write_text("# @package _global_\n")
        assert plancache.plan_key(args) != key  # a new or edited file under conf/ plans afresh
    finally:
        extra.unlink()
    assert plancache.plan_key(args) == key


def test_an_invalid_grid_is_never_cached(tmp_path):
    bad = [*grid(tmp_path), "train.lr=-1"]
    assert bs.plan(bad).problems
    assert plancache.load(tmp_path, plancache.plan_key(bs._normalise(bad))) is None
