"""Run ids of a sweep: a stable hash of what a run is, so a rerun finds its folder again.

The id of a run is the first 16 hex digits of the SHA-256 of its run kind, its protocol or task
name, its parameter overrides (as text, sorted by name), its seed, device and step count, written
as canonical JSON. The same SPEC therefore gives the same ids on every machine and every rerun;
changing any value of a run gives it a new id (and a new folder under ``DIR/runs``).
"""

from __future__ import annotations

import hashlib
import json

from neuromod.sweeps.spec import Point, SweepSpec

__all__ = ["run_id", "ID_LENGTH"]

#: hex digits kept of the SHA-256 (64 bits: a collision is out of reach for any sweep)
ID_LENGTH = 16


def run_id(spec: SweepSpec, point: Point) -> str:
    """The id of ``point`` of ``spec`` (module docstring)."""
    key = {"kind": spec.kind, "name": spec.name, "parameters": dict(sorted(point.overrides.items())),
           "seed": int(point.seed), "device": spec.device, "steps": spec.steps}
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]
