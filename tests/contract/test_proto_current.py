"""The checked-in gRPC code must be what `make proto` generates from proto/ (no drift).

The generators stamp their own versions into the code (grpcio-tools' ``GRPC_GENERATED_VERSION``,
protobuf's version comment and runtime check); a clean install may bring a newer grpcio-tools than
the one that generated the checked-in files, so those stamps are compared as ``<version>``: a
changed .proto is drift, a newer generator is not.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ["control_pb2.py", "control_pb2.pyi", "control_pb2_grpc.py"]
VERSION_STAMPS = [
    (re.compile(r"^GRPC_GENERATED_VERSION = '[^']*'$", re.M), "GRPC_GENERATED_VERSION = '<version>'"),
    (re.compile(r"^# Protobuf Python Version: .*$", re.M), "# Protobuf Python Version: <version>"),
    (re.compile(r"(_runtime_version\.Domain\.PUBLIC,\n)\s*\d+,\n\s*\d+,\n\s*\d+,\n"), r"\1<version>\n"),
]


def without_version_stamps(code: str) -> str:
    for pattern, replacement in VERSION_STAMPS:
        code = pattern.sub(replacement, code)
    return code


def test_generated_code_matches_proto(tmp_path):
    pytest.importorskip("grpc_tools")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"), f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         str(ROOT / "proto" / "agent" / "control" / "v1" / "control.proto")],
        check=True,
    )  # fmt: skip
    for name in GENERATED:
        fresh = without_version_stamps((tmp_path / "agent" / "control" / "v1" / name).read_text())
        checked_in = without_version_stamps((ROOT / "agent" / "control" / "v1" / name).read_text())
        assert fresh == checked_in, f"agent/control/v1/{name} is stale: run `make proto` and commit"


def test_stubs_import():
    from agent.control.v1 import control_pb2, control_pb2_grpc

    assert control_pb2.DESCRIPTOR.package == "framesift.control.v1"
    assert hasattr(control_pb2_grpc, "ControlStub")


def test_version_stamps_are_masked_but_the_code_is_not():
    stamped = "GRPC_GENERATED_VERSION = '1.85.1'\nclass ControlStub:\n"
    newer = "GRPC_GENERATED_VERSION = '1.85.4'\nclass ControlStub:\n"
    assert without_version_stamps(stamped) == without_version_stamps(newer)
    assert without_version_stamps(stamped) != without_version_stamps(newer.replace("ControlStub", "Other"))
    pb2 = "ValidateProtobufRuntimeVersion(\n    _runtime_version.Domain.PUBLIC,\n    7,\n    35,\n    1,\n"
    assert without_version_stamps(pb2) == without_version_stamps(pb2.replace("35", "36"))
