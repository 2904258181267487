"""Compile once, re-run with run_args (neuromod.reruns): the same results as fresh builds, one build
for many values of a run-time parameter, a new build for a new structure, and the sweep's path.

Most tests run on the runtime device (the same code path, no compiler). The cpp_standalone tests
share one module-scoped sweep (one build on one Dask worker for three values of ``w0``) and one
fresh build to compare with.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from brian2 import Hz, ms

from neuromod.device import use_device
from neuromod.errors import InputError
from neuromod.protocols import get_protocol
from neuromod.protocols.base import Protocol
from neuromod.protocols.pairing import pairing_condition, parse_rule, run_conditions
from neuromod.results import read_run
from neuromod.reruns import Reruns
from neuromod.sweep import _grouped
from neuromod.sweeps import kinds
from neuromod.sweeps.spec import load_spec

RULE = parse_rule("pair:song2000:nearest:multiplicative")
#: a tiny stdp-window: two intervals, three pairings
TINY = {"dt": "-10*ms, 10*ms", "n_pairings": 3, "rules": RULE.spec}


def _conditions(n_pairings=3):
    return [pairing_condition(dt * ms, 1 * Hz, n_pairings, 1 * ms) for dt in (-10, 10)]


def _window_spec(grid, *, seeds=(1,), device="cpp_standalone", **sweep):
    return load_spec({"sweep": {"run": "protocol stdp-window", "seeds": list(seeds), "device": device, **sweep},
                      "parameters": {k: v for k, v in TINY.items() if k not in grid}, "grid": grid})


# ------------------------------------------------------------------------------ no compiler


@pytest.mark.runtime
def test_reruns_give_the_results_of_fresh_runs_with_one_build(tmp_path):
    models = {RULE.spec: RULE.synapse_model(w_max=2.0)}
    reruns = Reruns()
    try:
        reran = {w0: run_conditions(_conditions(), models, time_step=1 * ms, w0=w0, seed=1, reruns=reruns)
                 for w0 in (0.5, 1.5, 1.0)}
        assert (reruns.builds, reruns.reruns, reruns.current.runs) == (1, 2, 3)
        assert "rerun_s" in reran[1.5].timings_s and "rerun_s" not in reran[0.5].timings_s
        # another structure (more pairings) is built, not re-run
        run_conditions(_conditions(4), models, time_step=1 * ms, w0=1.0, seed=1, reruns=reruns)
        assert (reruns.builds, reruns.reruns) == (2, 2)
    finally:
        reruns.close()
    for w0, run in reran.items():
        fresh = run_conditions(_conditions(), models, time_step=1 * ms, w0=w0, seed=1)
        np.testing.assert_array_equal(run.w_end[RULE.spec], fresh.w_end[RULE.spec])
        np.testing.assert_array_equal(run.dw_rel[RULE.spec], fresh.dw_rel[RULE.spec])


def test_a_build_reset_by_other_brian2_code_is_dropped_not_rerun(tmp_path):
    reruns = Reruns()
    with reruns.build("key", "cpp_standalone", build_dir=tmp_path / "b", seed=1):
        pass  # nothing built: only the open device block is kept
    assert reruns.find("key") is not None and reruns.find("other") is None
    with use_device("runtime"):  # any other use of Brian2 resets its device
        pass
    assert reruns.find("key") is None and reruns.current is None


def test_rerun_needs_a_device_that_can(tmp_path):
    with pytest.raises(InputError, match="re-running a build needs a device"):
        with Reruns().build("key", "cuda_standalone", build_dir=tmp_path):
            pass


def test_a_protocol_declares_run_time_parameters_it_has():
    window = get_protocol("stdp-window")
    assert window.run_time == ("w0",)
    params = window.parameters({})
    assert window.structure(params) == window.structure({**params, "w0": 1.5})
    assert window.structure(params) != window.structure({**params, "n_pairings": 7})
    with pytest.raises(ValueError, match="not among its parameters"):
        Protocol(name="x", summary="x", defaults={"a": 1}, run=lambda p, c: None, run_time=("b",))


def test_rerun_groups_and_the_order_of_submission():
    spec = _window_spec({"w0": [0.5, 1.5], "n_pairings": [3, 4]}, seeds=(1, 2))
    points = spec.points()
    groups = [kinds.rerun_group(spec, p) for p in points]
    # one group per (n_pairings, seed): the w0 values of one group share a build
    assert len(set(groups)) == 4 and all(groups)
    by_group = {}
    for p, g in zip(points, groups):
        by_group.setdefault(g, set()).add(p.overrides["w0"])
    assert all(len(values) == 2 for values in by_group.values())
    todo = [(str(n), p, Path(str(n))) for n, p in enumerate(points)]
    ordered = [kinds.rerun_group(spec, p) for _, p, _ in _grouped(spec, todo)]
    assert [g for n, g in enumerate(ordered) if n == 0 or g != ordered[n - 1]] == list(dict.fromkeys(groups))
    # no shared builds: on runtime, with rerun = false, for a protocol without run-time parameters
    for other in (_window_spec({"w0": [0.5]}, device="runtime"), _window_spec({"w0": [0.5]}, rerun=False),
                  _window_spec({"w0": [0.5]}, reuse_build=False)):
        assert kinds.rerun_group(other, other.points()[0]) is None
        assert _grouped(other, todo) is todo
    with pytest.raises(InputError, match="rerun must be true or false"):
        _window_spec({"w0": [0.5]}, rerun="yes")


def test_the_example_spec_shares_one_build_per_pairing_count():
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "sweeps" / "stdp_window_w0_cpp.toml")
    groups = {kinds.rerun_group(spec, p) for p in spec.points()}
    assert len(spec.points()) == 10 and len(groups) == 2 and None not in groups


# ------------------------------------------------------------------------------ cpp_standalone


@pytest.fixture(scope="module")
def window_sweep(tmp_path_factory):
    """Three values of w0 swept on one Dask worker (the sweep's path), and a fresh build of a value
    the worker re-ran: the table, the sweep's run folders by w0, the fresh run folder."""
    distributed = pytest.importorskip("distributed")
    from neuromod import sweep

    base = tmp_path_factory.mktemp("rerun")
    spec = _window_spec({"w0": [0.5, 1.0, 1.5]})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        table = sweep.run(spec, base / "sweep", client, progress=False, echo=lambda _: None)
    folders = {float(read_run(f)["result"]["parameters"]["w0"]): f
               for f in (base / "sweep" / "runs" / rid for rid in table["run_id"])}
    reran = [w0 for w0, f in folders.items() if "rerun_s" in read_run(f)["result"]["metrics"]["timings_s"]]
    fresh = _window_spec({"w0": [max(reran, default=1.5)]}, reuse_build=False)
    kinds.run_one(fresh, fresh.points()[0], base / "fresh")
    return table, folders, base / "fresh"


def _annotations(neo_object) -> dict:
    """A Neo object's annotations but the random name NixIO gives it."""
    return {k: v for k, v in neo_object.annotations.items() if k != "nix_name"}


@pytest.mark.cpp_standalone
def test_the_sweep_compiles_once_for_several_values(window_sweep):
    table, folders, _ = window_sweep
    assert (table["status"] == "done").all() and sorted(folders) == [0.5, 1.0, 1.5]
    timings = {w0: read_run(f)["result"]["metrics"]["timings_s"] for w0, f in folders.items()}
    built = [w0 for w0, t in timings.items() if "build_s" in t]
    reran = [w0 for w0, t in timings.items() if "rerun_s" in t and "build_s" not in t]
    assert len(built) == 1 and len(reran) == 2  # one worker: one build, two re-runs of its binary
    for folder in folders.values():
        assert not (folder / "build").exists()


@pytest.mark.cpp_standalone
def test_a_rerun_writes_the_run_folder_of_a_fresh_build(window_sweep):
    from neuromod.analysis import load

    _, folders, fresh_folder = window_sweep
    fresh = read_run(fresh_folder)["result"]
    folder = folders[float(fresh["parameters"]["w0"])]
    again = read_run(folder)["result"]
    assert "rerun_s" in again["metrics"]["timings_s"]  # this one re-ran the binary
    assert again["conditions"] == fresh["conditions"]  # every dw_rel, exactly
    assert {k: v for k, v in again["metrics"].items() if k != "timings_s"} == \
        {k: v for k, v in fresh["metrics"].items() if k != "timings_s"}
    assert again["parameters"] == fresh["parameters"] and sorted(again["files"]) == sorted(fresh["files"])
    nix_again, nix_fresh = load(folder / "data.nix"), load(fresh_folder / "data.nix")
    assert _annotations(nix_again) == _annotations(nix_fresh)
    for a, b in zip(nix_again.segments, nix_fresh.segments, strict=True):
        assert _annotations(a) == _annotations(b)  # the condition's dw_rel under the rule among them
        for train_a, train_b in zip(a.spiketrains, b.spiketrains, strict=True):
            np.testing.assert_array_equal(train_a.magnitude, train_b.magnitude)
