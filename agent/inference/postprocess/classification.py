"""Classification heads: raw (B, C) outputs → per-class confidences."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from agent.errors import ModelOutputError


def looks_like_probabilities(values: NDArray[np.float32], multi_label: bool) -> bool:
    """True when ``values`` are already in [0, 1] (and rows sum to 1 for single-label)."""
    if values.size == 0 or values.min() < 0.0 or values.max() > 1.0:
        return False
    return multi_label or bool(np.allclose(values.sum(axis=1), 1.0, atol=1e-3))


def class_confidences(
    output: NDArray[np.float32], num_classes: int, activation: str, multi_label: bool
) -> NDArray[np.float32]:
    """Turn raw classifier output into confidences.

    Args:
        output: (B, C) or (B, C, 1, 1) float32 logits or probabilities.
        num_classes: C, the number of class names.
        activation: "softmax", "sigmoid", "none" or "auto" (softmax for single-label,
            sigmoid for multi-label, unless the values already are probabilities).
        multi_label: independent per-class scores instead of one distribution.

    Returns:
        (B, C) float32 confidences in [0, 1].
    """
    scores = output.reshape(output.shape[0], -1).astype(np.float32)
    if scores.shape[1] != num_classes:
        raise ModelOutputError(
            f"classifier output has {scores.shape[1]} classes per frame but the model declares "
            f"{num_classes} class names"
        )
    if activation == "auto":
        if looks_like_probabilities(scores, multi_label):
            activation = "none"
        else:
            activation = "sigmoid" if multi_label else "softmax"
    if activation == "softmax":
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs: NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return probs
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)
    return scores
