"""Tiny ONNX graphs with known outputs, built with the ``onnx`` package.

Each graph ignores the pixel values: it emits constant tensors broadcast to the
input's batch size (output = const + 0 * mean(input)), so tests know exactly
what the postprocessor must produce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _batch_broadcast(name: str, const: np.ndarray, nodes: list, inits: list) -> None:
    """Append nodes computing ``name`` = const[None] broadcast over the batch of 'images'."""
    rank = const.ndim + 1
    zero_shape = [-1] + [1] * const.ndim
    inits.append(numpy_helper.from_array(const[None].astype(np.float32), f"{name}_const"))
    inits.append(numpy_helper.from_array(np.array(zero_shape, np.int64), f"{name}_shape"))
    inits.append(numpy_helper.from_array(np.array([0.0], np.float32), f"{name}_zero"))
    nodes += [
        helper.make_node("ReduceMean", ["images"], [f"{name}_mean"], keepdims=1, axes=[1, 2, 3]),
        helper.make_node("Mul", [f"{name}_mean", f"{name}_zero"], [f"{name}_z"]),
        helper.make_node("Reshape", [f"{name}_z", f"{name}_shape"], [f"{name}_zr"]),
        helper.make_node("Add", [f"{name}_zr", f"{name}_const"], [name]),
    ]
    assert rank >= 2


def build_constant_model(
    path: Path,
    outputs: dict[str, np.ndarray],
    *,
    input_hw: tuple[int, int] = (64, 64),
    batch: int | str = "batch",
    metadata: dict[str, str] | None = None,
    manifest: dict | None = None,
) -> Path:
    """Write a model whose outputs are ``outputs`` (each without batch dim) per frame."""
    nodes: list = []
    inits: list = []
    graph_outputs = []
    for name, const in outputs.items():
        _batch_broadcast(name, const, nodes, inits)
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, *const.shape]))
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, *input_hw])],
        graph_outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    if manifest is not None:
        path.with_suffix(".json").write_text(json.dumps(manifest))
    return path
