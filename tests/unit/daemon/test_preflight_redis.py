"""run --check reads [active_learning] redis_url as the limit store will, without connecting."""

from __future__ import annotations

import pytest

from agent.config.agent_settings import ActiveLearningSection, AgentSection, AgentSettings
from agent.daemon.preflight import preflight
from agent.errors import ConfigError


def _settings(tmp_path, url):
    return AgentSettings(agent=AgentSection(state_dir=tmp_path), active_learning=ActiveLearningSection(redis_url=url))


@pytest.mark.parametrize(("url", "reason"), [("http://127.0.0.1:6379", "unknown scheme"),
                                             ("redis://:s3cr#et@127.0.0.1:6379/0", "cannot parse it")])  # fmt: skip
def test_a_bad_redis_url_is_an_issue_at_its_path_without_the_password(tmp_path, url, reason):
    with pytest.raises(ConfigError) as info:
        preflight(_settings(tmp_path, url))
    issues = {i.path: i.message for i in info.value.issues}
    assert reason in issues["$.active_learning.redis_url"] and "s3cr" not in str(info.value)


def test_a_well_formed_redis_url_passes_without_a_server(tmp_path):
    preflight(_settings(tmp_path, "redis://127.0.0.1:1/0"))  # nothing listens on port 1: nothing is dialled
