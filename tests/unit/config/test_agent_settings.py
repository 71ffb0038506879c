"""Agent TOML settings (agent.config.agent_settings)."""

from __future__ import annotations

import pytest

from agent.config.agent_settings import load_settings
from agent.errors import ConfigError


def test_defaults_and_example(tmp_path):
    s = load_settings(None)
    assert s.model.id == "framesift/0" and s.destination.sync_interval_s == 60
    assert s.control_listen.startswith("unix:")
    example = load_settings(__import__("pathlib").Path(__file__).parents[3] / "examples" / "agent.toml")
    assert example.sources[0].type == "folder"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[model]\nbatch_size = 0\n", "$.model.batch_size"),
        ("[agent]\nid = 'yard cam!'\n", "$.agent.id"),
        ("[model]\nbatchsize = 4\n", "$.model.batchsize"),
        ("[[sources]]\ntype = 'webcam'\nid = 'a'\npath = 'x'\n", "$.sources[0].type"),
        ("[[sources]]\ntype = 'folder'\nid = 'a b'\npath = 'x'\n", "$.sources[0].id"),
        ("[[sources]]\ntype='folder'\nid='a'\npath='x'\n[[sources]]\ntype='folder'\nid='a'\npath='y'\n", "$.sources"),
        ("[agent]\nbackground_priority = 'fast'\n", "$.agent.background_priority"),
        ("[model]\ncpu_mem_arena = 'sometimes'\n", "$.model.cpu_mem_arena"),
        ("[destination]\njpeg_passthrough = 3\n", "$.destination.jpeg_passthrough"),
        ("not toml [", "$"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "$"),  # tomllib's RecursionError
        ("[destination]\nsync_interval_s = inf\n", "$.destination.sync_interval_s"),  # a timer that never fires
        ("[model]\nmax_delay_ms = nan\n", "$.model.max_delay_ms"),
        ("[active_learning]\nseed = -1\n", "$.active_learning.seed"),  # numpy takes 0 <= seed < 2**64
        ("[control]\nmax_message_mb = 3000\n", "$.control.max_message_mb"),  # gRPC's int32 of bytes
        ("[model]\nthreads = 100000\n", "$.model.threads"),
    ],
)
def test_invalid_settings_name_the_field(tmp_path, text, path):
    f = tmp_path / "agent.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(f)
    assert path in [i.path for i in info.value.issues]
