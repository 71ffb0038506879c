"""Packaging: systemd units, the .deb, container recipes, the wheel in a fresh virtualenv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["framesift.service", "framesift-hub.service"]


def _system_python_version() -> str | None:
    if not Path("/usr/bin/python3").exists():
        return None
    out = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or None


@pytest.fixture(scope="module")
def staged_root(tmp_path_factory):
    """A root with the unit files, the ExecStart binary and systemd's own units."""
    root = tmp_path_factory.mktemp("root")
    (root / "opt/framesift/bin").mkdir(parents=True)
    (root / "opt/framesift/bin/framesift").write_text("#!/bin/sh\nexit 0\n")
    (root / "opt/framesift/bin/framesift").chmod(0o755)
    (root / "bin").mkdir()
    (root / "bin/kill").write_text("#!/bin/sh\n")
    (root / "bin/kill").chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(ROOT / "systemd" / unit, root / "etc/systemd/system" / unit)
    if Path("/lib/systemd/system").is_dir():
        shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    return root


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_verify_clean(staged_root, unit):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={staged_root}", f"/etc/systemd/system/{unit}"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stderr + proc.stdout


@pytest.mark.parametrize("unit", UNITS)
def test_units_have_the_required_settings(unit):
    text = (ROOT / "systemd" / unit).read_text()
    for key in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=framesift", "StateDirectory=",
                "ConfigurationDirectory=", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                "PrivateTmp=yes", "RestrictAddressFamilies="):  # fmt: skip
        assert key in text, f"{unit}: {key} missing"
    if unit == "framesift.service":
        assert "RuntimeDirectory=framesift" in text and "/dev/nvhost" in text and "/dev/nvidia" in text


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    pyver = _system_python_version()
    if shutil.which("dpkg-deb") is None or pyver is None:
        pytest.skip("needs dpkg-deb and /usr/bin/python3")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    out = tmp_path_factory.mktemp("deb")
    proc = subprocess.run(["bash", str(ROOT / "packaging/build-deb.sh"), arch, pyver, str(out)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable),
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1]), arch


def test_deb_metadata_and_contents(deb):
    path, arch = deb
    info = subprocess.run(["dpkg-deb", "--info", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Package: framesift" in info and f"Architecture: {arch}" in info
    assert re.search(r"Version: \d+\.\d+\.\d+", info)
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert script in info
    contents = subprocess.run(["dpkg-deb", "--contents", str(path)], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    for member in ("./etc/framesift/agent.toml", "./lib/systemd/system/framesift.service",
                   "./lib/systemd/system/framesift-hub.service", "./opt/framesift/bin/framesift",
                   "./opt/framesift/pyvenv.cfg"):  # fmt: skip
        assert member in contents
    assert "site-packages/onnxruntime/" in contents and "site-packages/agent/control/v1/control_pb2.py" in contents
    control = subprocess.run(["dpkg-deb", "-f", str(path), "Depends"], capture_output=True, text=True).stdout
    assert "python3" in control and "adduser" in control


def test_deb_extracted_runs(deb, tmp_path):
    path, _ = deb
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(path), str(root)], check=True)
    assert (root / "etc/framesift/agent.toml").read_text().count('listen = "unix:/run/framesift/control.sock"') == 1
    framesift = root / "opt/framesift/bin/framesift"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    version = subprocess.run([str(framesift), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("framesift "), version.stderr
    cfg = subprocess.run([str(framesift), "config", "validate", str(ROOT / "examples/active_learning.json")],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert cfg.returncode == 0 and cfg.stdout.startswith("valid"), cfg.stdout + cfg.stderr
    toml = subprocess.run([str(framesift), "run", "--check", "--config", str(root / "etc/framesift/agent.toml")],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert toml.returncode == 0, toml.stdout + toml.stderr


def test_dockerfiles_lint():
    files = sorted((ROOT / "packaging/docker").glob("Dockerfile.*"))
    assert {f.name for f in files} == {"Dockerfile.jetson", "Dockerfile.x86-gpu"}
    hadolint = shutil.which("hadolint") or (Path(sys.executable).parent / "hadolint")
    if Path(hadolint).exists():
        proc = subprocess.run([str(hadolint), "--no-color", "--config", str(ROOT / "packaging/docker/.hadolint.yaml"),
                               *map(str, files)], capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for f in files:  # structural checks that hold whether or not hadolint ran
        text = f.read_text()
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        assert lines[0].startswith("FROM ")
        assert re.search(r"^USER \d+$", text, re.M) and "VOLUME" in text and "ENTRYPOINT" in text
        assert "onnxruntime-gpu" in text or "[gpu" in text
    assert "l4t-jetpack" in (ROOT / "packaging/docker/Dockerfile.jetson").read_text()


@pytest.mark.slow
def test_wheel_smoke_in_fresh_venv(tmp_path, models_dir, data_dir):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(wheel_dir), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    wheel = next(wheel_dir.glob("framesift-*.whl"))
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True).stdout
    assert "agent/control/v1/control_pb2_grpc.py" in names and "tests/" not in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", f"{wheel}[cpu]"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    fs = str(venv / "bin/framesift")
    assert subprocess.run([fs, "--version"], capture_output=True, text=True, env=env).stdout.startswith("framesift")
    pred = subprocess.run([fs, "predict", str(data_dir / "astronaut.jpg"), "--model",
                           str(models_dir / "nudenet/1/model.onnx")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)  # fmt: skip
    assert pred.returncode == 0, pred.stderr
    assert '"FACE_FEMALE"' in pred.stdout
    stubs = subprocess.run([str(venv / "bin/python"), "-c", "from agent.control.v1 import control_pb2_grpc, "
                            "control_pb2; print(control_pb2.DESCRIPTOR.package)"], capture_output=True, text=True,
                           env=env, cwd=tmp_path)  # fmt: skip
    assert stubs.stdout.strip() == "framesift.control.v1", stubs.stderr
