"""Benchmark driver: one training step (forward over T steps + backward) of the public reference
implementation of the gated plastic RNN, the "SGRU" cell, run with its own code unchanged.

    python benchmarks/reference_cell.py --peer PEER_DIR --device cuda --batch 32 --hidden 256 --steps 200 \\
        --repeats 3 --out reference_cell_cuda.json

The issue's goal (our rate twin at least 10x faster than this cell at B 32, N 256, T 200, forward +
backward) needs both timed in the same run on the same device: ``benchmarks/rate_twin.py`` times
ours, this driver times the peer, and :func:`time_reference_cell` lets a script do both in one process.

What is timed
-------------
The peer's cell is ``SGRUCell`` of ``src/modulated_AC.py`` in the public repository
``slenderham/L2L-w-Plasticity`` (the cell module that the repository's training scripts import, e.g.
``src/cardsort_RL.py``), chosen among that repository's variants for a scalar ``alpha``, a GRU-like
gate and a ReLU, as in our twin; its plasticity is closest to our ``modulated`` rule: a scalar ``alpha`` (through softplus) scales the fast weights ``dU`` in the potential update
``v_t = (1 - z) v_{t-1} + z (W x + (U + alpha dU) h + b)`` (with LayerNorm on the input and the
recurrent pre-activations), ``h = relu(v)``; ``dU`` decays at a
scalar learned rate and grows from an antisymmetric pre/post term ``h e^T - e h^T`` of the
(output-gated) rates and a presynaptic trace ``e``, through an eligibility matrix ``E``, and is
clipped elementwise to bounds set by ``U`` (its modulatory gates r, s, m come from a small
modulatory unit, as in our ``modulated`` rule; it has no separate e+/e- traces). Every step works
on explicit ``(B, N, N)`` matrices with ``torch.bmm``, and autograd keeps every step for backprop.

The cell is built the way the training scripts build it (``activation="relu"``, ``mod_rank`` 16 as
in the card-sorting script; the other arguments at the cell's defaults) and stepped the way they
step it: the state comes from the cell's own ``get_init_states(batch_size, device)``, and the cell's
own ``forward(x, h, v, dU, trace)`` loops over the first axis of a ``(T, B, input)`` input (the
scripts feed it trial-sized chunks and carry the state from one call to the next; one call over all
T steps is the same computation). Loss: ``sum(outputs) + sum(dU_T)`` (the stacked rates of every
step and the final fast weights), the same loss ``benchmarks/rate_twin.py`` uses for ours, then
``backward()``. Timed: from the initial state to the end of backward (``torch.cuda.synchronize``
before and after on CUDA), after one untimed warm-up step (``warmup_s``; on the CPU it is several times slower than the
next steps, which reuse the memory it first touched); reported: the median of ``repeats``
(``time_s``) and every repeat (``times_s``). Input: ``torch.randn`` with ``torch.manual_seed(seed)``
before the cell is built.

Peak memory (``peak_gb``, 1 GB = 1e9 bytes): on CUDA, ``torch.cuda.max_memory_allocated`` with the
peak statistics reset before each timed step (the largest over the repeats); on the CPU, the
process's resident-set high-water mark ``VmHWM`` from ``/proc/self/status``, reset before each timed
step through ``/proc/self/clear_refs`` where the kernel allows it (``peak_reset`` says whether it
did; without a reset the figure is the process's peak so far, imports included).

Running out of memory (CUDA, or the CPU allocator) is a result, not a crash: ``error`` holds
``"out of memory at ..."`` with the size and the phase, ``time_s`` is ``None``.

The peer's code is not part of this repository and is not shipped with it. To fetch it::

    git clone https://github.com/slenderham/L2L-w-Plasticity
    python benchmarks/reference_cell.py --peer L2L-w-Plasticity/src ...

``--peer`` names the folder that holds ``modulated_AC.py`` and the sibling modules it imports
(``activations.py``, ``dropouts.py``); the default is ``.carry/peer`` under the repository root.
Without that folder the driver says so in one line on stderr and exits with status 2.

The result is a JSON object (printed, and written to ``--out`` when given) with the keys of
:func:`time_reference_cell`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: import neuromod from it
    sys.path.insert(0, str(ROOT))

from neuromod.errors import InputError  # noqa: E402

__all__ = ["DEFAULT_PEER", "PEER_REPOSITORY", "PEER_PATH", "PEER_MODULE", "PEER_CLASS", "PEER_SIBLINGS",
           "PEER_ACTIVATION", "PEER_MOD_RANK", "DTYPES", "load_peer_cell", "time_reference_cell", "main"]

#: where the peer's files are looked for when ``--peer`` is not given (git-ignored, never committed)
DEFAULT_PEER = ROOT / ".carry" / "peer"
#: the public repository and the path in it of the cell's module
PEER_REPOSITORY = "slenderham/L2L-w-Plasticity"
PEER_PATH = "src/modulated_AC.py"
PEER_MODULE = "modulated_AC"
PEER_CLASS = "SGRUCell"
#: modules the cell's module imports from its own folder
PEER_SIBLINGS = ("activations", "dropouts")
#: how the repository's training scripts build the cell (cardsort_RL.py: activation "relu", mod_rank 16)
PEER_ACTIVATION = "relu"
PEER_MOD_RANK = 16
DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda")
SEED = 0


# --------------------------------------------------------------------------------------------------
# Loading the peer's cell
# --------------------------------------------------------------------------------------------------


def _peer_folder(peer_dir: str | os.PathLike[str]) -> Path:
    """The peer folder, checked: it exists and holds the cell's module and its siblings."""
    folder = Path(peer_dir).expanduser()
    if not folder.is_dir():
        raise InputError(f"peer folder {str(folder)!r} not found: expected a folder holding {PEER_MODULE}.py "
                         f"(the src/ folder of a clone of github.com/{PEER_REPOSITORY}); give it with --peer")
    missing = [f"{name}.py" for name in (PEER_MODULE, *PEER_SIBLINGS) if not (folder / f"{name}.py").is_file()]
    if missing:
        raise InputError(f"peer folder {str(folder)!r} lacks {', '.join(missing)}: expected the src/ folder of a "
                         f"clone of github.com/{PEER_REPOSITORY}")
    return folder.resolve()


def load_peer_cell(peer_dir: str | os.PathLike[str]) -> type:
    """Import the peer's cell class from ``peer_dir`` (its own files, unchanged) and return it.

    The folder goes first on ``sys.path`` while the module and its siblings are imported (they import
    each other by bare name), and is taken off again; no byte code is written into the folder, and
    anything the import prints goes to stderr, so that the JSON on stdout stays clean.

    Raises
    ------
    InputError
        The folder is missing, lacks a file, or a module of the same name from elsewhere shadows it.
    """
    folder = _peer_folder(peer_dir)
    names = (*PEER_SIBLINGS, PEER_MODULE)
    for name in names:  # a module of that name imported earlier from elsewhere would be reused
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve().parent != folder:
            raise InputError(f"a module named {name!r} from {getattr(loaded, '__file__', '?')} is already "
                             f"imported; expected the peer's {name}.py from {str(folder)!r}")
    saved_bytecode = sys.dont_write_bytecode
    sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True  # leave the peer's folder as it was
    try:
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module(PEER_MODULE)
    finally:
        sys.dont_write_bytecode = saved_bytecode
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
    if Path(module.__file__).resolve().parent != folder:
        raise InputError(f"imported {PEER_MODULE} from {module.__file__}; expected it from {str(folder)!r}")
    return getattr(module, PEER_CLASS)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Memory figures
# --------------------------------------------------------------------------------------------------


def _is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the CPU allocator's failure (a RuntimeError saying so)."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _free_memory(device: str) -> None:
    import gc

    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


def _check_sizes(batch: int, hidden: int, input_size: int, steps: int, repeats: int, device: str,
                 dtype: str, mod_rank: int) -> None:
    for name, value in (("batch", batch), ("hidden", hidden), ("input_size", input_size), ("steps", steps),
                        ("repeats", repeats), ("mod_rank", mod_rank)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


@contextlib.contextmanager
def _default_dtype(torch, dtype):
    """The peer builds its parameters and its zero state with torch's default dtype: set it meanwhile."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def _train_step(torch, cell, x, batch: int, device: str) -> float:
    """One training step of the peer's cell, as its training scripts run it; seconds."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    cell.zero_grad(set_to_none=True)
    sync()
    start = time.perf_counter()
    h, v, dU, trace = cell.get_init_states(batch, device)
    # forward returns v, h, dU, trace, the stacked rates, the stacked dU, (modulatory signals)
    result = cell(x, h, v, dU, trace)
    loss = result[4].sum() + result[2].sum()
    loss.backward()
    sync()
    elapsed = time.perf_counter() - start
    del result, loss, h, v, dU, trace
    return elapsed


def time_reference_cell(peer_dir: str | os.PathLike[str], *, batch: int, hidden: int, input_size: int, steps: int,
                        device: str, repeats: int, dtype: str = "float32", mod_rank: int = PEER_MOD_RANK,
                        seed: int = SEED) -> dict[str, Any]:
    """Time one training step (forward over ``steps`` steps + backward) of the peer's SGRU cell.

    Parameters
    ----------
    peer_dir
        Folder holding the peer's ``modulated_AC.py``, ``activations.py`` and ``dropouts.py``.
    batch, hidden, input_size, steps
        B, N, the input size and T.
    device
        ``"cpu"`` or ``"cuda"``.
    repeats
        Timed steps after the untimed warm-up; ``time_s`` is their median.
    dtype
        ``"float32"`` (the peer's own) or ``"float64"`` (through torch's default dtype, which the
        peer's parameters and zero state follow).
    mod_rank
        Width of the peer's modulatory unit (its training scripts: 16).
    seed
        ``torch.manual_seed`` before the cell and the input are built.

    Returns
    -------
    dict
        ``time_s`` (median seconds, ``None`` on error), ``times_s`` (every timed repeat), ``warmup_s``,
        ``peak_gb`` (GB = 1e9 bytes; ``None`` when nothing was measured), ``peak_kind``
        (``"cuda_max_memory_allocated"`` or ``"cpu_vmhwm"``), ``peak_reset`` (CPU: whether the
        high-water mark was reset before each step), ``error`` (``None``, or one line such as
        ``"out of memory at B 128, N 512, T 500 (warm-up)"``), ``variant``
        (``"src/modulated_AC.py:SGRUCell"``), ``repository``, ``peer_sha256`` (of the cell's file),
        ``batch``, ``hidden``, ``input_size``, ``steps``, ``repeats``, ``device``, ``device_name``,
        ``dtype``, ``mod_rank``, ``activation``, ``seed``, ``torch``.

    Raises
    ------
    InputError
        Bad sizes or names, a missing peer folder, or ``cuda`` asked where there is none.
    """
    from neuromod.benchmarking import peak_rss_gb, reset_peak_rss

    _check_sizes(batch, hidden, input_size, steps, repeats, device, dtype, mod_rank)
    folder = _peer_folder(peer_dir)
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked, but torch sees no CUDA device here; expected --device cpu")
    cell_class = load_peer_cell(folder)
    result: dict[str, Any] = {
        "time_s": None, "times_s": [], "warmup_s": None, "peak_gb": None,
        "peak_kind": "cuda_max_memory_allocated" if device == "cuda" else "cpu_vmhwm", "peak_reset": None,
        "error": None, "variant": f"{PEER_PATH}:{PEER_CLASS}", "repository": PEER_REPOSITORY,
        "peer_sha256": _sha256(folder / f"{PEER_MODULE}.py"),
        "batch": batch, "hidden": hidden, "input_size": input_size, "steps": steps, "repeats": repeats,
        "device": device, "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "dtype": dtype, "mod_rank": mod_rank, "activation": PEER_ACTIVATION, "seed": seed,
        "torch": torch.__version__,
    }
    size = f"B {batch}, N {hidden}, T {steps}"
    phase = "build"
    cell = x = None
    try:
        with _default_dtype(torch, getattr(torch, dtype)):
            torch.manual_seed(seed)
            with contextlib.redirect_stdout(sys.stderr):
                cell = cell_class(input_size, hidden, PEER_ACTIVATION, mod_rank).to(device)
            cell.train()
            x = torch.randn(steps, batch, input_size, device=device)
            phase = "warm-up"
            result["warmup_s"] = _train_step(torch, cell, x, batch, device)
            peaks, resets = [], []
            for k in range(repeats):
                phase = f"repeat {k + 1} of {repeats}"
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                else:
                    resets.append(reset_peak_rss())
                result["times_s"].append(_train_step(torch, cell, x, batch, device))
                peaks.append(torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else peak_rss_gb())
            result["time_s"] = statistics.median(result["times_s"])
            result["peak_gb"] = max(peaks)
            if device == "cpu":
                result["peak_reset"] = all(resets)
    except Exception as exc:  # noqa: BLE001 - out of memory is a result; anything else is re-raised
        if not _is_out_of_memory(exc):
            raise
        result["error"] = f"out of memory at {size} ({phase}, {device})"
        if device == "cuda":  # how far it got: the peak before the failure
            result["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
        result["time_s"] = None
    finally:
        del cell, x
        _free_memory(device)
    return result


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reference_cell.py",
        description=f"Time one training step (forward over T steps + backward) of the public reference SGRU "
                    f"cell ({PEER_REPOSITORY}, {PEER_PATH}), run unchanged from --peer.")
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER, metavar="DIR",
                        help=f"folder holding {PEER_MODULE}.py and its siblings (default: .carry/peer in the "
                             f"repository root)")
    parser.add_argument("--batch", type=int, default=32, metavar="B", help="batch size (default 32)")
    parser.add_argument("--hidden", type=int, default=256, metavar="N", help="hidden units (default 256)")
    parser.add_argument("--input", type=int, default=32, metavar="K", help="input size (default 32)")
    parser.add_argument("--steps", type=int, default=200, metavar="T", help="time steps (default 200)")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=3, metavar="R", help="timed repeats (default 3)")
    parser.add_argument("--dtype", default="float32", choices=DTYPES, help="float32 (default) or float64")
    parser.add_argument("--mod-rank", type=int, default=PEER_MOD_RANK, metavar="K",
                        help=f"width of the peer's modulatory unit (default {PEER_MOD_RANK}, as its training "
                             f"scripts)")
    parser.add_argument("--seed", type=int, default=SEED, metavar="SEED", help=f"torch seed (default {SEED})")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch.set_num_threads on the CPU (default: torch's own)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.json", help="also write the JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: print the JSON of :func:`time_reference_cell` (and write it to ``--out``).

    Returns 0, or 2 after one line on stderr for input errors (a missing peer folder among them); a
    run that ran out of memory is a result (exit 0, ``error`` set).
    """
    args = _parser().parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise InputError(f"--threads must be a positive integer, got {args.threads}")
            import torch

            torch.set_num_threads(args.threads)
        result = time_reference_cell(args.peer, batch=args.batch, hidden=args.hidden, input_size=args.input,
                                     steps=args.steps, device=args.device, repeats=args.repeats, dtype=args.dtype,
                                     mod_rank=args.mod_rank, seed=args.seed)
    except InputError as exc:
        print(f"reference_cell: {exc}", file=sys.stderr)
        return 2
    result["threads"] = args.threads
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
