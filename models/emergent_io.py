"""Readers for the text files the C++ simulator *emergent* writes: DataTable dumps and ``.wts`` weights.

Two formats, both plain text:

* **DataTable dump** (``*.dat``, ``convolve_nxx1.txt``): line 1 starts with ``_H:``, every other line
  with ``_D:``; fields are tab-separated and the first field is that marker. Header names carry a
  type prefix: ``|`` int, ``%`` float, ``$`` string (values in double quotes), ``&`` variant (read
  as float). A matrix column is spread over several header cells: the first is named
  ``name[nd:i,j]<nd:d1,d2>`` (its index, then the matrix shape), the others only ``name[nd:i,j]``.
  :func:`read_datatable` gives one array per column name; a matrix column becomes an array of shape
  ``(rows, d1, d2, ...)`` with each cell placed at the index its header names.
* **Weights** (``*.wts``, emergent's ``<Fmt TEXT>``): ``<Lay Name>`` blocks; per receiving unit
  ``<UgUn k>`` ``<Un>``, its bias weight, then per projection ``<Cg g Fm:Sender>`` ``<Cn n>`` and
  ``n`` lines ``sender_index weight``. :func:`read_weights` gives, per receiving layer and sending
  layer, the weight matrix ``W[receiver, sender]`` (NaN where there is no connection).

The numbers in these files are float32 values printed with 6 significant digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuromod.errors import InputError

__all__ = ["EmergentTable", "read_datatable", "read_weights", "LayerWeights"]

_CELL = re.compile(r"^(?P<type>[|%$&])(?P<name>[^\[<]+)(?:\[(?P<nd>\d+):(?P<index>[\d,]+)\])?(?:<(?P<snd>\d+):(?P<shape>[\d,]+)>)?$")


@dataclass
class EmergentTable:
    """Columns of an emergent DataTable: ``table["net"]`` is an array with one entry per row.

    ``columns`` keeps the column names in file order; matrix columns have shape ``(rows, *cell)``.
    """

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"column {name!r} not in {self.path}; columns: {', '.join(self.columns)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return 0 if not self.columns else len(next(iter(self.columns.values())))

    @property
    def names(self) -> list[str]:
        return list(self.columns)


def read_datatable(path: str | Path) -> EmergentTable:
    """Read an emergent DataTable text dump (``_H:`` header, ``_D:`` rows) into arrays.

    Ints become int64, floats and variants float64, strings Python strings with their quotes
    removed. Raises :class:`InputError` on a file that is not in this format.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read emergent table {str(path)!r}: {exc.strerror or exc}") from None
    if not lines or not lines[0].startswith("_H:"):
        raise InputError(f"{path}: expected an emergent DataTable (first line starting with _H:)")
    header = lines[0].split("\t")[1:]
    rows = [line.split("\t")[1:] for line in lines[1:] if line.startswith("_D:")]
    # one entry per header cell: (column name, type, index tuple or None)
    cells: list[tuple[str, str, tuple[int, ...] | None]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    for text in header:
        match = _CELL.match(text.strip())
        if match is None:
            raise InputError(f"{path}: cannot parse header cell {text!r}")
        name, kind = match["name"], match["type"]
        index = tuple(int(i) for i in match["index"].split(",")) if match["index"] else None
        if match["shape"]:
            shapes[name] = tuple(int(i) for i in match["shape"].split(","))
        cells.append((name, kind, index))
    columns: dict[str, np.ndarray] = {}
    kinds = {name: kind for name, kind, _ in cells}
    for name, kind in kinds.items():
        n = len(rows)
        if name in shapes:
            columns[name] = np.full((n, *shapes[name]), np.nan) if kind != "|" else np.zeros((n, *shapes[name]), dtype=np.int64)
        elif kind == "$":
            columns[name] = np.empty(n, dtype=object)
        elif kind == "|":
            columns[name] = np.zeros(n, dtype=np.int64)
        else:
            columns[name] = np.zeros(n, dtype=np.float64)
    for r, row in enumerate(rows):
        if len(row) != len(cells):
            raise InputError(f"{path}: row {r + 1} has {len(row)} fields, the header has {len(cells)}")
        for (name, kind, index), value in zip(cells, row):
            if kind == "$":
                parsed: object = value.strip().strip('"')
            elif kind == "|":
                parsed = int(value)
            else:
                parsed = float(value)
            if index is not None and name in shapes:
                columns[name][(r, *index)] = parsed
            else:
                columns[name][r] = parsed
    return EmergentTable(columns=columns, path=path)


@dataclass
class LayerWeights:
    """Weights into one layer read from a ``.wts`` file.

    ``bias``: bias weight per unit; ``projections``: sending layer name -> ``W[receiver, sender]``
    (NaN where the receiver has no connection from that sender).
    """

    name: str
    bias: np.ndarray
    projections: dict[str, np.ndarray]


def read_weights(path: str | Path) -> dict[str, LayerWeights]:
    """Read an emergent ``.wts`` text file: layer name -> :class:`LayerWeights`."""
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except OSError as exc:
        raise InputError(f"cannot read emergent weights {str(path)!r}: {exc.strerror or exc}") from None
    layers: dict[str, dict] = {}
    layer: dict | None = None
    unit: int | None = None
    sender: str | None = None
    expect_bias = False
    remaining = 0
    for line in lines:
        if line.startswith("<Lay "):
            layer = {"name": line[5:-1].strip(), "bias": {}, "cons": {}}
            layers[layer["name"]] = layer
        elif line.startswith("<UgUn "):
            unit = int(line[6:-1].strip())
        elif line == "<Un>":
            expect_bias = True
        elif line.startswith("<Cg "):
            sender = line.split("Fm:", 1)[1].rstrip(">").strip()
        elif line.startswith("<Cn "):
            remaining = int(line[4:-1])
        elif line.startswith("<") or not line:
            continue
        elif expect_bias:
            if layer is None or unit is None:
                raise InputError(f"{path}: unit values outside a <Lay> block")
            layer["bias"][unit] = float(line)
            expect_bias = False
        elif remaining > 0:
            if layer is None or unit is None or sender is None:
                raise InputError(f"{path}: connection values outside a <Cg> block")
            s_index, weight = line.split()
            layer["cons"].setdefault(sender, []).append((unit, int(s_index), float(weight)))
            remaining -= 1
    n_units = {name: (max(lay["bias"]) + 1 if lay["bias"] else 0) for name, lay in layers.items()}
    result: dict[str, LayerWeights] = {}
    for name, lay in layers.items():
        bias = np.array([lay["bias"][i] for i in range(n_units[name])], dtype=np.float64)
        projections = {}
        for send_name, entries in lay["cons"].items():
            w = np.full((n_units[name], n_units.get(send_name, 0) or 1 + max(e[1] for e in entries)), np.nan)
            for r, s, value in entries:
                w[r, s] = value
            projections[send_name] = w
        result[name] = LayerWeights(name=name, bias=bias, projections=projections)
    return result
