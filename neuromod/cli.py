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
    rich_markup_mode=None,  # plain help: flags without type tags, options one per line
)
protocol_app = typer.Typer(help="Plasticity and neuron protocols: list them, run one.", no_args_is_help=True,
                           rich_markup_mode=None)
app.add_typer(protocol_app, name="protocol")

DEMO_PROTOCOLS = ("adex-patterns", "leabra-unit", "pairing-frequency")

DeviceOption = typer.Option("runtime", "--device", "-d", metavar="DEVICE", help="runtime | cpp_standalone | cuda_standalone")
SeedOption = typer.Option(1, "--seed", metavar="SEED", help="random seed of the run, an integer in [0, 2**32 - 1]")
SetOption = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                         help="parameter override, units as Brian2 writes them (tau=20*ms); repeatable")
OverwriteOption = typer.Option(False, "--overwrite", help="replace the output folder if it exists (default: refuse)")


def _output_folder(out: Path | None, default: Path) -> Path:
    """``out`` as given (a run refuses it if it exists, unless --overwrite), or, where the user named
    none, ``default`` or the first free ``default-N`` beside it, said on stderr."""
    if out is not None:
        return out
    from neuromod.results import free_target

    target = free_target(default)
    if target != default:
        typer.echo(f"{default} exists; writing {target}", err=True)
    return target


def _checked_seed(seed: int | None) -> int | None:
    from neuromod.parameters import check_seed

    return None if seed is None else check_seed(seed)


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`InputError` into one ``error:`` line on stderr and exit code 2, and an interruption
    (Ctrl-C, SIGTERM) into one line and the shell's code for the signal (130, 143)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            import signal

            from neuromod.results import Terminated

            signum = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
            typer.echo(f"interrupted ({signal.Signals(signum).name}): {getattr(exc, 'resume_hint', '') or 'nothing was written'}",
                       err=True)
            raise typer.Exit(128 + signum) from None

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
    name: str = typer.Argument(..., metavar="NAME", help="protocol name (see `neuromod protocol list`)"),
    device: str = DeviceOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR", help="result folder (default runs/NAME, or runs/NAME-N if that exists)"),
    seed: int = SeedOption,
    set_: Optional[list[str]] = SetOption,
    keep_build: bool = typer.Option(False, help="keep the standalone build folder inside the result"),
    overwrite: bool = OverwriteOption,
) -> None:
    """Run one protocol and write its result folder (config.json, result.json, figures)."""
    from neuromod.device import check_device_name
    from neuromod.parameters import parse_assignments
    from neuromod.protocols import get_protocol, run_protocol

    check_device_name(device)
    seed = _checked_seed(seed)
    get_protocol(name)
    overrides = parse_assignments(set_ or [])
    target = _output_folder(out, Path("runs") / name)
    run_protocol(name, overrides, out=target, device=device, seed=seed, progress=True, keep_build=keep_build,
                 overwrite=overwrite)
    typer.echo(f"wrote {target}")


@app.command()
@_user_errors
def demo(
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="result folder (default neuromod-demo, or neuromod-demo-N if that exists)"),
    device: str = DeviceOption,
    seed: int = SeedOption,
    overwrite: bool = OverwriteOption,
) -> None:
    """Run the demo on embedded defaults: AdEx firing patterns, the Leabra unit, a plasticity protocol."""
    from tqdm import tqdm

    from neuromod.device import check_device_name
    from neuromod.protocols import get_protocol
    from neuromod.protocols.base import write_protocol_run
    from neuromod.results import RunFolder, RunWriter

    check_device_name(device)
    seed = _checked_seed(seed)
    target = _output_folder(out, Path("neuromod-demo"))
    protocols = [get_protocol(name) for name in DEMO_PROTOCOLS]
    parameters = {"protocols": list(DEMO_PROTOCOLS)}
    with RunFolder(target, overwrite=overwrite) as run:
        run.write_config("demo", "demo", parameters, seed=seed, device=device)
        conditions = []
        for protocol in tqdm(protocols, desc="neuromod demo", unit="protocol", file=sys.stderr):
            result = write_protocol_run(protocol, protocol.parameters(), RunWriter(run.path / protocol.name),
                                        device=device, seed=seed)
            conditions.append({"protocol": protocol.name, "folder": protocol.name, **result.metrics})
        run.write_result("demo", "demo", parameters, seed=seed, device=device, metrics={}, conditions=conditions,
                         files=["config.json", *DEMO_PROTOCOLS])
    typer.echo(f"wrote {target}: " + ", ".join(DEMO_PROTOCOLS))


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
    task: str = typer.Argument(..., metavar="TASK", help="task to train (an unknown name lists the known ones)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="run folder (default runs/train-TASK, or runs/train-TASK-N if that exists; "
                                            "with --resume, the resumed folder)"),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="stop after this many steps in all (default: the configured steps=..., which the lr schedule spans)"),
    device: str = typer.Option("auto", "--device", "-d", metavar="DEVICE", help="cpu | cuda | cuda:N | auto (CUDA when present)"),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="SEED", help="random seed (default 1; on --resume the run's own)"),
    set_: Optional[list[str]] = SetOption,
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="DIR", help="continue the run in this folder to --steps"),
) -> None:
    """Train the rate twin on a task (progress bar, checkpoints, learning curves, result.json)."""
    from neuromod.parameters import parse_assignments
    from neuromod.protocols.training import train as train_task
    from neuromod.protocols.training import training_spec

    seed = _checked_seed(seed)
    training_spec(task)  # an unknown task is refused before a folder is chosen
    overrides = parse_assignments(set_ or [])
    target = out if out is not None or resume is not None else _output_folder(None, Path("runs") / f"train-{task}")
    try:
        result = train_task(task, out=target, steps=steps, device=device, seed=seed, overrides=overrides,
                            resume=resume, progress=True)
    except KeyboardInterrupt as exc:
        folder = target if target is not None else resume
        exc.resume_hint = (f"the last checkpoint is in {folder}; continue with "  # type: ignore[attr-defined]
                           f"`neuromod train {task} --resume {folder}`")
        raise
    typer.echo(f"wrote {target or resume}: " + _figures(result.get("metrics", {})))


@app.command()
@_user_errors
def ablate(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="a training run folder (or a model file, e.g. a shipped one)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="result folder (default RUN_DIR/ablation; for a model file, FILE-ablation beside it)"),
    episodes: Optional[int] = typer.Option(None, "--episodes", metavar="N", help="held-out episodes per condition (default: the run's eval_episodes)"),
    device: str = typer.Option("auto", "--device", "-d", metavar="DEVICE", help="cpu | cuda | cuda:N | auto (CUDA when present)"),
    overwrite: bool = OverwriteOption,
    rate_scale_hz: Optional[float] = typer.Option(None, "--rate-scale-hz", metavar="HZ",
                                                  help="Hz per unit of h in data.nix (default neuromod.analysis.rates.RATE_SCALE_HZ, 100)"),
    step_ms: Optional[float] = typer.Option(None, "--step-ms", metavar="MS",
                                            help="ms per model step in data.nix (default neuromod.analysis.rates.STEP_MS, 50)"),
    activity_episodes: Optional[int] = typer.Option(None, "--activity-episodes", metavar="N",
                                                    help="held-out episodes written to data.nix (default 16, the first ones)"),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="SEED",
                                       help="seed of the held-out episodes, an integer in [0, 2**32 - 1] "
                                            "(default: the run's own seed, the episodes of neuromod spike-twin)"),
) -> None:
    """Evaluate a trained run with fast weights on, alpha off at test, and plasticity off (table + bar plot,
    data.nix with the plastic condition's activity as rates)."""
    from neuromod.protocols.ablation import ablate as ablate_run
    from neuromod.protocols.ablation import default_output

    result = ablate_run(run_dir, out=out, episodes=episodes, device=device, overwrite=overwrite,
                        rate_scale_hz=rate_scale_hz, step_ms=step_ms, activity_episodes=activity_episodes,
                        seed=_checked_seed(seed))
    typer.echo(f"wrote {out if out is not None else default_output(run_dir)}")
    for record in result.get("conditions", []):
        typer.echo("  " + _figures(record))


@app.command()
@_user_errors
def compare(
    spiking: Path = typer.Argument(..., metavar="SPIKING", help="spiking run folder holding data.nix (or a .nix file)"),
    rate: Path = typer.Argument(..., metavar="RATE", help="rate run folder holding data.nix (or a .nix file)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="result folder (default runs/compare, or runs/compare-N if that exists)"),
    bin_ms: Optional[float] = typer.Option(None, "--bin-ms", metavar="MS", help="bin width in ms (default: one rate-model step)"),
    kernel: Optional[str] = typer.Option(None, "--kernel", metavar="KERNEL", help="PSTH kernel: gaussian, exponential, alpha, ... (default: counts per bin)"),
    n_pcs: int = typer.Option(3, "--n-pcs", metavar="K", help="principal components for the subspace overlap"),
    label: str = typer.Option("label", "--label", metavar="ANNOTATION", help="segment annotation with the task variable to decode"),
    overwrite: bool = OverwriteOption,
) -> None:
    """Compare a spiking run with a rate run: rates, PSTHs, variability, correlations, geometry, decoding."""
    import time

    from neuromod.analysis.compare import compare as compare_blocks
    from neuromod.analysis.neo_io import load
    from neuromod.plotting import save
    from neuromod.results import RunFolder

    started = time.perf_counter()
    # everything that can fail on the user's input happens before the folder is made
    comparison = compare_blocks(load(spiking), load(rate), bin_ms=bin_ms, kernel=kernel, n_pcs=n_pcs, label=label)
    parameters = {"spiking_run": spiking.name, "rate_run": rate.name, **comparison.parameters}
    target = _output_folder(out, Path("runs") / "compare")
    with RunFolder(target, overwrite=overwrite) as run:
        run.write_config("comparison", "compare", parameters, seed=None, device=None)
        run.write_json("comparison.json", comparison.to_json())
        figure = comparison.plot(title=f"{spiking.name} (spiking) against {rate.name} (rate)")
        save(figure, run, "comparison.png", dpi=120)
        run.write_result("comparison", "compare", parameters, seed=None, device=None,
                         metrics=comparison.to_json()["metrics"], conditions=comparison.unit_table(),
                         figures=["comparison.png"], wall_time_s=time.perf_counter() - started,
                         details={"skipped": comparison.skipped})
    typer.echo(f"wrote {target}: " + _figures({k: v for k, v in comparison.to_json()["metrics"].items()
                                                if k in ("psth_r_median", "rate_slope", "subspace_overlap")}))


#: modules of neuromod.commands that add commands of their own (one line per module)
COMMAND_MODULES: tuple[str, ...] = (
    "neuromod.commands.spike_twin",
    "neuromod.commands.sweep",
    "neuromod.commands.analyze",
)


def _register_commands() -> None:
    import importlib

    common = sys.modules[__name__]
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app, common)


_register_commands()


def main() -> None:
    """Entry point of the ``neuromod`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
