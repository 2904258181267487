"""Progress of Brian2 runs (neuromod.progress through neuromod.device.Simulation): a line before a
long run, progress lines with the time left on stderr (never stdout), and silence without
``progress``."""

import io
import re

import pytest
from brian2 import Network, NeuronGroup, ms, second

from neuromod.device import use_device
from neuromod.progress import LONG_RUN_STEPS, ProgressReport, format_wall_time, is_long, run_size

#: a progress line: biological time done, share, wall time so far and the estimate of what is left
PROGRESS_LINE = re.compile(r"^neuromod: [0-9.e+-]+ s of 10 s simulated \(\d+%\) in .+, about .+ left$")


def _tiny_network():
    """Three leaky units, nothing else: 10 s of biological time (10^5 steps) take well under a
    second of wall time, yet the run crosses a short report period many times."""
    group = NeuronGroup(3, "dv/dt = (1 - v)/(10*ms) : 1", method="exact")
    return Network(group)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "0 s"), (12.4, "12 s"), (59.6, "1 min 00 s"), (185, "3 min 05 s"), (3725, "1 h 02 min")],
)
def test_wall_times_read_as_seconds_minutes_hours(seconds, text):
    assert format_wall_time(seconds) == text


def test_report_is_silent_for_short_runs_and_thins_its_lines():
    stream = io.StringIO()
    report = ProgressReport(period_s=1.0, stream=stream)
    report(0 * second, 0.0, 0 * second, 100 * second)
    report(0.5 * second, 0.1, 0 * second, 100 * second)  # before the first period: nothing
    assert stream.getvalue() == ""
    report(1.2 * second, 0.2, 0 * second, 100 * second)
    report(1.5 * second, 0.25, 0 * second, 100 * second)  # within a period of the last line: nothing
    report(2.4 * second, 0.5, 0 * second, 100 * second)
    report(3.0 * second, 1.0, 0 * second, 100 * second)
    assert stream.getvalue().splitlines() == [
        "neuromod: 20 s of 100 s simulated (20%) in 1 s, about 5 s left",
        "neuromod: 50 s of 100 s simulated (50%) in 2 s, about 2 s left",
        "neuromod: 100 s simulated in 3 s",
    ]
    quiet = io.StringIO()
    short = ProgressReport(period_s=1.0, stream=quiet)
    short(0 * second, 0.0, 0 * second, 1 * second)
    short(0.3 * second, 1.0, 0 * second, 1 * second)  # a run shorter than a period ends silently
    assert quiet.getvalue() == ""


@pytest.mark.runtime
def test_runtime_run_with_progress_reports_time_left_on_stderr(capfd):
    with use_device("runtime", progress=True, progress_period_s=0.005) as sim:
        network = _tiny_network()
        assert is_long(run_size(network, 10 * second)) and run_size(network, 10 * second).n_steps == LONG_RUN_STEPS
        sim.run(network, 10 * second)
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "neuromod: simulating 10 s of biological time (1e+05 steps of 0.1 ms, 3 neurons) on runtime"
    assert any(PROGRESS_LINE.match(line) for line in lines[1:-1]), err
    assert re.match(r"^neuromod: 10 s simulated in .+ s$", lines[-1]), err


@pytest.mark.runtime
def test_runtime_run_without_progress_prints_nothing(capfd):
    with use_device("runtime", progress_period_s=0.005) as sim:
        network = _tiny_network()
        sim.run(network, 10 * second)
        sim.rerun()
    assert capfd.readouterr() == ("", "")


@pytest.mark.runtime
def test_short_run_with_progress_prints_nothing(capfd):
    """Under the report period and under the long-run threshold: no line at all."""
    with use_device("runtime", progress=True) as sim:
        sim.run(_tiny_network(), 50 * ms)
    assert capfd.readouterr() == ("", "")


@pytest.mark.slow
@pytest.mark.cpp_standalone
def test_cpp_standalone_binary_reports_time_left_on_stderr(capfd, tmp_path):
    """The compiled report function prints the same lines from the binary, on its stderr."""
    with use_device("cpp_standalone", build_dir=tmp_path / "build", progress=True, progress_period_s=0.001) as sim:
        network = _tiny_network()
        sim.run(network, 10 * second)
    out, err = capfd.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("neuromod:")]
    assert lines[0] == "neuromod: simulating 10 s of biological time (1e+05 steps of 0.1 ms, 3 neurons) on cpp_standalone"
    assert any(PROGRESS_LINE.match(line) for line in lines[1:-1]), err
    assert re.match(r"^neuromod: 10 s simulated in .+ s$", lines[-1]), err


@pytest.mark.slow
@pytest.mark.cuda
def test_cuda_standalone_compiles_the_report_into_the_binary(tmp_path):
    """brian2cuda takes the same report code: it is generated into main.cu and compiles with nvcc
    (no GPU needed; running it prints as on cpp_standalone)."""
    pytest.importorskip("brian2cuda", reason="brian2cuda is not installed (pip install 'neuromod[cuda]')")
    from neuromod.device import cuda_toolchain

    chain = cuda_toolchain()
    if not chain.can_compile:
        pytest.skip(f"no CUDA compiler with curand here (nvcc {chain.nvcc}, curand {chain.curand_include})")
    build_dir = tmp_path / "cuda"
    with use_device("cuda_standalone", build_dir=build_dir, progress=True, compile_only=True) as sim:
        sim.run(_tiny_network(), 10 * second)
    assert 'std::cerr << "neuromod: " << completed * duration' in (build_dir / "main.cu").read_text()
    assert (build_dir / "main").is_file()
