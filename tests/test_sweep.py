"""Sweeps on Dask (neuromod.sweep): the table, resuming, a killed worker, bad SPECs, the plot.

The runs use the test-only ``toy`` protocol (tests/toy_protocol.py); the Dask workers are
separate processes, so the SPEC registers it there (``[sweep] path`` and ``[sweep.protocols]``).
One LocalCluster of 2 single-threaded processes serves the tests of this file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neuromod.cli import app
from neuromod.errors import InputError
from neuromod.protocols import PROTOCOL_MODULES
from neuromod.results import read_run
from neuromod.sweeps import kinds
from neuromod.sweeps.ids import run_id
from neuromod.sweeps.plot import mean_interval, plot_sweep
from neuromod.sweeps.spec import load_spec, parse_spec
from neuromod.sweeps.tables import build_table

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(PROTOCOL_MODULES, "toy", "toy_protocol")
    return "toy"


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as c:
        yield c


def toy_spec(grid, seeds=(1,), **sweep):
    return {"sweep": {"run": "protocol toy", "seeds": list(seeds), "path": [str(TESTS)],
                      "protocols": {"toy": "toy_protocol"}, **sweep},
            "parameters": {"duration": "20*ms"}, "grid": grid}


def _complete_folders(runs: Path) -> dict[str, str]:
    """run id -> start time in its config.json, for every complete run folder."""
    out = {}
    for folder in runs.iterdir():
        if not folder.name.startswith(".") and (folder / "result.json").is_file():
            out[folder.name] = read_run(folder)["config"]["started"] + str((folder / "result.json").stat().st_mtime_ns)
    return out


@pytest.mark.runtime
def test_grid_gives_one_row_per_run_failures_recorded_and_resume_skips(tmp_path, toy, client, capsys):
    from neuromod import sweep

    spec = toy_spec({"n": [2, 3], "rate": ["50*Hz", "-5*Hz"]})
    messages = []
    table = sweep.run(spec, tmp_path / "s", client, progress=False, echo=messages.append)
    assert len(table) == 4 and table["run_id"].is_unique
    assert list(table.columns[:3]) == ["run_id", "n", "rate"]
    done, failed = table[table.status == "done"], table[table.status == "failed"]
    assert sorted(done["rate"]) == ["50*Hz", "50*Hz"] and sorted(failed["rate"]) == ["-5*Hz", "-5*Hz"]
    assert all("rate must be >= 0 Hz" in e for e in failed["error"])  # its one line, and the sweep went on
    assert done["mean_rate_hz"].notna().all() and done["worker"].str.startswith("tcp://").all()
    for rid in done["run_id"]:
        assert read_run(tmp_path / "s" / "runs" / rid)["result"]["kind"] == "protocol"
    assert not any((tmp_path / "s" / "runs" / rid).exists() for rid in failed["run_id"])
    stored = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert stored["run_id"].tolist() == table["run_id"].tolist()
    import xarray as xr

    ds = xr.open_zarr(tmp_path / "s" / "results.zarr")
    assert ds["count"].dims == ("n", "rate", "seed", "condition") and ds["n"].values.tolist() == [2, 3]
    record = read_run(tmp_path / "s")["result"]
    assert record["kind"] == "sweep" and record["metrics"]["n_failed"] == 2
    before = _complete_folders(tmp_path / "s" / "runs")

    messages.clear()
    again = sweep.run(spec, tmp_path / "s", client, progress=False, echo=messages.append)
    assert "skipping 2 of 4 runs" in messages[0]
    assert again.set_index("run_id").loc[done["run_id"], "reused"].all()
    assert _complete_folders(tmp_path / "s" / "runs") == before  # not run again


@pytest.mark.slow  # ~30 s: two worker start-ups and four 1 s runs
@pytest.mark.runtime
def test_a_killed_worker_loses_nothing(tmp_path, toy, client):
    from neuromod import sweep

    spec = toy_spec({"n": [2, 3, 4, 5]})
    spec["parameters"]["duration"] = "1*s"  # long enough to be killed mid-run
    runs = tmp_path / "s" / "runs"
    pids = client.run(os.getpid)
    finished_at_kill: dict[str, str] = {}

    def kill_one_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if runs.is_dir() and _complete_folders(runs):
                busy = [w for w, keys in client.processing().items() if keys and w in pids]
                if busy:
                    finished_at_kill.update(_complete_folders(runs))
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    table = sweep.run(spec, tmp_path / "s", client, progress=False, echo=lambda _: None)
    killer.join()
    assert finished_at_kill, "no worker was killed"
    assert len(table) == 4 and (table["status"] == "done").all(), table[["status", "error"]]
    after = _complete_folders(runs)
    assert {k: after[k] for k in finished_at_kill} == finished_at_kill  # finished runs were not run again
    visible = [f for f in runs.iterdir() if not f.name.startswith(".")]
    assert len(visible) == 4 and all((f / "result.json").is_file() for f in visible)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


BAD_SPECS = [
    ('[sweep]\nrun = "simulate toy"\n[grid]\nn = [1]\n', "unknown run kind 'simulate'"),
    ('[sweep]\nrun = "protocol nope"\n[grid]\nn = [1]\n', "unknown protocol 'nope'"),
    ('[sweep]\nrun = "protocol toy"\n[grid]\nnn = [1, 2]\n', "unknown parameter 'nn'"),
    ('[sweep]\nrun = "protocol toy"\n[parameters]\nwidth = 3\n', "unknown parameter 'width'"),
    ('[sweep]\nrun = "protocol toy"\n[grid]\n', "[grid] is empty"),
    ('[sweep]\nrun = "protocol toy"\n[grid]\nn = []\n', "[grid] 'n' has no values"),
    ('[sweep]\nrun = "protocol toy"\nseeds = [1, 2.5]\n[grid]\nn = [1]\n', "seeds must be integers"),
    ('[sweep]\nrun = "protocol toy"\nseeds = ["one"]\n[grid]\nn = [1]\n', "seeds must be integers"),
    ('[sweep]\nrun = "protocol toy"\nseeds = [-1]\n[grid]\nn = [1]\n', "seeds must be integers"),
    ('[sweep]\nrun = "train no-such-task"\n', "no-such-task"),
    ('[sweep\nrun = "protocol toy"\n', "is not valid TOML"),
    ('[sweep]\nrun = "protocol toy"\n[grids]\nn = [1]\n', "unknown table(s) grids"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_a_bad_spec_is_one_line_exit_2_before_anything_starts(tmp_path, toy, text, message, monkeypatch):
    import distributed

    monkeypatch.setattr(distributed, "LocalCluster", None)  # starting a cluster would fail loudly
    result = CliRunner().invoke(app, ["sweep", str(_write(tmp_path, text)), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_run_kinds_of_other_modules_say_when_they_are_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(kinds.ENTRY_POINTS, "spike-twin", ("neuromod.no_such_module", "run"))
    with pytest.raises(InputError, match="spike-twin runs are not available yet"):
        load_spec({"sweep": {"run": "spike-twin runs/x"}})
    monkeypatch.setitem(kinds.ENTRY_POINTS, "analyze", ("neuromod.errors", "no_such_function"))
    with pytest.raises(InputError, match="analyze runs are not available yet"):
        load_spec({"sweep": {"run": "analyze runs/x"}})


def test_spike_twin_and_analyze_parameters_are_checked_and_typed():
    pytest.importorskip("neuromod.models.spiking_twin_run")
    with pytest.raises(InputError, match="unknown parameter 'nope' for spike-twin run"):
        load_spec({"sweep": {"run": "spike-twin runs/x"}, "grid": {"nope": [1]}})
    assert load_spec({"sweep": {"run": "spike-twin runs/x"}, "grid": {"per_unit": [5, 10]}}).varied == ["per_unit"]
    assert kinds._typed("spike-twin", {"per_unit": "5", "rate_scale_hz": "40", "neuron": "lif"}) == \
        {"per_unit": 5, "rate_scale_hz": 40, "neuron": "lif"}
    assert "what" in kinds.entry_defaults("analyze")


def test_run_ids_are_stable_and_distinct(toy):
    spec = load_spec(toy_spec({"n": [2, 3]}, seeds=(1, 2)))
    ids = [run_id(spec, p) for p in spec.points()]
    assert len(set(ids)) == 4
    assert ids == [run_id(load_spec(toy_spec({"n": [2, 3]}, seeds=(1, 2))), p) for p in spec.points()]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_points_list_and_yaml(tmp_path, toy):
    path = tmp_path / "spec.yaml"
    path.write_text("sweep:\n  run: protocol toy\n  seeds: [3]\npoints:\n  - {n: 2}\n  - {n: 5, rate: 10*Hz}\n")
    spec = load_spec(path)
    assert [dict(p.overrides) for p in spec.points()] == [{"n": "2"}, {"n": "5", "rate": "10*Hz"}]
    assert spec.varied == ["n", "rate"]


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_slurm_cluster_job_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from neuromod.sweeps.execute import slurm_cluster

    spec = parse_spec({"sweep": {"run": "protocol toy"},
                       "slurm": {"queue": "short", "cores": 2, "memory": "4GB", "walltime": "00:10:00",
                                 "account": "lab"}})
    with slurm_cluster(spec.slurm) as cluster:  # builds the script; submits nothing
        script = cluster.job_script()
    assert "#SBATCH -p short" in script and "#SBATCH -t 00:10:00" in script and "#SBATCH -A lab" in script
    assert "#SBATCH --cpus-per-task=2" in script and "--nworkers 2" in script
    with pytest.raises(InputError, match="walltime"):
        slurm_cluster({"queue": "q", "cores": 1, "memory": "1GB"})


def test_mean_interval_is_the_t_interval():
    mean, low, high, n = mean_interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653; s = 1; half width 4.302653 / sqrt(3)
    assert (mean, n) == (2.0, 3) and high - mean == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert mean_interval([5.0])[:3] == (5.0, 5.0, 5.0)


def test_sweep_plot_writes_a_figure(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    rows = [{"run_id": f"r{i}{s}", "frequency": f"{f}*Hz", "n": n, "seed": s, "status": "done", "y": f * n + s}
            for i, (f, n) in enumerate([(1, 10), (5, 10), (1, 30), (5, 30)]) for s in (1, 2, 3)]
    rows.append({"run_id": "bad", "frequency": "5*Hz", "n": 10, "seed": 4, "status": "failed", "y": float("nan")})
    pd.DataFrame(rows).to_parquet(folder / "results.parquet")
    result = CliRunner().invoke(app, ["sweep-plot", str(folder), "x=frequency", "y=y", "hue=n"])
    assert result.exit_code == 0, result.output
    assert (folder / "y_vs_frequency_by_n.png").stat().st_size > 1000
    assert plot_sweep(folder, x="n", y="y", name="n.png").name == "n.png"
    bad = CliRunner().invoke(app, ["sweep-plot", str(folder), "x=frequency", "y=nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.stderr
    assert not list(folder.glob(".*"))  # nothing half written


@pytest.mark.runtime
def test_sweep_record_lists_the_spec(tmp_path, toy, client):
    pytest.importorskip("distributed")
    from neuromod import sweep

    spec = toy_spec({"n": [2]}, seeds=(1, 2))
    sweep.run(spec, tmp_path / "s", client, progress=False, echo=lambda _: None)
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["kind"] == "sweep" and config["parameters"]["grid"] == {"n": ["2"]}
    assert config["parameters"]["seeds"] == [1, 2]


@pytest.mark.slow  # four C++ builds
@pytest.mark.cpp_standalone
def test_a_reused_build_folder_gives_the_results_of_fresh_builds(tmp_path, toy):
    spec = load_spec(toy_spec({"rate": ["50*Hz", "80*Hz"]}, seeds=(1,), device="cpp_standalone"))
    fresh = load_spec(toy_spec({"rate": ["50*Hz", "80*Hz"]}, seeds=(1,), device="cpp_standalone", reuse_build=False))
    rates = {}
    for which, s in (("reused", spec), ("fresh", fresh)):
        for n, point in enumerate(s.points()):
            kinds.run_one(s, point, tmp_path / which / str(n))
            rates[which, n] = read_run(tmp_path / which / str(n))["result"]["metrics"]["mean_rate_hz"]
            assert not (tmp_path / which / str(n) / "build").exists()
    assert kinds.worker_build_dir("toy", "cpp_standalone").is_dir()  # the reused folder, kept for the next run
    assert rates["reused", 0] == rates["fresh", 0] and rates["reused", 1] == rates["fresh", 1]
    assert rates["reused", 0] != rates["reused", 1]


def test_a_metric_named_like_a_table_column_keeps_its_value_beside_it():
    """A training run's result holds its own ``wall_time_s``: the table keeps the sweep's in the
    column and the run's under ``metrics.wall_time_s`` (one column each, so Parquet can write it)."""
    rows = [{"run_id": "a", "parameters": {"lr": 0.1}, "seed": 1, "status": "done", "error": None,
             "wall_time_s": 12.5, "worker": "w", "reused": False,
             "result": {"metrics": {"wall_time_s": 10.0, "lr": 3.0, "score": 0.9}}}]
    table = build_table(rows, ["lr"])
    assert list(table.columns).count("wall_time_s") == 1 and table.columns.is_unique
    assert table.loc[0, "wall_time_s"] == 12.5 and table.loc[0, "metrics.wall_time_s"] == 10.0
    assert table.loc[0, "lr"] == 0.1 and table.loc[0, "metrics.lr"] == 3.0 and table.loc[0, "score"] == 0.9
