"""Training the rate twin on the behavioural tasks: supervised BPTT, truncated BPTT, actor-critic.

``train(task, out=..., steps=..., seed=..., overrides={...})`` builds the task
(:mod:`neuromod.protocols.tasks`) and a :class:`~neuromod.models.task_net.TaskNet` around the
rate twin, trains it with the method the task's class declares (``training``, a
:class:`~neuromod.protocols.tasks.training_spec.TrainingSpec`), and writes a run folder. The step
of each method is in :mod:`neuromod.protocols.training_steps`:

- ``supervised``: each step draws a fresh batch of episodes and backpropagates through the whole
  episode (BPTT);
- ``tbptt``: truncated BPTT over ``batch_size`` contiguous text streams, ``seq_len`` steps per
  chunk, the network state (rates and fast weights) carried from chunk to chunk and cut from the
  graph in between (the language model);
- ``a2c``: advantage actor-critic (A2C; Mnih et al. 2016, ICML) with a value head, on whole
  episodes, plus a cross-entropy that teaches the fixation output directly (weight
  ``fixation_supervision``): fixation is an instructed behaviour, as when a monkey is trained on
  fixation control before the task. The choice among the other actions is learned from reward
  alone.

Every batch is a function of ``(seed, step)`` only, so a run resumed from a checkpoint replays
exactly the batches an uninterrupted run would have seen and ends at the same weights (to float
tolerance; same machine and thread count). Evaluation uses held-out seeds that training never
draws (:data:`EVAL_TAG`, :data:`HELDOUT_TAG`) and the held-out split of a data set where there is
one (each task's :meth:`~neuromod.protocols.tasks.base.Task.training_kwargs`).

**Divergence.** When the network's outputs or the loss stop being finite (a learning rate too high
for fast weights that feed back on themselves), training goes back to its last good checkpoint
(kept in memory each time one is written, and at the start), halves the learning rate from there
on and trains on; after ``divergence_retries`` (default 3) such restarts it stops with one line
(:class:`~neuromod.errors.DivergenceError`). The factor and the restarts are saved in the
checkpoint (a resumed run continues with them) and reported in ``result.json``
(``divergence_restarts``, ``lr_scale``; ``details.divergences``: at which step, back to which).

**Run folder.** A training run is written *in place* (:class:`neuromod.results.RunWriter`), not
built aside like a protocol run: an interrupted run must leave its checkpoint where ``resume``
finds it. Every file is written atomically::

    out/
      config.json          the run record's config (kind "training", name = task; parameters, seed,
                           device, versions, command; "resumed": where it was resumed)
      checkpoint.pt        network, optimiser, step, learning curves, carried state (resume from it)
      model.pt             the trained TaskNet (neuromod.protocols.training_files)
      twin.pt              the rate twin alone, in the format the spiking twin reads (twin_io; not for cell=gru)
      data.nix             the rate twin's activity on the final held-out evaluation as rates, a Neo
                           Block (not for cell=gru; below)
      learning_curves.png  training loss and task metric (train and held-out) against steps
      result.json          metrics: final held-out figures; conditions: the learning curve table;
                           details: method, metric, higher_is_better, task

``data.nix`` has the layout of ``neuromod ablate``'s (the same writer,
:func:`neuromod.protocols.activity.write_activity`): the activity ``h`` the final evaluation's
held-out episodes (seeds ``[EVAL_TAG, seed, 0]``) drew from the trained network, the first
:data:`~neuromod.protocols.activity.ACTIVITY_EPISODES` of them, one segment per episode (annotation
``episode``), the rates ``h * RATE_SCALE_HZ`` in Hz as one ``AnalogSignal`` per segment
(``array_annotations["rate_unit"]``, sampled every ``STEP_MS``; :mod:`neuromod.analysis.rates`);
the block is annotated ``evaluation`` (``"final held-out"``), ``step``, ``device`` and ``seed``.

**Parameters** are one flat namespace (``--set key=value``; :func:`training_defaults`): the task's
constructor keywords, the network's and the training's
(:mod:`neuromod.protocols.tasks.training_spec`): ``steps`` (the length of the run, which the
learning-rate schedule spans: :func:`learning_rate`), ``batch_size``, ``lr`` (Adam),
``lr_schedule``, ``grad_clip`` (global norm), ``activity_l2`` (penalty on the mean squared rate),
``eval_every``, ``eval_episodes``, ``checkpoint_every``; actor-critic adds ``gamma``,
``value_weight``, ``entropy_weight``, ``fixation_supervision``; some tasks add ``shaping_steps``,
``fade_steps``, ``demonstration_steps`` (below) or ``eval_length``.

**Shaping.** For its first ``shaping_steps`` steps a run may use the training aids of its task,
which evaluation never uses (each task's ``training_kwargs``: associative recall's ``min_k``
curriculum and ``label_echo``; meta-timeseries without its silent delay; a trial task with a
silent ITI with the last trial's feedback kept in view, ``reveal_last``). They let a network learn
the task's inputs and outputs before it needs a memory across the silent intervals. Trial tasks
can fade their aid out over ``fade_steps`` after that: the probability that a trial shows the last
feedback falls linearly from 1 to 0 (Skinner's shaping by fading), so the trials that need a
memory come in a few at a time.

**Demonstrations.** An actor-critic task with a teacher
(:meth:`~neuromod.protocols.tasks.base.TrialTask.demonstrate`) can start with
``demonstration_steps`` steps of behaviour cloning at the constant ``lr``: the policy is trained
by cross-entropy to the teacher's actions and the critic's readout by regression on its returns;
actor-critic then takes over on the network's own play (learning from demonstrations, then
reinforcement: Silver et al. 2016, Nature 529:484; Hester et al. 2018, AAAI). The learning curve
reports ``imitation`` for these steps. What the aids and the demonstrations did in measured runs
is in ``docs/training-notes.md``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromod.errors import DivergenceError, InputError
from neuromod.models.task_net import TaskNet, TaskNetConfig
from neuromod.protocols import training_steps
from neuromod.protocols.activity import record_activity, write_activity
from neuromod.protocols.tasks import make_task, task_class
from neuromod.protocols.tasks.training_spec import TrainingSpec
from neuromod.protocols.training_files import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, MODEL_FORMAT, load_run,
                                               read_checkpoint, state_from_dict, state_to_dict)
from neuromod.protocols.training_parameters import (learning_rate, resolve_device, resolve_training_parameters,
                                                    saved_parameters, training_defaults, training_spec)
from neuromod.protocols.training_steps import play_episodes
from neuromod.results import RunWriter, clean_stale, read_json, run_config, sigterm_as_interrupt, validate_record

__all__ = [
    "train",
    "training_defaults",
    "training_spec",
    "saved_parameters",
    "resolve_training_parameters",
    "learning_rate",
    "load_run",
    "evaluate",
    "build_task",
    "build_net",
    "resolve_device",
    "play_episodes",
    "EVAL_TAG",
    "HELDOUT_TAG",
    "CHECKPOINT_FORMAT",
]

#: first entropy word of the seeds used for evaluation during training (training uses [seed, step])
EVAL_TAG = 1_000_003
#: first entropy word of the held-out seeds of ablations and benchmarks
HELDOUT_TAG = 2_000_003

_TWIN_KEYS = ("rule", "alpha_init", "alpha_max", "tau_u_init", "learn_rule")


def build_task(task: str, params: Mapping[str, Any], *, seed: int = 0, heldout: bool = False, shaped: bool = True):
    """The task object for the flat training parameters ``params``.

    ``heldout=True`` gives the task evaluation uses: the held-out split of its data, and no
    training aids. ``shaped=False`` keeps the training data but drops the aids (module
    docstring, "Shaping"). What each variant is, the task's class says
    (:meth:`~neuromod.protocols.tasks.base.Task.training_kwargs`).
    """
    return make_task(task, seed, **task_class(task).training_kwargs(params, heldout=heldout, shaped=shaped))


def build_net(task_obj, params: Mapping[str, Any]) -> TaskNet:
    """The network for ``task_obj`` with the network parameters in ``params``."""
    twin = {k: params[k] for k in _TWIN_KEYS}
    if params["clip"] < 0:
        raise InputError(f"clip must be >= 0 (0 = no bound), got {params['clip']!r}")
    twin["clip"] = float(params["clip"]) or None
    config = TaskNetConfig(n_inputs=task_obj.n_inputs, n_outputs=task_obj.n_outputs, hidden_size=int(params["hidden_size"]),
                           cell=params["cell"], projection_size=int(params["projection_size"]),
                           value_head=task_obj.kind == "reinforcement", twin=twin, impl=params["impl"])
    return TaskNet(config)


def evaluate(net: TaskNet, task: str, params: Mapping[str, Any], *, seed: int, tag: int = EVAL_TAG,
             episodes: int | None = None, device: torch.device | str = "cpu", task_obj=None) -> dict[str, float]:
    """The task's figures for ``net`` on held-out episodes (seeds ``[tag, seed, i]``, never trained on).

    ``episodes`` defaults to ``eval_episodes``; ``task_obj`` to the held-out task. How a task is
    scored is its class's :meth:`~neuromod.protocols.tasks.base.Task.evaluate` (reinforcement
    tasks: played greedily; meta-timeseries: the error before and after the examples; the language
    model: windows of the held-out text). The network is left in the mode it was in.
    """
    episodes = int(episodes or params["eval_episodes"])
    task_obj = task_obj if task_obj is not None else build_task(task, params, seed=seed, heldout=True)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return task_obj.evaluate(net, params, seed=seed, tag=tag, episodes=episodes, device=torch.device(device))
    finally:
        net.train(was_training)


# --------------------------------------------------------------------------------------------------
# A run: set-up (new or resumed), the loop, the end
# --------------------------------------------------------------------------------------------------


class _TaskSchedule:
    """The task of each training step: with its aids for ``shaping_steps``, the aids faded out over
    ``fade_steps``, then the plain task; and the held-out task of the evaluations."""

    def __init__(self, task: str, params: Mapping[str, Any], seed: int, total: int):
        self.shaped = build_task(task, params, seed=seed)
        self.shaping_steps, self.fade_steps = int(params.get("shaping_steps", 0)), int(params.get("fade_steps", 0))
        needs_plain = self.shaping_steps + self.fade_steps < total
        self.plain = build_task(task, params, seed=seed, shaped=False) if needs_plain else self.shaped
        self.heldout = build_task(task, params, seed=seed, heldout=True)

    def at(self, step: int):
        if step < self.shaping_steps:
            return self.shaped
        if step < self.shaping_steps + self.fade_steps:
            self.shaped.fade_aids(1.0 - (step - self.shaping_steps) / self.fade_steps)
            return self.shaped
        return self.plain


@dataclass
class _Run:
    """What a training run carries from step to step; the checkpoint saves it."""

    task: str
    spec: TrainingSpec
    params: dict[str, Any]
    seed: int
    total: int
    writer: RunWriter
    device: torch.device
    tasks: _TaskSchedule
    net: TaskNet
    optimizer: torch.optim.Optimizer
    start: int = 0
    curves: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    window: list[dict[str, float]] = field(default_factory=list)
    wall_before: float = 0.0
    carried: Any = None  # the state truncated BPTT carries from chunk to chunk
    offsets: np.ndarray | None = None  # where its streams start
    clock: float = field(default_factory=time.perf_counter)
    activity: np.ndarray | None = None  # h of the final held-out evaluation (data.nix)
    lr_scale: float = 1.0  # halved at each restart after a divergence (saved in the checkpoint)
    divergences: list[dict[str, Any]] = field(default_factory=list)  # {"step", "restart_from", "lr_scale"}
    good: dict[str, Any] | None = None  # the last checkpoint, in memory: where a divergence restarts

    @property
    def folder(self) -> Path:
        assert self.writer.path is not None
        return self.writer.path

    @property
    def metric(self) -> str:
        """The figure of the training batches (the task's ``training_metric``, else its ``metric``)."""
        return self.tasks.shaped.training_metric or self.tasks.shaped.metric

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.clock

    def save_checkpoint(self, step: int, wall: float) -> None:
        with self.writer.file("checkpoint.pt") as tmp:
            torch.save({
                "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "task": self.task, "parameters": self.params,
                "seed": self.seed, "step": step, "net": self.net.checkpoint(), "optimizer": self.optimizer.state_dict(),
                "curves": self.curves, "losses": self.losses, "window": self.window, "wall_time_s": wall,
                "carried_state": state_to_dict(self.carried), "lr_scale": self.lr_scale,
                "divergences": self.divergences,
            }, tmp)
        self.keep_good(step)

    def keep_good(self, step: int) -> None:
        """Remember the state after ``step`` steps (the checkpoint just written, or the start)."""
        self.good = copy.deepcopy({"step": step, "net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                                   "curves": self.curves, "losses": self.losses, "window": self.window,
                                   "carried": self.carried})

    def restart_after_divergence(self, step: int, error: Exception) -> int:
        """Go back to the last good checkpoint with half the learning rate; the step to go on from.

        Raises :class:`DivergenceError` (one line) once ``divergence_retries`` restarts are spent.
        """
        retries = int(self.params.get("divergence_retries", 0))
        if len(self.divergences) >= retries or self.good is None:
            raise DivergenceError(f"training of {self.task!r} diverged at step {step + 1} after {len(self.divergences)} "
                                  f"restart(s) with a lower learning rate ({error}); lower lr (now {self.params['lr']}) "
                                  f"or bound the fast weights with clip=...") from None
        good = copy.deepcopy(self.good)
        self.net.load_state_dict(good["net"])
        self.optimizer.load_state_dict(good["optimizer"])
        self.curves, self.losses, self.window, self.carried = good["curves"], good["losses"], good["window"], good["carried"]
        self.lr_scale *= 0.5
        self.divergences.append({"step": step + 1, "restart_from": good["step"], "lr_scale": self.lr_scale})
        return good["step"]


def train(task: str, *, out: str | os.PathLike[str] | None = None, steps: int | None = None, device: str | None = "auto",
          seed: int | None = None, overrides: Mapping[str, Any] | None = None,
          resume: str | os.PathLike[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Train a rate twin on ``task`` and write the run folder ``out`` (module docstring).

    ``steps``: stop after this many training steps in all (default: the ``steps`` parameter, the
    length of the run that the learning-rate schedule spans); with ``resume``, training continues
    up to this total. ``device``: a torch device name (:func:`resolve_device`; default ``auto``).
    ``seed`` (default 1) fixes the network's initial weights and every batch. ``overrides``:
    ``{"name": "value"}`` as typed after ``--set``. ``resume``: a run folder (or its
    ``checkpoint.pt``) to continue; its task, parameters and seed are used (``overrides`` may
    change training parameters only, and ``seed`` must be left out or equal); ``out`` defaults to
    that folder. Returns the contents of ``result.json``.

    Raises :class:`InputError` on bad input: unknown task or parameter, missing or malformed data
    folder, empty or non-text file, a checkpoint of another task or architecture, an unreadable
    checkpoint or config.json, an ``out`` that already holds a training run when ``resume`` is not
    given.
    """
    run = _start(task, out=out, steps=steps, device=device, seed=seed, overrides=overrides, resume=resume)
    with sigterm_as_interrupt():  # SIGTERM unwinds as Ctrl-C does: the last checkpoint stays, resumable
        _loop(run, progress=progress)
    return _finish(run)


def _start(task: str, *, out, steps, device, seed, overrides, resume) -> _Run:
    """Set a run up: new (from the defaults and ``overrides``) or resumed (from its checkpoint)."""
    spec = training_spec(task)
    torch_device = resolve_device(device)
    checkpoint = None
    if resume is not None:
        checkpoint = read_checkpoint(resume)
        params, seed = _resumed_parameters(task, spec, checkpoint, resume, seed, overrides)
        if out is None:
            out = Path(resume).expanduser()
            out = out if out.is_dir() else out.parent
    else:
        seed = 1 if seed is None else int(seed)
        params = resolve_training_parameters(task, overrides)
    if out is None:
        raise InputError("train needs an output folder (out=...)")
    if steps is not None and int(steps) < 1:
        raise InputError(f"steps must be >= 1, got {steps!r}")
    # ``steps`` says where this call stops; the parameter ``steps`` is the length of the whole run,
    # which the learning-rate schedule spans (so a run stopped early and resumed ends where an
    # uninterrupted one ends)
    total = int(steps) if steps is not None else int(params["steps"])
    folder = Path(out).expanduser().absolute()
    if checkpoint is None and (folder / "checkpoint.pt").exists():
        raise InputError(f"{str(folder)!r} already holds a training run; resume it (--resume) or choose another folder")
    config = _config_record(task, spec, params, seed, torch_device, folder, checkpoint)

    # the tasks read their data (and refuse a bad folder or file) before anything is written
    tasks = _TaskSchedule(task, params, seed, total)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_net(tasks.shaped, params)
    net.to(torch_device)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(params["lr"]))
    run = _Run(task, spec, params, seed, total, RunWriter(folder), torch_device, tasks, net, optimizer)
    if checkpoint is not None:
        _restore(run, checkpoint, resume)
    if spec.method == "tbptt":
        run.offsets = tasks.shaped.stream_offsets(int(params["batch_size"]), seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(folder)!r}: {exc.strerror or exc}") from None
    if checkpoint is not None:
        clean_stale(folder)  # the temporary files of a killed run
    run.writer.write_json("config.json", config)
    return run


def _resumed_parameters(task: str, spec: TrainingSpec, checkpoint: dict[str, Any], resume, seed: int | None,
                        overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], int]:
    """The parameters and seed of a resumed run: the checkpoint's, with training parameters changed
    by ``overrides``; :class:`InputError` if they would change the task, the network or the seed."""
    if checkpoint["task"] != task:
        raise InputError(f"checkpoint {str(resume)!r} is from a {checkpoint['task']!r} model, not {task!r}")
    if seed is not None and int(seed) != int(checkpoint["seed"]):
        raise InputError(f"checkpoint {str(resume)!r} was trained with seed {checkpoint['seed']}; "
                         f"resume uses that seed (got seed {seed})")
    params = saved_parameters(task, checkpoint["parameters"])
    changed = resolve_training_parameters(task, {**params, **dict(overrides or {})})
    fixed = [k for k in (*spec.task, *spec.model_defaults) if changed[k] != params[k]]
    if fixed:
        raise InputError(f"checkpoint {str(resume)!r} is from another model: it was trained with "
                         + ", ".join(f"{k}={params[k]!r}" for k in fixed) + "; a resumed run keeps them")
    return changed, int(checkpoint["seed"])


def _config_record(task: str, spec: TrainingSpec, params: Mapping[str, Any], seed: int, device: torch.device,
                   folder: Path, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """The run's ``config.json``; a resumed run keeps its start time and lists where it was resumed."""
    record = run_config("training", task, params, seed=seed, device=str(device),
                        details={"method": spec.method, "task": task})
    path = folder / "config.json"
    if checkpoint is not None and path.is_file():
        old = read_json(path)  # InputError naming the file if it is damaged
        if not isinstance(old, dict):
            raise InputError(f"{str(path)!r} is not a neuromod config record (a JSON object)")
        record["started"] = old.get("started", record["started"])
        record["resumed"] = [*old.get("resumed", []),
                             {"at_step": int(checkpoint["step"]), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
    return validate_record(record, "config", source=str(path))


def _restore(run: _Run, checkpoint: dict[str, Any], resume) -> None:
    """Load the network, optimiser, curves and carried state of ``checkpoint`` into ``run``."""
    saved = TaskNetConfig.from_dict(checkpoint["net"]["config"])
    if saved != run.net.config:
        raise InputError(f"checkpoint {str(resume)!r} is from another model: its network is {saved}, "
                         f"these parameters build {run.net.config}")
    run.net.load_state_dict(checkpoint["net"]["state_dict"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])  # its lr is set from the schedule every step
    run.start = int(checkpoint["step"])
    # drop the end-of-run record of an interrupted run: it is not on the evaluation grid
    grid = int(checkpoint["parameters"]["eval_every"])
    run.curves = [c for c in checkpoint["curves"] if c["step"] % grid == 0]
    run.losses = list(checkpoint["losses"])
    run.window = list(checkpoint["window"])
    run.wall_before = float(checkpoint["wall_time_s"])
    run.lr_scale = float(checkpoint.get("lr_scale", 1.0))
    run.divergences = list(checkpoint.get("divergences", []))
    if run.spec.method == "tbptt":
        run.carried = state_from_dict(checkpoint.get("carried_state"), run.device)


def _step(run: _Run, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss and figures of training step ``step``, by the task's method."""
    task_obj = run.tasks.at(step)
    method = run.spec.method
    if method == "tbptt":
        loss, figures, run.carried = training_steps.tbptt_step(run.net, task_obj, run.params, run.offsets, step,
                                                               run.carried, run.device)
        return loss, figures
    rng = training_steps.step_rng(run.seed, step)
    if method == "a2c" and step < int(run.params.get("demonstration_steps", 0)):
        return training_steps.demonstration_step(run.net, task_obj, run.params, rng, run.device)
    if method == "a2c":
        return training_steps.a2c_step(run.net, task_obj, run.params, rng, run.device)
    return training_steps.supervised_step(run.net, task_obj, run.params, rng, run.device)


def _loop(run: _Run, *, progress: bool) -> None:
    """Train from ``run.start`` to ``run.total``: evaluate every ``eval_every`` steps, checkpoint
    every ``checkpoint_every`` steps and at the end."""
    from tqdm.auto import tqdm

    params, metric = run.params, run.metric
    run.clock = time.perf_counter()
    bar = tqdm(total=run.total, initial=min(run.start, run.total), desc=run.task, disable=not progress,
               dynamic_ncols=True)
    run.net.train()
    run.keep_good(run.start)
    step = run.start
    try:
        while step < run.total:
            try:
                loss, figures = _step(run, step)
                if not torch.isfinite(loss):
                    raise DivergenceError("the loss is not finite")
            except DivergenceError as exc:
                step = run.restart_after_divergence(step, exc)
                bar.n = step
                bar.refresh()
                continue
            for group in run.optimizer.param_groups:
                group["lr"] = learning_rate(params, step) * run.lr_scale
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run.net.parameters(), float(params["grad_clip"]))
            run.optimizer.step()
            run.losses.append(float(loss.item()))
            # demonstration steps report how well the policy imitates the teacher instead of the metric
            shown = "imitation" if "imitation" in figures else metric
            run.window.append({"loss": run.losses[-1], shown: float(figures.get(shown, float("nan")))})
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{run.losses[-1]:.3f}", **{shown: f"{run.window[-1][shown]:.3f}"})
            on_grid = done % int(params["eval_every"]) == 0
            if on_grid or done == run.total:
                run.curves.append(_curve_record(run, done))
                if on_grid:  # an end-of-run record off the grid keeps the window, so a resumed run matches
                    run.window = []
            if done % int(params["checkpoint_every"]) == 0 or done == run.total:
                run.save_checkpoint(done, run.wall())
            step = done
    finally:
        bar.close()


def _held_out(run: _Run, *, record: bool = False) -> dict[str, float]:
    """The held-out figures of the network now; with ``record`` (a rate twin only), the activity of
    the evaluation is kept in ``run.activity`` (:class:`~neuromod.protocols.activity.record_activity`)."""
    recording = record and run.net.plastic
    with record_activity(run.net) if recording else contextlib.nullcontext() as recorder:
        held = evaluate(run.net, run.task, run.params, seed=run.seed, tag=EVAL_TAG, device=run.device,
                        task_obj=run.tasks.heldout)
    if recording:
        run.activity = recorder.episodes()
    return held


def _curve_record(run: _Run, done: int) -> dict[str, Any]:
    """The learning-curve row after ``done`` steps: mean loss and figures of the training batches
    since the last row, and the held-out figures (the last evaluation's activity recorded)."""
    held = _held_out(run, record=done == run.total)
    record = {"step": done, "train_loss": float(np.mean([w["loss"] for w in run.window])),
              **{f"train_{key}": _nanmean([w[key] for w in run.window if key in w])
                 for key in (run.metric, "imitation") if any(key in w for w in run.window)}}
    record.update({f"eval_{k}": v for k, v in held.items()})
    return record


def _finish(run: _Run) -> dict[str, Any]:
    """Write ``model.pt``, ``twin.pt``, ``data.nix``, the learning curves and ``result.json``; return the result."""
    wall = run.wall()
    final_step = max(run.start, run.total)
    if not run.curves or run.curves[-1]["step"] != final_step:
        held = _held_out(run, record=True)
        run.curves.append({"step": final_step, **{f"eval_{k}": v for k, v in held.items()}})
        run.save_checkpoint(final_step, wall)
    elif run.activity is None:
        _held_out(run, record=True)  # a finished run resumed: its final evaluation again, for data.nix
    with run.writer.file("model.pt") as tmp:
        torch.save({"format": MODEL_FORMAT, "version": CHECKPOINT_VERSION, "task": run.task, "parameters": run.params,
                    "seed": run.seed, "step": final_step, "net": run.net.checkpoint()}, tmp)
    files = ["config.json", "checkpoint.pt", "model.pt"]
    if run.net.plastic:
        from neuromod.models.twin_io import save_twin

        save_twin(run.folder / "twin.pt", run.net.rnn.cpu())
        run.net.to(run.device)
        files.append("twin.pt")
    if run.activity is not None:
        files.append(write_activity(run.writer, run.activity, task=run.task,
                                    annotations={"evaluation": "final held-out", "step": final_step,
                                                 "device": str(run.device), "seed": run.seed}))
    task_obj = run.tasks.shaped
    eval_metric, chance = task_obj.metric, task_obj.chance
    figure = _plot_curves(run, eval_metric, chance)
    final = {k[len("eval_"):]: v for k, v in run.curves[-1].items() if k.startswith("eval_")}
    metrics = {**final, f"chance_{eval_metric}": chance,
               "final_train_loss": run.losses[-1] if run.losses else float("nan"), "steps": final_step,
               "wall_time_s": wall, "n_parameters": sum(p.numel() for p in run.net.parameters()),
               "divergence_restarts": len(run.divergences), "lr_scale": run.lr_scale}
    details = {"method": run.spec.method, "metric": eval_metric, "higher_is_better": task_obj.higher_is_better,
               "task": run.task, "divergences": run.divergences}
    return run.writer.write_result("training", run.task, run.params, seed=run.seed, device=str(run.device),
                                   metrics=metrics, conditions=run.curves, figures=[figure], files=[*files, figure],
                                   wall_time_s=wall, details=details)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _plot_curves(run: _Run, eval_metric: str, chance: float) -> str:
    """``learning_curves.png``: the loss per step, and the figures of the training batches and the
    held-out episodes at each evaluation (demonstration steps shaded)."""
    from neuromod.plotting import pyplot, save

    plt = pyplot()
    curves, losses, task = run.curves, run.losses, run.task
    demonstration_steps = int(run.params.get("demonstration_steps", 0)) if run.spec.method == "a2c" else 0
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.6))
    at_step = np.arange(1, len(losses) + 1)
    ax_loss.plot(at_step, losses, color="0.75", lw=0.6, label="per step")
    if len(losses) >= 10:
        width = max(5, len(losses) // 50)
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        ax_loss.plot(at_step[width - 1:], smooth, color="C0", label=f"mean of {width}")
    ax_loss.set(xlabel="training step", ylabel="loss", title=f"{task}: training loss")
    if losses and min(losses) > 0:
        ax_loss.set_yscale("log")
    ax_loss.legend(frameon=False)
    at = [c["step"] for c in curves]
    ax_metric.plot(at, [c.get(f"train_{run.metric}", np.nan) for c in curves], "o-", ms=3,
                   label=f"training batches ({run.metric})")
    ax_metric.plot(at, [c.get(f"eval_{eval_metric}", np.nan) for c in curves], "s-", ms=3, label=f"held-out ({eval_metric})")
    if any("train_imitation" in c for c in curves):
        ax_metric.plot(at, [c.get("train_imitation", np.nan) for c in curves], "^-", ms=3, color="C2",
                       label="imitation of the teacher")
    if demonstration_steps:
        for ax in (ax_loss, ax_metric):
            ax.axvspan(0, demonstration_steps, color="0.92", zorder=0, label="demonstrations" if ax is ax_metric else None)
    ax_metric.axhline(chance, color="0.5", ls="--", lw=1, label="chance")
    ax_metric.set(xlabel="training step", ylabel=eval_metric, title=f"{task}: {eval_metric}")
    ax_metric.legend(frameon=False)
    fig.tight_layout()
    return save(fig, run.writer, "learning_curves.png", dpi=110)
