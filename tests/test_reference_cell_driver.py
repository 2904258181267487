"""The driver that times the public reference SGRU cell (benchmarks/reference_cell.py): its argument
checks (a missing peer folder is one line on stderr and exit status 2), its result on a stand-in cell
with the peer's interface (written here, so the driver's logic is checked where the peer's code is
absent), out of memory reported as a result, and, where the peer's code has been fetched into
``.carry/peer`` (never committed, so not in CI), a tiny timing of the real cell.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from neuromod.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "reference_cell.py"
PEER = ROOT / ".carry" / "peer"
TINY = {"batch": 2, "hidden": 8, "input_size": 3, "steps": 4, "device": "cpu", "repeats": 2}

# A stand-in with the peer cell's interface: constructor (input_dim, hidden_dim, activation, mod_rank),
# get_init_states(batch_size, device) -> h, v, dU, (e, E), and forward(x, h, v, dU, trace) over the
# first axis returning v, h, dU, trace, the stacked rates, the stacked dU and the modulatory signals.
STAND_IN_CELL = '''
import torch
from activations import relu
from dropouts import nothing


class SGRUCell(torch.nn.Module):
    def __init__(self, input_dim, hidden_dim, activation, mod_rank, inits=None, clip_val=1.0, bias=True):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.x2h = torch.nn.Linear(input_dim, hidden_dim)
        self.alpha = torch.nn.Parameter(0.1 * torch.ones(1))
        print("printed while building")  # must not reach the JSON on stdout

    def get_init_states(self, batch_size, device):
        n = self.hidden_dim
        zeros = lambda *shape: torch.zeros(*shape).to(device)
        return zeros(batch_size, n), zeros(batch_size, n), zeros(batch_size, n, n), (zeros(batch_size, n),
                                                                                       zeros(batch_size, n, n))

    def forward(self, x, h, v, dU, trace):
        rates, dUs = [], []
        for c in range(x.shape[0]):
            v = 0.5 * v + self.x2h(x[c]) + torch.bmm(self.alpha * dU, h.unsqueeze(2)).squeeze(2)
            new_h = relu(v)
            dU = 0.9 * dU + torch.bmm(new_h.unsqueeze(2), h.unsqueeze(1))
            h = new_h
            rates.append(h)
            dUs.append(dU)
        return v, h, dU, trace, torch.stack(rates), torch.stack(dUs), None
'''


def _load():
    spec = importlib.util.spec_from_file_location("reference_cell_driver", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def bench():
    return _load()


@pytest.fixture(autouse=True)
def _forget_peer_modules():
    """The peer's modules import each other by bare name: forget them around each test (stand-in vs real)."""
    names = ("modulated_AC", "activations", "dropouts")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    yield
    for name in names:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


@pytest.fixture()
def stand_in(tmp_path):
    folder = tmp_path / "peer"
    folder.mkdir()
    (folder / "modulated_AC.py").write_text(STAND_IN_CELL)
    (folder / "activations.py").write_text("import torch\nrelu = torch.relu\n")
    (folder / "dropouts.py").write_text("nothing = None\n")
    return folder


# ------------------------------------------------------------------------------ argument checking


def test_missing_peer_folder_is_one_line_and_exit_2(bench, tmp_path, capsys):
    assert bench.main(["--peer", str(tmp_path / "absent"), "--steps", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "peer folder" in lines[0] and "--peer" in lines[0]
    assert "slenderham/L2L-w-Plasticity" in lines[0]


def test_missing_peer_folder_from_the_command_line(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--peer", str(tmp_path / "absent")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stdout == "" and len(run.stderr.strip().splitlines()) == 1


def test_peer_folder_without_the_sibling_modules(bench, tmp_path, capsys):
    (tmp_path / "modulated_AC.py").write_text("")
    assert bench.main(["--peer", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "activations.py, dropouts.py" in err[0]


@pytest.mark.parametrize("change", [{"batch": 0}, {"steps": -1}, {"repeats": 0}, {"hidden": 2.5},
                                    {"device": "tpu"}, {"dtype": "float16"}])
def test_bad_arguments_are_input_errors(bench, stand_in, change):
    with pytest.raises(InputError):
        bench.time_reference_cell(stand_in, **{**TINY, **change})


def test_cuda_without_a_gpu_is_an_input_error(bench, stand_in):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present here")
    with pytest.raises(InputError, match="no CUDA device"):
        bench.time_reference_cell(stand_in, **{**TINY, "device": "cuda"})


# ------------------------------------------------------------------------------ the driver's result


def _check_result(result, sizes):
    assert result["error"] is None
    assert len(result["times_s"]) == sizes["repeats"] and all(t > 0 for t in result["times_s"])
    assert result["time_s"] == statistics.median(result["times_s"])
    assert result["warmup_s"] > 0 and result["peak_gb"] > 0
    assert result["peak_kind"] == "cpu_vmhwm" and isinstance(result["peak_reset"], bool)
    assert result["variant"] == "src/modulated_AC.py:SGRUCell"
    assert result["repository"] == "slenderham/L2L-w-Plasticity"
    for key in ("batch", "hidden", "steps", "input_size", "repeats", "device"):
        assert result[key] == sizes[key]


def test_stand_in_cell_is_timed(bench, stand_in):
    result = bench.time_reference_cell(stand_in, **TINY)
    _check_result(result, TINY)
    assert len(result["peer_sha256"]) == 64
    assert not (stand_in / "__pycache__").exists()  # the peer's folder is left as it was


def test_command_line_prints_and_writes_the_json(bench, stand_in, tmp_path, capsys):
    out_file = tmp_path / "res" / "reference_cell.json"
    argv = ["--peer", str(stand_in), "--batch", "2", "--hidden", "8", "--input", "3", "--steps", "4",
            "--repeats", "1", "--out", str(out_file)]
    assert bench.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)  # what the cell prints went to stderr
    assert printed == json.loads(out_file.read_text())
    assert printed["error"] is None and printed["steps"] == 4 and len(printed["times_s"]) == 1


def test_out_of_memory_is_a_result(bench, stand_in, monkeypatch):
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError

    def fails(*args, **kwargs):
        raise oom("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(bench, "_train_step", fails)
    result = bench.time_reference_cell(stand_in, **TINY)
    assert result["error"] == "out of memory at B 2, N 8, T 4 (warm-up, cpu)"
    assert result["time_s"] is None and result["times_s"] == []


def test_other_failures_are_not_hidden(bench, stand_in, monkeypatch):
    def fails(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(bench, "_train_step", fails)
    with pytest.raises(ValueError, match="a bug"):
        bench.time_reference_cell(stand_in, **TINY)


# ------------------------------------------------------------------------------ the real peer cell


@pytest.mark.skipif(not (PEER / "modulated_AC.py").is_file(),
                    reason="the peer's code is not here: .carry/peer is never committed (clone "
                           "github.com/slenderham/L2L-w-Plasticity and copy its src/ there to run this)")
def test_peer_cell_tiny_timing(bench):
    sizes = {"batch": 2, "hidden": 16, "input_size": 4, "steps": 5, "device": "cpu", "repeats": 2}
    result = bench.time_reference_cell(PEER, **sizes)
    _check_result(result, sizes)
    assert result["time_s"] < 5.0 and result["mod_rank"] == 16 and result["activation"] == "relu"
