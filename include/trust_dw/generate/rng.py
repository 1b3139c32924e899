"""Random streams: one numpy Generator per (seed, purpose, day), independent of run length."""

from __future__ import annotations

import numpy as np

# Fixed stream numbers (never hash(): str hashing is randomised per process).
WORLD = 1
ORDERS = 2
PRICES = 3
CONTENT = 4
VIOLATIONS = 5
FAULTS = 6


def stream(seed: int, purpose: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), purpose, int(day)]))


def pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weighted draw: indices into the weights whose cumulative sum is ``cum`` (u uniform in [0, 1))."""
    idx = np.searchsorted(cum, u * (1 - 1e-9) * cum[-1], side="right")
    return np.minimum(idx, len(cum) - 1)


def pick_within(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weighted draw inside groups: group g owns positions [lo[g], hi[g]) of the weights' cumsum ``cum``.

    ``lo``/``hi`` are per draw. Groups must have positive total weight.
    """
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    total = cum[hi - 1] - base
    idx = np.searchsorted(cum, base + u * (1 - 1e-9) * total, side="right")
    return np.clip(idx, lo, hi - 1)
