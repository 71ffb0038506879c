"""What a field site feeds the CLI: hostile config documents and broken symlinks get one clear error each."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

VALID = {"enabled": True, "persist_predictions": True,
         "sampling_strategies": [{"name": "a", "type": "random", "traffic_percentage": 0.5}],
         "batching_strategy": {"batches_name_prefix": "b", "recreation_interval": "never"}}  # fmt: skip


def with_limit(value: str) -> bytes:
    text = json.dumps(VALID).replace('"traffic_percentage": 0.5', '"traffic_percentage": 0.5, "limits": '
                                     f'[{{"type": "daily", "value": {value}}}]')  # fmt: skip
    return text.encode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "$: nested deeper than 32 levels", id="deep-array"),
        pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "$: nested deeper than 32 levels", id="deep-object"),
        pytest.param(with_limit(str(2**64)), "$.sampling_strategies[0].limits[0].value: integer 1844674407370955",
                     id="2^64"),
        pytest.param(with_limit("9" * 5_000), "$.sampling_strategies[0].limits[0].value: integer 9999",
                     id="5000-digits"),
        pytest.param(with_limit(str(2**40)), "$.sampling_strategies[0].limits[0].value: Input should be less than",
                     id="beyond-the-largest-cap"),
        pytest.param(json.dumps(VALID).replace("0.5", "NaN").encode(),
                     "$.sampling_strategies[0].traffic_percentage: NaN is not a number JSON allows", id="NaN"),
        pytest.param(b'{"enabled": \xff\xfe}', "$: not UTF-8 text (byte 12)", id="not-utf8"),
        pytest.param(b"", "$: not valid JSON: Expecting value at line 1 column 1", id="empty"),
    ],
)
def test_config_validate_refuses_hostile_documents(tmp_path, framesift_cmd, cli_env, content, expected):
    path = tmp_path / "al.json"
    path.write_bytes(content)
    proc = subprocess.run([*framesift_cmd, "config", "validate", str(path)], capture_output=True, text=True,
                          env=cli_env, timeout=60)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert expected in output
    assert "Traceback" not in output


def test_a_valid_document_still_passes(tmp_path, framesift_cmd, cli_env):
    path = tmp_path / "al.json"
    path.write_bytes(with_limit("1000"))
    proc = subprocess.run([*framesift_cmd, "config", "validate", str(path)], capture_output=True, text=True,
                          env=cli_env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_named_broken_symlinks_fail_per_file_and_the_run_goes_on(tmp_path, data_dir, framesift_cmd, cli_env):
    good = tmp_path / "good.jpg"
    shutil.copy(data_dir / "astronaut.jpg", good)
    dangling = tmp_path / "dangling.jpg"
    dangling.symlink_to(tmp_path / "gone.jpg")
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    proc = subprocess.run(
        [*framesift_cmd, "predict", "--model", "nudenet/1", str(dangling), str(loop), str(good), "--no-progress"],
        capture_output=True, text=True, env=cli_env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = {json.loads(line)["path"]: json.loads(line) for line in proc.stdout.splitlines() if line.strip()}
    assert lines[str(dangling)]["error"] == "cannot read file: No such file or directory"
    assert lines[str(loop)]["error"] == "cannot read file: Too many levels of symbolic links"
    assert "error" not in lines[str(good)] and lines[str(good)]["predictions"]
