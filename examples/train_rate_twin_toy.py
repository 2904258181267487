"""
Rate twin: a toy recall task
============================

Train the rate twin on a toy associative recall task where fast weights help.

Each episode shows ``k`` random (key, value) pairs, one pair per step, then one of the keys alone;
the twin must output that key's value. Keys and values are fresh random +-1 vectors in every
episode, so slow weights cannot store them: the binding has to happen within the episode, which
is what the plastic fast weights ``alpha * dU`` do (Miconi et al. 2018, "Differentiable
plasticity", used the same kind of task). Loss: mean squared error of the recalled value; always
answering 0 scores 1.0.

Measured on the 2-core development machine (600 steps, batch 64, N 64, 2 pairs, seed 0): the loss
falls from 0.73 (first 20 steps) to 0.09 (last 20); test MSE 0.086 with fast weights and 0.210 when
the same trained network runs with ``alpha_off`` at test time, so its solution relies on the fast
weights. A network trained without them (``--compare``) also learns this small task (test MSE
0.096): with two pairs the recurrent state can hold the episode; fast weights give only a small
edge here. Larger tasks (4 pairs, N 32) did not separate within 600 steps either.

Run it::

    .venv/bin/python examples/train_rate_twin_toy.py --steps 600 --plot loss.png
    .venv/bin/python examples/train_rate_twin_toy.py --compare   # also train without fast weights

With ``NEUROMOD_QUICK=1`` (the documentation gallery) it trains for 60 steps and draws its loss
curve (``runs/rate-twin-toy/loss.png``).
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch import nn

from neuromod.models import GatedPlasticRNN

__all__ = ["TWIN_OPTIONS", "make_batch", "RecallNet", "evaluate", "train"]


def make_batch(batch: int, k: int, key_dim: int, value_dim: int, generator: torch.Generator):
    """Inputs (T = k + 2, batch, key_dim + value_dim + 1) and targets (batch, value_dim).

    Steps: k pairs, the query key with the query flag, then one response step with no input (the
    fast weights act on the previous step's rates, so recall shows one step after the query).
    """
    keys = torch.randint(0, 2, (batch, k, key_dim), generator=generator).float() * 2 - 1
    values = torch.randint(0, 2, (batch, k, value_dim), generator=generator).float() * 2 - 1
    query = torch.randint(0, k, (batch,), generator=generator)
    x = torch.zeros(k + 2, batch, key_dim + value_dim + 1)
    x[:k, :, :key_dim] = keys.transpose(0, 1)
    x[:k, :, key_dim:key_dim + value_dim] = values.transpose(0, 1)
    rows = torch.arange(batch)
    x[k, :, :key_dim] = keys[rows, query]
    x[k, :, -1] = 1.0  # query flag
    return x, values[rows, query]


class RecallNet(nn.Module):
    """The twin layer plus a linear readout of the value from the rates at the query step."""

    def __init__(self, input_size: int, hidden_size: int, value_dim: int, **twin_options):
        super().__init__()
        self.twin = GatedPlasticRNN(input_size, hidden_size, **twin_options)
        self.readout = nn.Linear(hidden_size, value_dim)

    def forward(self, x):
        h, _ = self.twin(x)
        return self.readout(h[-1])


TWIN_OPTIONS = dict(rule="plain", alpha_max=4.0, alpha_init=1.0, rate_u_init=0.5, learn_rule=True)
"""Twin settings of the example: a strong fast-weight gain and a learned STDP rule."""


def evaluate(net: "RecallNet", *, k: int, key_dim: int, value_dim: int, batch: int = 512, seed: int = 123,
             alpha_off: bool = False) -> float:
    """Recall MSE on fresh episodes, optionally with the fast weights switched off at test time."""
    gen = torch.Generator().manual_seed(seed)
    x, target = make_batch(batch, k, key_dim, value_dim, gen)
    saved = net.twin.alpha_off
    net.twin.alpha_off = alpha_off
    try:
        with torch.no_grad():
            return ((net(x) - target) ** 2).mean().item()
    finally:
        net.twin.alpha_off = saved


def train(steps: int = 600, *, seed: int = 0, batch: int = 64, k: int = 2, key_dim: int = 8, value_dim: int = 2,
          hidden_size: int = 64, lr: float = 1e-2, fast_weights: bool = True, log_every: int = 0,
          return_net: bool = False, **twin_options):
    """Train for ``steps`` Adam steps; returns the loss of every step (and the network if ``return_net``).

    ``fast_weights=False`` trains the same network with ``alpha_off`` (no fast weights), the baseline.
    ``twin_options`` override :data:`TWIN_OPTIONS`.
    """
    twin_options = {**TWIN_OPTIONS, **twin_options}
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    net = RecallNet(key_dim + value_dim + 1, hidden_size, value_dim, **twin_options)
    net.twin.alpha_off = not fast_weights
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        x, target = make_batch(batch, k, key_dim, value_dim, gen)
        loss = ((net(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}  loss {sum(losses[-log_every:]) / log_every:.4f}", flush=True)
    return (losses, net) if return_net else losses


def main(argv=None) -> None:
    quick = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60 if quick else 600)
    parser.add_argument("--rule", choices=("plain", "modulated"), default="plain")
    parser.add_argument("--pairs", type=int, default=2, help="key/value pairs per episode")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="also train without fast weights (alpha_off)")
    parser.add_argument("--plot", default="runs/rate-twin-toy/loss.png" if quick else "", help="write the loss curves to this PNG file")
    args = parser.parse_args(argv)
    curves = {}
    runs = [("fast weights", True)] + ([("no fast weights", False)] if args.compare else [])
    for label, fast in runs:
        print(f"--- {label} ({args.rule} rule)")
        start = time.perf_counter()
        curves[label], net = train(args.steps, seed=args.seed, hidden_size=args.hidden, rule=args.rule, k=args.pairs,
                                   fast_weights=fast, log_every=max(1, args.steps // 10), return_net=True)
        print(f"{label}: {time.perf_counter() - start:.1f} s; loss first 20 steps "
              f"{sum(curves[label][:20]) / 20:.3f}, last 20 steps {sum(curves[label][-20:]) / 20:.3f}")
        sizes = dict(k=args.pairs, key_dim=8, value_dim=2)
        print(f"{label}: test MSE {evaluate(net, **sizes, alpha_off=not fast):.3f}"
              + (f", with alpha_off at test {evaluate(net, **sizes, alpha_off=True):.3f}" if fast else "")
              + f" (answering 0 scores 1.0; the mean of the {args.pairs} values {1 - 1 / args.pairs:.3f})")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, losses in curves.items():
            ax.plot(losses, label=label, lw=1)
        ax.axhline(1.0, color="gray", ls=":", lw=1, label="answer 0")
        ax.set_xlabel("training step")
        ax.set_ylabel("recall MSE")
        ax.legend()
        fig.tight_layout()
        os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
