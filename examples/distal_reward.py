"""
Distal reward
=============

Izhikevich (2007): dopamine-modulated STDP solves the distal reward problem.

1000 Izhikevich neurons (800 excitatory, 200 inhibitory), 100 synapses each; one excitatory
synapse is rewarded with dopamine 1-3 s after each time its post neuron fires within 20 ms of its
pre neuron. It writes ``runs/distal-reward/`` (``result.json``, ``distal_reward.png``) and prints
how the chosen synapse compares with the rest. The paper's run is an hour of simulated time
(``--duration 3600``: a few minutes on ``cpp_standalone``, event-driven); the default here is 20
minutes::

    python examples/distal_reward.py [--duration 1200] [--device cpp_standalone]

With ``NEUROMOD_QUICK=1`` (the documentation gallery) it simulates 20 s on the Brian2 runtime
device unless told otherwise: too short for the chosen synapse to stand out, long enough to show
the figure.
"""

import argparse
import os

from neuromod.protocols import run_protocol

QUICK = os.environ.get("NEUROMOD_QUICK") == "1"  # a short run for the documentation gallery

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--device", default="runtime" if QUICK else "cpp_standalone", help="runtime | cpp_standalone | cuda_standalone")
parser.add_argument("--duration", type=float, default=20.0 if QUICK else 1200.0, help="simulated seconds")
parser.add_argument("--out", default="runs/distal-reward")
args = parser.parse_args()

result = run_protocol("distal-reward", {"duration": f"{args.duration}*s", "record_every": "2*s" if QUICK else "10*s"}, out=args.out, device=args.device)

m = result.metrics
print(f"chosen synapse: {m['w_chosen_start']:.2f} -> {m['w_chosen_final']:.2f} (maximum {m['w_max']:g}), "
      f"stronger than {100 * m['chosen_rank_fraction']:.1f} % of the {m['n_plastic_synapses']} excitatory synapses")
print(f"other synapses: mean {m['w_mean_start']:.2f} -> {m['w_mean_final']:.2f} (sd {m['w_sd_final']:.2f})")
print(f"{m['n_rewards']} rewards for {m['n_coincidences']} pre-then-post coincidences; "
      f"firing {m['rate_exc_hz']:.2f} Hz (excitatory), {m['rate_inh_hz']:.2f} Hz (inhibitory)")
print(f"figure: {args.out}/distal_reward.png")
