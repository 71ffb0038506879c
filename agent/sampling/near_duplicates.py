"""Near-duplicate suppression with a 64-bit difference hash (dHash).

Video frames are heavily redundant: a candidate whose dHash is within
``max_hamming_distance`` bits of one of the last ``history_size`` frames
selected from the same source is dropped before it costs a limit credit.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

_BIT_WEIGHTS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def dhash(image: NDArray[np.uint8]) -> np.uint64:
    """64-bit dHash of a (H, W, 3) uint8 BGR (or (H, W) gray) image."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(64).astype(np.uint64)
    value: np.uint64 = np.uint64(np.bitwise_or.reduce(bits * _BIT_WEIGHTS))
    return value


def hamming_distances(value: np.uint64, history: NDArray[np.uint64]) -> NDArray[np.int64]:
    """(K,) number of differing bits between ``value`` and each of ``history`` (K,) uint64."""
    diff = np.bitwise_xor(history, value)
    if hasattr(np, "bitwise_count"):
        counted: NDArray[np.int64] = np.asarray(np.bitwise_count(diff), dtype=np.int64)
        return counted
    bits: NDArray[np.int64] = np.unpackbits(diff.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    return bits.astype(np.int64)


class NearDuplicateFilter:
    """Remembers the hashes of the last selected frames of each source."""

    def __init__(self, max_hamming_distance: int = 6, history_size: int = 64) -> None:
        self.max_hamming_distance = max_hamming_distance
        self.history_size = history_size
        self._history: dict[str, NDArray[np.uint64]] = {}
        self._fill: dict[str, int] = {}
        self._next: dict[str, int] = {}

    def is_duplicate(self, source: str, value: np.uint64) -> bool:
        """True when ``value`` is within the distance of a remembered hash of ``source``."""
        n = self._fill.get(source, 0)
        if n == 0:
            return False
        distances = hamming_distances(value, self._history[source][:n])
        return bool((distances <= self.max_hamming_distance).any())

    def remember(self, source: str, value: np.uint64) -> None:
        """Record a selected frame's hash (ring buffer of ``history_size``)."""
        if source not in self._history:
            self._history[source] = np.zeros(self.history_size, dtype=np.uint64)
            self._fill[source] = 0
            self._next[source] = 0
        i = self._next[source]
        self._history[source][i] = value
        self._next[source] = (i + 1) % self.history_size
        self._fill[source] = min(self._fill[source] + 1, self.history_size)
