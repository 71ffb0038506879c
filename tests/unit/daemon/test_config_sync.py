"""Config precedence in one place: override > server > last good (server silent) > file > default."""

from __future__ import annotations

import json

import pytest

from agent.control.facade import SyncResult, SyncState
from agent.daemon.config_sync import ConfigHolder, ConfigSyncer, means_no_config
from agent.errors import UploadRejectedError, UploadTransportError

BASE = {"enabled": True, "persist_predictions": True,
        "batching_strategy": {"batches_name_prefix": "b", "recreation_interval": "never"}}  # fmt: skip
SERVER = BASE | {"sampling_strategies": [{"name": "server", "type": "random", "traffic_percentage": 0.5}]}
FILE = BASE | {"sampling_strategies": [{"name": "file", "type": "random", "traffic_percentage": 0.2}]}
OFF = SERVER | {"enabled": False}


class ScriptedServer:
    """Answers ``get_json`` from a list: a (status, body) pair or an exception."""

    base_url = "http://127.0.0.1:1"

    def __init__(self, *answers) -> None:
        self.answers = list(answers)

    def get_json(self, path, etag=None):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return status, body, '"e1"'


def holder_with(tmp_path, *, file=None, last_good=None) -> ConfigHolder:
    config_file = None
    if file is not None:
        config_file = tmp_path / "al.json"
        config_file.write_text(json.dumps(file))
    if last_good is not None:
        (tmp_path / "al-config.json").write_text(json.dumps({"config": last_good, "etag": '"old"'}))
    return ConfigHolder(tmp_path, config_file)


def sync(holder: ConfigHolder, *answers) -> SyncResult:
    syncer = ConfigSyncer(holder, ScriptedServer(*answers), "ws", "p", 60)  # type: ignore[arg-type]
    result = SyncResult()
    for _ in answers:
        result = syncer.sync_now()
    return result


NOT_FOUND = UploadRejectedError("GET /ws/p/active_learning: HTTP 404: not found", status_code=404)
UNREACHABLE = UploadTransportError("GET /ws/p/active_learning: ConnectError: refused")
FORBIDDEN = UploadRejectedError("GET /ws/p/active_learning: HTTP 403: forbidden", status_code=403)


@pytest.mark.parametrize(
    ("file", "last_good", "answers", "origin", "first_strategy", "state"),
    [
        pytest.param(None, None, [], "default", "default_random", SyncState.NEVER, id="nothing-yet"),
        pytest.param(FILE, None, [], "file", "file", SyncState.NEVER, id="file-before-sync"),
        pytest.param(FILE, SERVER, [], "last-good", "server", SyncState.NEVER, id="last-good-before-sync"),
        pytest.param(FILE, None, [(200, SERVER)], "remote", "server", SyncState.OK, id="server-wins"),
        pytest.param(FILE, SERVER, [UNREACHABLE], "last-good", "server", SyncState.OFFLINE, id="offline"),
        pytest.param(FILE, SERVER, [(200, SERVER)], "remote", "server", SyncState.UNCHANGED, id="confirmed"),
        pytest.param(FILE, SERVER, [(304, None)], "remote", "server", SyncState.NOT_MODIFIED, id="not-modified"),
        pytest.param(FILE, SERVER, [(200, {"enabled": False})], "file", "file", SyncState.NO_CONFIG, id="bare-off"),
        pytest.param(None, SERVER, [NOT_FOUND], "default", "default_random", SyncState.NO_CONFIG, id="404"),
        pytest.param(FILE, None, [(200, OFF)], "remote", "server", SyncState.OK, id="explicit-off-obeyed"),
        pytest.param(FILE, SERVER, [FORBIDDEN], "last-good", "server", SyncState.REJECTED, id="forbidden"),
        pytest.param(FILE, None, [UNREACHABLE, (200, SERVER)], "remote", "server", SyncState.OK, id="back-online"),
    ],
)
def test_precedence(tmp_path, file, last_good, answers, origin, first_strategy, state):
    holder = holder_with(tmp_path, file=file, last_good=last_good)
    result = sync(holder, *answers)
    assert result.state is state
    assert holder.current.origin == origin
    assert holder.current.config.sampling_strategies[0].name == first_strategy
    assert holder.reason(result)  # always says why


def test_the_override_wins_over_everything(tmp_path):
    holder = holder_with(tmp_path, file=FILE, last_good=SERVER)
    sync(holder, (200, SERVER))
    holder.set_override(FILE | {"sampling_strategies": [{"name": "mine", "type": "random", "traffic_percentage": 1}]})
    assert holder.current.origin == "local-override"
    assert "set-config" in holder.reason(SyncResult(SyncState.OK))
    holder.set_override(None)
    assert holder.current.origin == "remote"


def test_no_config_on_the_server_forgets_the_last_good_one(tmp_path):
    holder = holder_with(tmp_path, last_good=SERVER)
    result = sync(holder, NOT_FOUND)
    assert not (tmp_path / "al-config.json").exists()
    assert holder.reason(result).startswith("the server has no config for this project; using the built-in default")


@pytest.mark.parametrize(
    ("document", "none"),
    [({"enabled": False}, True), (OFF, False), ({"enabled": True}, False), ({"enabled": 0}, False)],
)
def test_what_counts_as_no_config(document, none):
    assert means_no_config(document) is none
