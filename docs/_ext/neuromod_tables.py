"""Sphinx extension: tables generated at build time from the package and the committed results.

Directives (each parses the reStructuredText it builds, so the tables never drift from their source):

``.. neuromod-schema:: result`` (or ``config``)
    The fields of ``result.json`` / ``config.json`` from :data:`neuromod.results.RESULT_SCHEMA` and
    :data:`~neuromod.results.CONFIG_SCHEMA`.
``.. neuromod-benchmark:: benchmarks/results/NAME.json``
    A benchmark record: its provenance line, its condition rows (``:columns:`` picks and orders
    them) and its metrics (``:metrics:`` picks them; ``:no-metrics:`` leaves them out).
``.. neuromod-task-targets::``
    Each task target of ``benchmarks/results/task_targets_cpu.json`` with the measured value and
    whether it was met.
``.. neuromod-task-checkpoints::``
    The shipped task checkpoints of ``models/data/task_checkpoints.json`` and their notes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

__all__ = ["fmt", "list_table", "schema_rows", "setup"]

REPO = Path(__file__).resolve().parents[2]


def fmt(value: Any) -> str:
    """A cell: numbers to 3 significant digits (integers in full), lists joined, None as a dash."""
    if value is None:
        return "--"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ") if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    return str(value).replace("|", "/").replace("\n", " ")


def _cell(text: str) -> str:
    return text if text.strip() else "\\ "


def list_table(header: list[str], rows: list[list[str]], widths: str | None = None) -> list[str]:
    """reStructuredText lines of a ``list-table`` with one header row."""
    lines = [".. list-table::", "   :header-rows: 1", "   :class: neuromod-table"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {_cell(row[0])}")
        lines += [f"     - {_cell(cell)}" for cell in row[1:]]
    lines.append("")
    return lines


def _type(spec: dict[str, Any]) -> str:
    if "const" in spec:
        return f"``\"{spec['const']}\"``"
    if "enum" in spec:
        return "one of " + ", ".join(f"``{v}``" for v in spec["enum"])
    kind = spec.get("type")
    if kind is None and "$ref" in spec:
        return "metric"
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds)
    if "items" in spec:
        text += f" of {spec['items'].get('type', 'items')}s"
    if kind == "object" and "additionalProperties" in spec:
        inner = spec["additionalProperties"]
        text += " of metrics (scalars, or groups of them)" if "$ref" in inner else f" of {inner.get('type')}s"
    if "minimum" in spec:
        text += f", at least {spec['minimum']}"
    return text


def schema_rows(schema: dict[str, Any]) -> list[list[str]]:
    """One row per field of a run-record schema: name, required, type, meaning."""
    required = set(schema.get("required", []))
    return [[f"``{name}``", "yes" if name in required else "no", _type(spec), spec.get("description", "")]
            for name, spec in schema["properties"].items()]


_FIELD_MEANING = {
    "schema": "version of the record layout",
    "kind": "what kind of run wrote the folder",
    "name": "protocol, task, benchmark or analysis name",
    "parameters": "every parameter of the run, units as text",
    "seed": "random seed of the run",
    "versions": "versions of Python, the platform and the packages the result depends on",
    "wall_time_s": "wall time of the run in seconds",
    "figures": "the figure files of the folder",
    "files": "the data files of the folder (``data.npz``, ``data.nix``, ``model.pt``, ...)",
    "resumed": "one record per resumption of a training run",
    "details": "what only this kind of run reports",
}


class SchemaTable(SphinxDirective):
    """``.. neuromod-schema:: result|config``: the fields of a run-record schema."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from neuromod.results import CONFIG_SCHEMA, RESULT_SCHEMA

        which = self.arguments[0]
        schema = {"result": RESULT_SCHEMA, "config": CONFIG_SCHEMA}[which]
        rows = schema_rows(schema)
        for row in rows:
            if not row[3]:
                row[3] = _FIELD_MEANING.get(row[0].strip("`"), "")
        return self._parse(list_table(["field", "required", "type", "meaning"], rows, "18 10 30 42"))

    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, node)
        return node.children


def _load(relative: str) -> dict[str, Any]:
    return json.loads((REPO / relative).read_text())


def _provenance(record: dict[str, Any], relative: str) -> str:
    details = record.get("details", {})
    machine = details.get("machine", {}) if isinstance(details.get("machine"), dict) else {}
    parts = [f"``{relative}``", f"device {fmt(record.get('device'))}"]
    if machine.get("gpus"):
        parts.append(", ".join(machine["gpus"]))
    if machine.get("cpu_count"):
        parts.append(f"{machine['cpu_count']} CPU cores")
    versions = record.get("versions", {})
    parts += [f"{name} {versions[name]}" for name in ("brian2", "brian2cuda", "torch") if name in versions]
    if details.get("date"):
        parts.append(str(details["date"])[:10])
    if record.get("git_revision"):
        parts.append(f"revision ``{record['git_revision'][:12]}``")
    return "Measured: " + "; ".join(parts) + "."


class BenchmarkTable(SphinxDirective):
    """``.. neuromod-benchmark:: FILE``: provenance, condition rows and metrics of a benchmark record."""

    required_arguments = 1
    option_spec = {"columns": directives.unchanged, "metrics": directives.unchanged, "no-metrics": directives.flag,
                   "no-conditions": directives.flag}

    def run(self) -> list[nodes.Node]:
        relative = self.arguments[0]
        self.env.note_dependency(str(REPO / relative))
        record = _load(relative)
        lines = [_provenance(record, relative), ""]
        conditions = record.get("conditions", [])
        if conditions and "no-conditions" not in self.options:
            if "columns" in self.options:
                columns = [c.strip() for c in self.options["columns"].split(",")]
            else:
                columns = [k for k in conditions[0] if any(row.get(k) is not None for row in conditions)]
            lines += list_table(columns, [[fmt(row.get(c)) for c in columns] for row in conditions])
        metrics = record.get("metrics", {})
        if metrics and "no-metrics" not in self.options:
            names = [m.strip() for m in self.options["metrics"].split(",")] if "metrics" in self.options else list(metrics)
            lines += list_table(["metric", "value"], [[f"``{name}``", fmt(metrics.get(name))] for name in names], "60 40")
        return SchemaTable._parse(self, lines)


_COMPARE = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


class TaskTargets(SphinxDirective):
    """``.. neuromod-task-targets::``: every task target, the measured value, met or not, and the seed."""

    def run(self) -> list[nodes.Node]:
        relative = "benchmarks/results/task_targets_cpu.json"
        self.env.note_dependency(str(REPO / relative))
        record = _load(relative)
        seeds = {row["task"]: row.get("seed") for row in record["conditions"]}
        rows = []
        for target in record["details"]["targets"]:
            value = record["metrics"].get(f"{target['task']}:{target['condition']}:{target['figure']}")
            met = None if value is None else _COMPARE[target["comparison"]](value, target["value"])
            rows.append([f"``{target['task']}``", fmt(seeds.get(target["task"])), target["condition"],
                         f"``{target['figure']}`` {target['comparison']} {fmt(target['value'])}", fmt(value),
                         fmt(met), target.get("meaning", "")])
        lines = [_provenance(record, relative), "",
                 *list_table(["task", "seed", "condition", "target", "measured", "met", "meaning"], rows,
                             "14 6 12 22 10 6 30")]
        return SchemaTable._parse(self, lines)


class TaskCheckpoints(SphinxDirective):
    """``.. neuromod-task-checkpoints::``: the shipped checkpoints, how each was trained, and the notes."""

    def run(self) -> list[nodes.Node]:
        relative = "models/data/task_checkpoints.json"
        self.env.note_dependency(str(REPO / relative))
        record = _load(relative)
        rows = [[f"``{c['file']}``", f"``{c['task']}``", fmt(c.get("seed")), fmt(c.get("steps")),
                 fmt(c.get("training_wall_time_s")), fmt(c.get("parameters_changed_from_full_config") or "--"),
                 fmt({k: v for k, v in c.get("held_out_during_training", {}).items()
                      if k not in ("final_train_loss", "n_parameters")})]
                for c in record["checkpoints"]]
        lines = [f"{record.get('what', '')}. Machine: {record.get('machine', '')}.", "",
                 *list_table(["file", "task", "seed", "steps", "training wall time (s)",
                              "changed from the task's defaults", "held out during training"], rows,
                             "16 12 5 6 8 20 33")]
        lines += [f"- {note}" for note in record.get("notes", [])] + [""]
        return SchemaTable._parse(self, lines)


def setup(app):
    """Register the directives with Sphinx."""
    app.add_directive("neuromod-schema", SchemaTable)
    app.add_directive("neuromod-benchmark", BenchmarkTable)
    app.add_directive("neuromod-task-targets", TaskTargets)
    app.add_directive("neuromod-task-checkpoints", TaskCheckpoints)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
