"""A --database value libpq cannot parse is a ConfigError that never shows the value (it may hold a password)."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError

pytest.importorskip("psycopg", reason="the hub extra (psycopg) is not installed")


@pytest.mark.parametrize("url", ["not-a-url", "host=127.0.0.1 password=s3cret-pw port"])
def test_an_unparsable_database_url_is_a_config_error_without_its_text(url):
    from agent.hub.sql_engines import PostgresEngine

    with pytest.raises(ConfigError) as info:
        PostgresEngine(url)
    message = str(info.value)
    assert message.startswith("invalid configuration: --database: not a PostgreSQL URL")
    assert "s3cret" not in message and url not in message
