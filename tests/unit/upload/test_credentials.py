"""API key loading: clear errors that never contain the key."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError
from agent.upload.credentials import load_api_key


def test_key_file_wins_over_environment(tmp_path):
    f = tmp_path / "key"
    f.write_text("from-file\n")
    assert load_api_key(f, {"FRAMESIFT_API_KEY": "from-env"}) == "from-file"
    assert load_api_key(None, {"FRAMESIFT_API_KEY": " from-env "}) == "from-env"


@pytest.mark.parametrize("content", [None, "", "\n\n", b"\xff\xfe\x00"])
def test_bad_key_file_names_the_file(tmp_path, content):
    f = tmp_path / "key"
    if isinstance(content, bytes):
        f.write_bytes(content)
    elif content is not None:
        f.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_api_key(f, {})
    assert str(f) in str(info.value)


def test_no_key_at_all():
    with pytest.raises(ConfigError, match="FRAMESIFT_API_KEY"):
        load_api_key(None, {})
