"""A Redis URL that cannot work is a ConfigError naming the setting, never a traceback or its password."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError
from agent.limits.factory import open_limit_store
from agent.limits.redis_store import RedisLimitStore

BAD_URLS = [
    ("notredis", "unknown scheme"),
    ("http://localhost:6379", "unknown scheme"),
    ("redis://:s3cret-pw@localhost:notaport", "cannot parse it"),
    ("redis://:s3cr#et-pw@localhost:6379/0", "cannot parse it"),  # '#' ends the netloc: redis-py quoted 's3cr'
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_a_bad_url_is_a_config_error_without_the_password(url, reason):
    with pytest.raises(ConfigError) as info:
        RedisLimitStore(url)
    message = str(info.value)
    assert message.startswith("invalid configuration: redis_url: not a Redis URL") and reason in message
    assert "s3cr" not in message


def test_a_bad_url_creates_nothing_on_disk(tmp_path):
    with pytest.raises(ConfigError):
        open_limit_store(tmp_path / "state", "site", "notredis")
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1", "unix:///tmp/no-such.sock"])
def test_a_well_formed_url_is_read_without_connecting(url):
    store = RedisLimitStore(url)  # port 1 / a missing socket: nothing listens, and nothing is dialled yet
    assert store.url == url
