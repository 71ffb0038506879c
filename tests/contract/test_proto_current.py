"""The checked-in gRPC code must be what `make proto` generates from proto/ (no drift)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ["control_pb2.py", "control_pb2.pyi", "control_pb2_grpc.py"]


def test_generated_code_matches_proto(tmp_path):
    pytest.importorskip("grpc_tools")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"), f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         str(ROOT / "proto" / "agent" / "control" / "v1" / "control.proto")],
        check=True,
    )  # fmt: skip
    for name in GENERATED:
        fresh = (tmp_path / "agent" / "control" / "v1" / name).read_text()
        checked_in = (ROOT / "agent" / "control" / "v1" / name).read_text()
        assert fresh == checked_in, f"agent/control/v1/{name} is stale: run `make proto` and commit"


def test_stubs_import():
    from agent.control.v1 import control_pb2, control_pb2_grpc

    assert control_pb2.DESCRIPTOR.package == "framesift.control.v1"
    assert hasattr(control_pb2_grpc, "ControlStub")
