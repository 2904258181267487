"""The ``neuromod`` command line (typer).

Commands: ``demo``, ``doctor``, ``protocol list``, ``protocol run NAME``, ``train TASK``,
``ablate DIR``. Bad input (unknown device, protocol or parameter, a value with the wrong unit, an
unwritable output folder) prints one line starting with ``error:`` and exits with code 2; nothing
is half written. The heavy packages (Brian2, PyTorch) are imported only by the commands that
need them.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from neuromod.errors import InputError

# setuptools warns about a private MSVC helper whenever Brian2 imports distutils; it says nothing
# to a user of this command line.
warnings.filterwarnings("ignore", message="_get_vc_env is private")

__all__ = ["app", "main"]

app = typer.Typer(
    name="neuromod",
    help="Neuromodulated plasticity: spiking (Brian2) and rate (PyTorch) twins, protocols and analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
protocol_app = typer.Typer(help="Plasticity and neuron protocols: list them, run one.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")

DEMO_PROTOCOLS = ("adex-patterns", "leabra-unit", "pairing-frequency")

DeviceOption = typer.Option("runtime", "--device", "-d", help="runtime | cpp_standalone | cuda_standalone")
SeedOption = typer.Option(1, "--seed", help="random seed of the run")
SetOption = typer.Option(None, "--set", "-s", help="parameter override key=value, units as Brian2 writes them (tau=20*ms); repeatable")


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`InputError` into one ``error:`` line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@protocol_app.command("list")
@_user_errors
def protocol_list() -> None:
    """List the protocols with their parameters and defaults."""
    from neuromod.parameters import format_value
    from neuromod.protocols import list_protocols

    for protocol in list_protocols():
        typer.echo(f"{protocol.name:22s} {protocol.summary}")
        for key, value in protocol.defaults.items():
            typer.echo(f"{'':24s}{key} = {format_value(value)}")


@protocol_app.command("run")
@_user_errors
def protocol_run(
    name: str = typer.Argument(..., help="protocol name (see `neuromod protocol list`)"),
    device: str = DeviceOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="result folder (default runs/NAME)"),
    seed: int = SeedOption,
    set_: Optional[list[str]] = SetOption,
    keep_build: bool = typer.Option(False, help="keep the standalone build folder inside the result"),
) -> None:
    """Run one protocol and write its result folder (config.json, result.json, figures)."""
    from neuromod.device import check_device_name
    from neuromod.parameters import parse_assignments
    from neuromod.protocols import run_protocol

    check_device_name(device)
    overrides = parse_assignments(set_ or [])
    target = out if out is not None else Path("runs") / name
    run_protocol(name, overrides, out=target, device=device, seed=seed, progress=True, keep_build=keep_build)
    typer.echo(f"wrote {target}")


@app.command()
@_user_errors
def demo(
    out: Path = typer.Option(Path("neuromod-demo"), "--out", "-o", help="result folder"),
    device: str = DeviceOption,
    seed: int = SeedOption,
) -> None:
    """Run the demo on embedded defaults: AdEx firing patterns, the Leabra unit, a plasticity protocol."""
    from tqdm import tqdm

    from neuromod.device import check_device_name
    from neuromod.protocols import get_protocol
    from neuromod.protocols.base import write_protocol_run
    from neuromod.results import RunFolder

    check_device_name(device)
    protocols = [get_protocol(name) for name in DEMO_PROTOCOLS]
    summary: dict[str, Any] = {"device": device, "seed": seed, "protocols": {}}
    with RunFolder(out) as folder:
        assert folder.path is not None
        for protocol in tqdm(protocols, desc="neuromod demo", unit="protocol", file=sys.stderr):
            result = write_protocol_run(protocol, protocol.parameters(), folder.path / protocol.name, device=device, seed=seed)
            summary["protocols"][protocol.name] = {"folder": protocol.name, "metrics": result.metrics}
        folder.write_json("result.json", {"metrics": {}, "conditions": [], **summary})
    typer.echo(f"wrote {out}: " + ", ".join(DEMO_PROTOCOLS))


@app.command()
def doctor() -> None:
    """Say which devices work here: C++ compiler, nvcc, curand, a GPU, and the package versions."""
    import shutil
    import subprocess

    from neuromod.device import cuda_toolchain
    from neuromod.results import environment_versions

    def first_line(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "not found"

    for key, value in environment_versions().items():
        typer.echo(f"{key:12s} {value}")
    cxx = shutil.which("g++") or shutil.which("c++")
    typer.echo(f"{'c++':12s} {first_line([cxx, '--version']) if cxx else 'not found'}")
    chain = cuda_toolchain()
    typer.echo(f"{'nvcc':12s} {chain.nvcc_version or 'not found'} ({chain.nvcc or '-'})")
    curand = chain.curand_include or "not found"
    typer.echo(f"{'curand':12s} {curand}{' (nvidia-curand wheel)' if chain.curand_from_wheel else ''}")
    typer.echo(f"{'gpu':12s} {', '.join(chain.gpu_names) or 'none'}")
    try:
        import brian2cuda  # noqa: F401

        has_brian2cuda = True
    except ImportError:
        has_brian2cuda = False
    devices = {
        "runtime": True,
        "cpp_standalone": cxx is not None,
        "cuda_standalone (compile)": has_brian2cuda and chain.can_compile,
        "cuda_standalone (run)": has_brian2cuda and chain.can_compile and bool(chain.gpu_names),
    }
    for name, ok in devices.items():
        typer.echo(f"device {name:28s} {'yes' if ok else 'no'}")
    try:
        import torch

        typer.echo(f"{'torch cuda':12s} {'yes' if torch.cuda.is_available() else 'no'}")
    except ImportError:
        typer.echo(f"{'torch':12s} not installed")


def _figures(values: dict) -> str:
    """``name=value, ...`` with floats to 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


@app.command()
@_user_errors
def train(
    task: str = typer.Argument(..., help="task: card-sort, associative-recall, bandit, seq-digits, char-model, meta-timeseries"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run folder (default runs/train-TASK)"),
    steps: Optional[int] = typer.Option(None, "--steps", help="stop after this many steps in all (default: the configured steps=..., which the lr schedule spans)"),
    device: str = typer.Option("cpu", "--device", "-d", help="cpu | cuda | cuda:N | auto"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default 1; on --resume the run's own)"),
    set_: Optional[list[str]] = SetOption,
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run in this folder to --steps"),
) -> None:
    """Train the rate twin on a task (progress bar, checkpoints, learning curves, result.json)."""
    if not (device in ("cpu", "cuda", "auto") or device.startswith("cuda:")):
        raise InputError(f"unknown torch device {device!r}; expected cpu, cuda, cuda:N or auto")
    from neuromod.parameters import parse_assignments
    from neuromod.protocols.training import train as train_task

    if resume is not None and not resume.is_dir():
        raise InputError(f"run folder {str(resume)!r} to resume does not exist")
    target = out if out is not None else (resume if resume is not None else Path("runs") / f"train-{task}")
    result = train_task(task, out=target, steps=steps, device=device, seed=seed, overrides=parse_assignments(set_ or []), resume=resume, progress=True)
    typer.echo(f"wrote {target}: " + _figures(result.get("metrics", {})))


@app.command()
@_user_errors
def ablate(
    run_dir: Path = typer.Argument(..., help="a training run folder"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="result folder (default RUN_DIR/ablation)"),
    episodes: Optional[int] = typer.Option(None, "--episodes", help="held-out episodes per condition"),
) -> None:
    """Evaluate a trained run with fast weights on, alpha off at test, and plasticity off (table + bar plot)."""
    if not run_dir.is_dir():
        raise InputError(f"run folder {str(run_dir)!r} does not exist")
    from neuromod.protocols.ablation import ablate as ablate_run

    result = ablate_run(run_dir, out=out, episodes=episodes)
    typer.echo(f"wrote {out if out is not None else run_dir / 'ablation'}")
    for record in result.get("conditions", []):
        typer.echo("  " + _figures(record))


@app.command()
@_user_errors
def compare(
    spiking: Path = typer.Argument(..., help="spiking run folder holding data.nix (or a .nix file)"),
    rate: Path = typer.Argument(..., help="rate run folder holding data.nix (or a .nix file)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="result folder (default runs/compare)"),
    bin_ms: Optional[float] = typer.Option(None, "--bin-ms", help="bin width in ms (default: one rate-model step)"),
    kernel: Optional[str] = typer.Option(None, "--kernel", help="PSTH kernel: gaussian, exponential, alpha, ... (default: counts per bin)"),
    n_pcs: int = typer.Option(3, "--n-pcs", help="principal components for the subspace overlap"),
    label: str = typer.Option("label", "--label", help="segment annotation with the task variable to decode"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace the output folder if it exists (default: refuse)"),
) -> None:
    """Compare a spiking run with a rate run: rates, PSTHs, variability, correlations, geometry, decoding."""
    import time

    from neuromod.analysis.compare import compare as compare_blocks
    from neuromod.analysis.neo_io import load
    from neuromod.results import RunFolder

    started = time.perf_counter()
    target = out if out is not None else Path("runs") / "compare"
    # everything that can fail on the user's input happens before the folder is made
    comparison = compare_blocks(load(spiking), load(rate), bin_ms=bin_ms, kernel=kernel, n_pcs=n_pcs, label=label)
    parameters = {"spiking_run": spiking.name, "rate_run": rate.name, **comparison.parameters}
    with RunFolder(target, overwrite=overwrite) as run:
        run.write_config("comparison", "compare", parameters, seed=None, device=None)
        run.write_json("comparison.json", comparison.to_json())
        figure = comparison.plot(title=f"{spiking.name} (spiking) against {rate.name} (rate)")
        run.savefig(figure, "comparison.png", dpi=120)
        run.write_result("comparison", "compare", parameters, seed=None, device=None,
                         metrics=comparison.to_json()["metrics"], conditions=comparison.unit_table(),
                         figures=["comparison.png"], wall_time_s=time.perf_counter() - started,
                         details={"skipped": comparison.skipped})
    typer.echo(f"wrote {target}: " + _figures({k: v for k, v in comparison.to_json()["metrics"].items()
                                                if k in ("psth_r_median", "rate_slope", "subspace_overlap")}))


def main() -> None:
    """Entry point of the ``neuromod`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
