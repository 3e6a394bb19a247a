"""Radiographs of other anatomy than the chest: a hand, a knee and a skull, deterministic by seed.

They exist to measure the input checks (`edgexray_export.data.not_chest`): a model trained on chest
films should refuse them. They are drawn like the chest films of `synthetic` (bone bright on a dark
background, cortex brighter than marrow, soft tissue, the same exposure and noise through
`synthetic.expose`), with a random pose, so that only the anatomy tells them from a chest.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from edgexray_export.data.synthetic import _smooth_noise, _soft, expose


def _coordinates(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, ...]:
    """(u, v): -1..1 across and down the film, turned by a few degrees, scaled and shifted."""
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None] * max(1.0, height / width)
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :] * max(1.0, width / height)
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.9, 1.15)
    du, dv = rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)
    cos, sin = np.cos(angle), np.sin(angle)
    u = ((xs - du) * cos + (ys - dv) * sin) * scale
    v = (-(xs - du) * sin + (ys - dv) * cos) * scale
    return u.astype(np.float32), v.astype(np.float32)


def _distance_to_segment(
    u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    du, dv = b[0] - a[0], b[1] - a[1]
    t = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / max(du * du + dv * dv, 1e-9), 0, 1)
    return np.hypot(u - (a[0] + t * du), v - (a[1] + t * dv))


def _bone(
    u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float], radius: float
) -> np.ndarray:
    """A long bone from a to b: 0..1 density, the cortex (rim) brighter than the marrow."""
    d = _distance_to_segment(u, v, a, b) / radius
    inside = _soft(1.0 - d, 0.08)
    return inside * (0.55 + 0.45 * np.clip(d, 0, 1) ** 3)


def _blob(
    u: np.ndarray, v: np.ndarray, centre: tuple[float, float], ru: float, rv: float
) -> np.ndarray:
    d = np.hypot((u - centre[0]) / ru, (v - centre[1]) / rv)
    return _soft(1.0 - d, 0.1) * (0.6 + 0.4 * np.clip(d, 0, 1) ** 3)


def _film(
    rng: np.random.Generator, tissue: np.ndarray, bone: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Soft tissue and bone (0..1 each) -> radiograph pixels: trabecular texture in the bone."""
    trabecular = 0.85 + 0.15 * _smooth_noise(rng, shape, max(16, max(shape) // 6))
    density = 0.05 + rng.uniform(0.2, 0.3) * tissue + rng.uniform(0.5, 0.65) * bone * trabecular
    return expose(density, rng)


def hand(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A PA hand: radius and ulna, carpal bones, five metacarpals and their phalanges."""
    u, v = _coordinates(rng, height, width)
    bone = np.zeros_like(u)
    tissue = np.zeros_like(u)
    spread = rng.uniform(0.8, 1.2)
    for finger in range(4):
        x = -0.32 + 0.2 * finger + rng.uniform(-0.02, 0.02)
        tilt = (finger - 1.5) * 0.08 * spread
        knuckle = (x + tilt * 0.4, rng.uniform(-0.05, 0.05))
        base = (x * 0.6, 0.45)
        bone = np.maximum(bone, _bone(u, v, base, knuckle, 0.045))
        start = knuckle
        for length in (0.3, 0.2, 0.14):
            end = (start[0] + tilt * length, start[1] - length * rng.uniform(0.9, 1.1))
            bone = np.maximum(bone, _bone(u, v, start, end, 0.038))
            start = (end[0] + tilt * 0.03, end[1] - 0.03)  # a joint space
        tissue = np.maximum(tissue, _soft(0.09 - _distance_to_segment(u, v, base, start), 0.03))
    thumb_base, thumb_tip = (-0.35, 0.45), (-0.8, 0.0)
    bone = np.maximum(bone, _bone(u, v, thumb_base, (-0.6, 0.2), 0.05))
    bone = np.maximum(bone, _bone(u, v, (-0.63, 0.16), thumb_tip, 0.042))
    tissue = np.maximum(
        tissue, _soft(0.1 - _distance_to_segment(u, v, thumb_base, thumb_tip), 0.03)
    )
    for _ in range(8):  # carpal bones
        centre = (rng.uniform(-0.25, 0.25), rng.uniform(0.55, 0.75))
        bone = np.maximum(bone, _blob(u, v, centre, rng.uniform(0.05, 0.09), 0.06))
    bone = np.maximum(bone, _bone(u, v, (-0.15, 0.8), (-0.2, 1.4), 0.1))  # radius
    bone = np.maximum(bone, _bone(u, v, (0.18, 0.82), (0.2, 1.4), 0.07))  # ulna
    tissue = np.maximum(tissue, _blob(u, v, (0.0, 0.55), 0.45, 0.35))
    tissue = np.maximum(tissue, _soft(0.33 - np.abs(u), 0.04) * (v > 0.6))
    return _film(rng, tissue, bone, u.shape)


def knee(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An AP knee: femur with its two condyles, tibial plateau and shaft, fibula, patella."""
    u, v = _coordinates(rng, height, width)
    gap = rng.uniform(0.05, 0.09)  # the joint space
    femur = _bone(u, v, (0.0, -1.4), (0.0, -0.25), rng.uniform(0.17, 0.21))
    condyles = np.maximum(
        _blob(u, v, (-0.2, -0.12), 0.2, 0.16), _blob(u, v, (0.2, -0.12), 0.19, 0.15)
    )
    plateau = _blob(u, v, (0.0, gap + 0.08), 0.42, 0.1)
    tibia = _bone(u, v, (0.0, gap + 0.1), (0.02, 1.4), rng.uniform(0.16, 0.2))
    fibula = _bone(u, v, (0.36, gap + 0.2), (0.33, 1.4), 0.06)
    patella = 0.6 * _blob(u, v, (rng.uniform(-0.05, 0.05), -0.25), 0.13, 0.15)
    bone = np.maximum.reduce([femur, condyles, plateau, tibia, fibula, patella])
    tissue = _soft(rng.uniform(0.6, 0.75) - np.abs(u), 0.06)
    return _film(rng, tissue, bone, u.shape)


def skull(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A lateral skull: calvarium (outer and inner table), orbit, facial bones, teeth, mandible
    and the upper cervical spine."""
    u, v = _coordinates(rng, height, width)
    ru, rv = rng.uniform(0.72, 0.82), rng.uniform(0.6, 0.7)
    r = np.hypot(u / ru, (v + 0.15) / rv)
    calvarium = _soft(1.0 - r, 0.02) * (0.35 + 0.65 * np.exp(-(((1.0 - r) / 0.05) ** 2)))
    inner_table = 0.5 * np.exp(-(((r - 0.9) / 0.025) ** 2))
    face = _blob(u, v, (-0.55, 0.45), 0.3, 0.35) * 0.5
    orbit = _blob(u, v, (-0.6, 0.2), 0.14, 0.13)
    teeth = _soft(0.05 - np.abs(v - 0.72), 0.015) * _soft(0.25 - np.abs(u + 0.5), 0.02)
    mandible = np.maximum(
        _bone(u, v, (-0.75, 0.85), (-0.05, 0.9), 0.06),
        _bone(u, v, (-0.05, 0.9), (0.05, 0.45), 0.06),
    )
    spine = np.maximum.reduce([_blob(u, v, (0.3, 0.95 + 0.22 * k), 0.1, 0.08) for k in range(3)])
    bone = np.maximum.reduce(
        [calvarium, inner_table, face - 0.4 * orbit, teeth, mandible, 0.8 * spine]
    )
    tissue = np.maximum(_soft(1.08 - r, 0.04), _blob(u, v, (-0.2, 0.7), 0.7, 0.45))
    return _film(rng, tissue, np.clip(bone, 0, 1), u.shape)


DRAWERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "hand": hand,
    "knee": knee,
    "skull": skull,
}
