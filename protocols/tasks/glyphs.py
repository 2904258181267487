"""Glyphs for associative recall: a procedural alphabet, and a loader for a local Omniglot folder.

**Procedural alphabet** (:class:`ProceduralGlyphs`, the default; no data needed). A character is
1 to 3 pen strokes, each a quadratic Bezier curve through three random control points in the unit
square. A *drawing* of a character re-renders its strokes with the control points jittered and the
whole figure slightly shifted, so two drawings of one character look alike but are not identical
(the Omniglot situation: 20 people drawing the same symbol). Strokes are rasterised on a grid four
times finer than the glyph and max-pooled down, which gives binary images with strokes about one
pixel wide. Every episode draws brand-new characters, so nothing can be memorised across episodes.

**Omniglot** (:class:`OmniglotGlyphs`). Lake, Salakhutdinov & Tenenbaum (2015), "Human-level
concept learning through probabilistic program induction", Science 350:1332. The user points at
the unpacked dataset; the expected layout is the one of the official archives::

    <folder>/images_background/<alphabet>/<character>/*.png
    <folder>/images_evaluation/<alphabet>/<character>/*.png     (optional; used as held-out set)

Each PNG (105 x 105, black strokes on white) is inverted, area-averaged down to ``size`` x
``size`` and thresholded into a binary image. No download ever happens.

Both sources answer :meth:`~GlyphSource.episode`: ``k`` distinct characters, two different
drawings of each (one to study, one to query), as a float32 array ``(k, 2, size, size)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuromod.errors import InputError

__all__ = ["GlyphSource", "ProceduralGlyphs", "OmniglotGlyphs", "random_strokes", "render_strokes"]

#: points sampled along each stroke when rasterising (enough for a 4x supersampled 16 px glyph)
_POINTS_PER_STROKE = 48
#: supersampling factor of the rasteriser
_SUPERSAMPLE = 4
#: shortest distance between the two ends of a stroke (fraction of the glyph width)
_MIN_STROKE = 0.35


def random_strokes(rng: np.random.Generator, *, min_strokes: int = 1, max_strokes: int = 3) -> np.ndarray:
    """A new character: ``(n_strokes, 3, 2)`` Bezier control points in the unit square.

    Each stroke's end points are at least ``_MIN_STROKE`` apart (redrawn until they are), so no
    stroke collapses to a dot.
    """
    n = int(rng.integers(min_strokes, max_strokes + 1))
    strokes = rng.uniform(0.1, 0.9, size=(n, 3, 2))
    for i in range(n):
        while np.hypot(*(strokes[i, 2] - strokes[i, 0])) < _MIN_STROKE:
            strokes[i] = rng.uniform(0.1, 0.9, size=(3, 2))
    return strokes


def render_strokes(strokes: np.ndarray, size: int, *, rng: np.random.Generator | None = None, jitter: float = 0.0,
                   shift: float = 0.0) -> np.ndarray:
    """Rasterise Bezier ``strokes`` (n, 3, 2) into a binary ``size`` x ``size`` float32 image.

    ``jitter`` (fraction of the glyph width) moves every control point by Gaussian noise and
    ``shift`` moves the whole character uniformly, both drawn from ``rng``: a new drawing.
    """
    pts = np.asarray(strokes, dtype=np.float64)
    if rng is not None and (jitter > 0 or shift > 0):
        pts = pts + rng.normal(0.0, jitter, size=pts.shape) + rng.uniform(-shift, shift, size=(1, 1, 2))
    t = np.linspace(0.0, 1.0, _POINTS_PER_STROKE)[None, :, None]
    p0, p1, p2 = pts[:, 0:1, :], pts[:, 1:2, :], pts[:, 2:3, :]
    curve = ((1 - t) ** 2) * p0 + 2 * (1 - t) * t * p1 + (t**2) * p2  # (n, points, 2)
    fine = size * _SUPERSAMPLE
    xy = np.clip((curve.reshape(-1, 2) * fine).astype(int), 0, fine - 1)
    canvas = np.zeros((fine, fine), dtype=bool)
    canvas[xy[:, 1], xy[:, 0]] = True
    pooled = canvas.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).any(axis=(1, 3))
    return pooled.astype(np.float32)


class GlyphSource:
    """Where glyphs come from; :meth:`episode` is all a task needs."""

    size: int

    def episode(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` distinct characters, two drawings each: float32 ``(k, 2, size, size)`` in {0, 1}."""
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError


class ProceduralGlyphs(GlyphSource):
    """New random characters for every episode (see the module docstring).

    ``size``: glyph width in pixels; ``jitter``: control-point noise between drawings (fraction of
    the width); ``shift``: largest whole-glyph shift between drawings (fraction of the width).
    """

    def __init__(self, size: int = 10, *, jitter: float = 0.03, shift: float = 0.04, max_strokes: int = 3):
        if size < 4:
            raise InputError(f"glyph size needs at least 4 pixels, got {size}")
        self.size = int(size)
        self.jitter = float(jitter)
        self.shift = float(shift)
        self.max_strokes = int(max_strokes)

    def episode(self, k: int, rng: np.random.Generator) -> np.ndarray:
        out = np.zeros((k, 2, self.size, self.size), dtype=np.float32)
        for i in range(k):
            strokes = random_strokes(rng, max_strokes=self.max_strokes)
            for j in range(2):
                out[i, j] = render_strokes(strokes, self.size, rng=rng, jitter=self.jitter, shift=self.shift)
        return out

    def describe(self) -> dict:
        return {"source": "procedural", "size": self.size, "jitter": self.jitter, "shift": self.shift,
                "max_strokes": self.max_strokes}


def _load_png_ink(path: Path, size: int) -> np.ndarray:
    """One Omniglot PNG as a binary ``size`` x ``size`` ink image (1 = stroke)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read {str(path)!r} as an image: {exc}") from None
    ink = Image.fromarray(((1.0 - gray) * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BOX)
    return (np.asarray(ink, dtype=np.float32) / 255.0 > 0.08).astype(np.float32)


class OmniglotGlyphs(GlyphSource):
    """Characters from a local Omniglot folder (layout in the module docstring).

    ``split``: ``"background"`` (the training alphabets) or ``"evaluation"`` (held out; falls back
    to ``background`` with an :class:`InputError` if the folder lacks it). All images are read
    once, at construction.
    """

    def __init__(self, folder: str | Path, size: int = 10, *, split: str = "background"):
        self.folder = Path(folder).expanduser()
        self.size = int(size)
        self.split = split
        if split not in ("background", "evaluation"):
            raise InputError(f"Omniglot split must be 'background' or 'evaluation', got {split!r}")
        if not self.folder.is_dir():
            raise InputError(f"Omniglot folder {str(self.folder)!r} does not exist or is not a folder")
        root = self.folder / f"images_{split}"
        if not root.is_dir():
            raise InputError(
                f"Omniglot folder {str(self.folder)!r} has no images_{split}/ subfolder; "
                "expected <folder>/images_background/<alphabet>/<character>/*.png")
        characters: list[np.ndarray] = []
        names: list[str] = []
        for alphabet in sorted(p for p in root.iterdir() if p.is_dir()):
            for character in sorted(p for p in alphabet.iterdir() if p.is_dir()):
                files = sorted(character.glob("*.png"))
                if files:
                    characters.append(np.stack([_load_png_ink(f, self.size) for f in files]))
                    names.append(f"{alphabet.name}/{character.name}")
        if len(characters) < 2:
            raise InputError(
                f"Omniglot folder {str(root)!r} holds {len(characters)} character(s) with PNG drawings; "
                "expected <alphabet>/<character>/*.png with at least 2 characters")
        self.characters = characters
        self.names = names

    @property
    def n_characters(self) -> int:
        return len(self.characters)

    def episode(self, k: int, rng: np.random.Generator) -> np.ndarray:
        if k > self.n_characters:
            raise InputError(f"an episode needs {k} distinct characters, the Omniglot folder has {self.n_characters}")
        out = np.zeros((k, 2, self.size, self.size), dtype=np.float32)
        for i, c in enumerate(rng.choice(self.n_characters, size=k, replace=False)):
            drawings = self.characters[c]
            pick = rng.choice(len(drawings), size=2, replace=len(drawings) < 2)
            out[i] = drawings[pick]
        return out

    def describe(self) -> dict:
        return {"source": "omniglot", "folder": str(self.folder), "split": self.split, "size": self.size,
                "n_characters": self.n_characters}
