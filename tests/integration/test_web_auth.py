"""The web app's sign-in, sessions, CSRF and permissions, over HTTP against a real hub process;
the fleet tracking of agents that name themselves; the config form's mapping (table-driven)."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import httpx
import numpy as np
import pytest

from agent.hub.web.config_form import config_from_form, form_from_config
from agent.hub.web.fleet import parse_agent
from tests.hub_process import API_KEY, HubProcess

ADMIN, ADMIN_PW = "alice", "admin-password-1"
REVIEWER, REVIEWER_PW = "rob", "reviewer-password-2"


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


JPEG = jpeg(0)


def add_user(tmp_path, data, name, role, password) -> subprocess.CompletedProcess:
    secret = tmp_path / f"{name}-pw"
    secret.write_text(password + "\n")
    return subprocess.run([sys.executable, "-m", "agent", "hub", "user", "add", name, "--role", role,
                           "--password-file", str(secret), "--data", str(data)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("webauth")
    data = root / "data"
    assert add_user(root, data, ADMIN, "admin", ADMIN_PW).returncode == 0
    assert add_user(root, data, REVIEWER, "reviewer", REVIEWER_PW).returncode == 0
    process = HubProcess(data, log_path=root / "hub.log", extra_args=("--log-level", "debug")).start()
    httpx.post(f"{process.url}/dataset/yard/upload", params={"api_key": API_KEY, "batch": "b1"},
               files={"file": ("a.jpg", JPEG, "image/jpeg")}).raise_for_status()  # fmt: skip
    yield process
    process.stop()


_CLIENTS: list[httpx.Client] = []


def new_client(hub) -> httpx.Client:
    _CLIENTS.append(httpx.Client(base_url=hub.url, follow_redirects=False, timeout=30))
    return _CLIENTS[-1]


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(hub, name, password) -> tuple[httpx.Client, str]:
    client = new_client(hub)
    form = client.get("/-/login")
    answer = client.post("/-/login", data={"username": name, "password": password, "csrf_token": csrf_of(form.text),
                                           "next": "/-/"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client.get("/-/").text)


PAGES = ["/-/", "/-/projects/yard", "/-/projects/yard/images", "/-/projects/yard/review", "/-/fleet", "/-/keys",
         "/-/users", "/-/projects/yard/assignments", "/-/projects/yard/export.zip", "/-/images/abc/file"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_nothing_is_visible_without_signing_in(hub, path):
    answer = httpx.get(hub.url + path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/-/login?next=")
    assert "yard" not in answer.text


def test_json_calls_without_a_session_answer_401(hub):
    answer = httpx.post(f"{hub.url}/-/api/images/x/review", json={"state": "approved"})
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "SignInRequired"


def test_sign_in_sets_a_hardened_cookie_and_logout_ends_it(hub):
    client = new_client(hub)
    token = csrf_of(client.get("/-/login").text)
    wrong = client.post("/-/login", data={"username": ADMIN, "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert "framesift_session" not in wrong.headers.get("set-cookie", "")
    right = client.post("/-/login", data={"username": ADMIN, "password": ADMIN_PW, "csrf_token": token,
                                          "next": "https://evil.example/"})  # fmt: skip
    assert right.status_code == 303 and right.headers["location"] == "/-/"  # never off-site after sign-in
    cookie = right.headers["set-cookie"].lower()
    assert "framesift_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    home = client.get("/-/")
    assert home.status_code == 200 and "yard" in home.text
    assert client.post("/-/logout", data={"csrf_token": csrf_of(home.text)}).status_code == 303
    assert client.get("/-/").status_code == 303  # the old cookie opens nothing


def test_sign_in_form_needs_its_csrf_cookie(hub):
    answer = httpx.post(f"{hub.url}/-/login", data={"username": ADMIN, "password": ADMIN_PW, "csrf_token": "forged"})
    assert answer.status_code == 403 and "framesift_session" not in answer.headers.get("set-cookie", "")


VALID_FORM = {"enabled": "on", "sampling_rate_pct": "50", "jpeg_compression_level": "80",
              "recreation_interval": "daily", "persist_predictions": "on"}  # fmt: skip


@pytest.mark.parametrize(("token", "origin"), [
    pytest.param(None, None, id="no-token"),
    pytest.param("wrong", None, id="wrong-token"),
    pytest.param("session", "http://evil.example", id="cross-origin"),
])  # fmt: skip
def test_forms_refuse_a_missing_or_wrong_csrf_token_and_change_nothing(hub, token, origin):
    client, csrf = signed_in(hub, ADMIN, ADMIN_PW)
    before = httpx.get(f"{hub.url}/ws/yard/active_learning", params={"api_key": API_KEY}).json()
    data = dict(VALID_FORM, **({"csrf_token": csrf if token == "session" else token} if token else {}))
    answer = client.post("/-/projects/yard/config", data=data, headers={"Origin": origin} if origin else {})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert httpx.get(f"{hub.url}/ws/yard/active_learning", params={"api_key": API_KEY}).json() == before
    review = client.post("/-/api/images/x/review", json={"state": "approved"}, headers={"X-CSRF-Token": "bad"})
    assert review.status_code == 403


@pytest.mark.parametrize(("method", "path", "data"), [
    ("post", "/-/projects/yard/config", VALID_FORM),
    ("post", "/-/projects/yard/config/json", {"config_json": '{"enabled": false}'}),
    ("get", "/-/keys", None),
    ("post", "/-/keys", {"label": "mine"}),
    ("post", "/-/keys/revoke", {"key_hash": "x"}),
    ("get", "/-/users", None),
    ("post", "/-/users", {"username": "eve", "role": "admin", "password": "12345678"}),
    ("get", "/-/projects/yard/assignments", None),
    ("post", "/-/projects", {"name": "new-one"}),
])  # fmt: skip
def test_a_reviewer_cannot_configure_manage_keys_users_or_assignments(hub, method, path, data):
    client, csrf = signed_in(hub, REVIEWER, REVIEWER_PW)
    kwargs = {"data": dict(data, csrf_token=csrf)} if data is not None else {}
    answer = getattr(client, method)(path, **kwargs)
    assert answer.status_code == 403 and "only an admin" in answer.text


def test_admin_saves_the_form_and_errors_name_their_field(hub):
    client, csrf = signed_in(hub, ADMIN, ADMIN_PW)
    bad = client.post("/-/projects/yard/config", data=dict(VALID_FORM, csrf_token=csrf, daily_cap="-3"))
    assert bad.status_code == 400 and 'id="e-daily_cap"' in bad.text and "must be at least 1" in bad.text
    bad_json = client.post("/-/projects/yard/config/json", data={"csrf_token": csrf, "config_json": '{"enabled": 1}'})
    assert bad_json.status_code == 400 and "$.enabled" in bad_json.text
    ok = client.post("/-/projects/yard/config", data=dict(VALID_FORM, csrf_token=csrf))
    assert ok.status_code == 303
    stored = httpx.get(f"{hub.url}/framesift/yard/active_learning", params={"api_key": API_KEY}).json()
    assert stored["sampling_strategies"] == [{"name": "sampling-rate", "type": "random", "traffic_percentage": 0.5,
                                              "limits": []}]  # fmt: skip


def test_reviewer_reviews_and_the_last_write_wins_with_its_author(hub):
    image_id = httpx.get(f"{hub.url}/framesift/yard/batches", params={"api_key": API_KEY}).json()
    client, csrf = signed_in(hub, REVIEWER, REVIEWER_PW)
    page = client.get(f"/-/projects/yard/review/{image_id['batches'][0]['id']}")
    assert page.status_code == 200
    image = re.search(r"/-/images/([0-9a-f]+)/file", page.text).group(1)
    shape = {"class": "cat", "box": [0, 0, 1, 1]}
    first = client.post(f"/-/api/images/{image}/review", json={"state": "rejected", "shapes": [shape]},
                        headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert first.status_code == 200 and first.json()["reviewer"] == REVIEWER
    admin, admin_csrf = signed_in(hub, ADMIN, ADMIN_PW)
    second = admin.post(f"/-/api/images/{image}/review", json={"state": "approved"},
                        headers={"X-CSRF-Token": admin_csrf})  # fmt: skip
    assert second.json() == {"state": "approved", "reviewer": ADMIN, "updated": second.json()["updated"]}
    again = client.get(f"/-/projects/yard/review/{image_id['batches'][0]['id']}")
    assert f"Last changed by {ADMIN}" in again.text and "cat" in again.text  # the box kept, the decision replaced


@pytest.mark.parametrize(("body", "message"), [
    ({"state": "maybe"}, "state must be one of"),
    ({"state": "approved", "shapes": [{"class": "a", "box": [0, 0, 0, 1]}]}, "is empty or outside"),
    ({"state": "approved", "shapes": [{"class": "a", "box": [0, 0, 50, 5]}]}, "outside the 16x12 image"),
    ({"state": "approved", "shapes": [{"box": [0, 0, 1, 1]}]}, "with a class name"),
    ({"state": "approved", "shapes": [{"class": "a", "box": ["x", 0, 1, 1]}]}, "finite number"),
    ([1, 2], "JSON object"),
    ('{"state":"approved","shapes":[{"class":"a","box":[1,1,' + "1" * 5000 + ',1]}]}', "too many digits"),
    ('{"state": NaN}', "NaN is not JSON"),
])  # fmt: skip
def test_a_bad_review_body_gets_a_specific_400(hub, body, message):
    client, csrf = signed_in(hub, REVIEWER, REVIEWER_PW)
    batch = httpx.get(f"{hub.url}/framesift/yard/batches", params={"api_key": API_KEY}).json()["batches"][0]["id"]
    image = re.search(r"/-/images/([0-9a-f]+)/file", client.get(f"/-/projects/yard/review/{batch}").text).group(1)
    sent = {"content": body} if isinstance(body, str) else {"json": body}  # a str: raw text, not JSON-encoded
    answer = client.post(f"/-/api/images/{image}/review", headers={"X-CSRF-Token": csrf}, **sent)
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_app_made_keys_upload_until_revoked_and_never_leak(hub):
    client, csrf = signed_in(hub, ADMIN, ADMIN_PW)
    made = client.post("/-/keys", data={"csrf_token": csrf, "label": "camera 3"})
    key = re.search(r'<code id="new-key">([^<]+)</code>', made.text).group(1)
    upload = {"files": {"file": ("k.jpg", JPEG, "image/jpeg")}}
    assert httpx.post(f"{hub.url}/dataset/keyed/upload", params={"api_key": key}, **upload).status_code == 200
    listing = client.get("/-/keys").text
    assert key not in listing and key[:6] in listing  # shown once, then only its prefix
    digest = re.search(r'name="key_hash" value="([0-9a-f]{64})"', listing).group(1)
    assert client.post("/-/keys/revoke", data={"csrf_token": csrf, "key_hash": digest}).status_code == 303
    refused = httpx.post(f"{hub.url}/dataset/keyed/upload", params={"api_key": key}, **upload)
    assert refused.status_code == 401
    log = hub.log_path.read_text()
    for secret in (key, ADMIN_PW, REVIEWER_PW, API_KEY, client.cookies.get("framesift_session")):
        assert secret not in log


def test_agents_that_name_themselves_appear_in_the_fleet(hub):
    params = {"api_key": API_KEY}
    sync = httpx.get(f"{hub.url}/framesift/yard/active_learning", params=params,
                     headers={"X-Framesift-Agent": "cam-7; version=0.1.0"})  # fmt: skip
    png = jpeg(7)  # other bytes, so not a duplicate
    httpx.post(f"{hub.url}/dataset/yard/upload", params={**params, "agent_id": "cam-7"},
               files={"file": ("f.jpg", png, "image/jpeg")}).raise_for_status()  # fmt: skip
    httpx.get(f"{hub.url}/framesift/yard/active_learning", params=params, headers={"X-Framesift-Agent": "bad id!"})
    httpx.get(f"{hub.url}/framesift/yard/active_learning", params={"api_key": "wrong"},
              headers={"X-Framesift-Agent": "intruder"})  # fmt: skip
    client, _ = signed_in(hub, REVIEWER, REVIEWER_PW)
    fleet = client.get("/-/fleet").text
    row = re.search(r"<tr><td>cam-7</td>.*?</tr>", fleet, re.S).group(0)
    assert "0.1.0" in row and sync.headers["etag"].strip('"') in row and "(current)" in row and "<td>1</td>" in row
    assert "intruder" not in fleet and "bad id" not in fleet


@pytest.mark.parametrize(("header", "query", "expected"), [
    ("cam-1; version=2.0", "", ("cam-1", "2.0")),
    ("cam-1", "", ("cam-1", "")),
    (None, "agent_id=cam-2&agent_version=1", ("cam-2", "1")),
    ("bad id", "", None),
    (None, "api_key=x", None),
    ("cam-1; version=<script>", "", ("cam-1", "")),
])  # fmt: skip
def test_parse_agent(header, query, expected):
    assert parse_agent(header, query) == expected


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"sampling_rate_pct": "abc"}, "sampling_rate_pct", "must be a number"),
    ({"sampling_rate_pct": "150"}, "sampling_rate_pct", "between 0 and 100"),
    ({"hourly_cap": "1.5"}, "hourly_cap", "whole number"),
    ({"jpeg_compression_level": "0"}, "jpeg_compression_level", "between 1 and 100"),
    ({"max_width": "640"}, "max_width", "both"),
    ({"detections_more_than": "5", "detections_fewer_than": "2"}, "detections_more_than", "smaller than"),
    ({"recreation_interval": "hourly"}, "recreation_interval", "choose one of"),
    ({"batch_prefix": "bad/prefix"}, "batch_prefix", "pattern"),
])  # fmt: skip
def test_form_errors_land_on_their_field(form, field, message):
    result = config_from_form({**VALID_FORM, **form})
    assert result.config is None and any(message in m for m in result.errors.get(field, [])), result.errors


def test_form_round_trips_through_the_json():
    form = {**VALID_FORM, "per_minute_cap": "5", "daily_cap": "100", "confidence_below_pct": "60",
            "classes_of_interest": "person, car", "detections_more_than": "2", "max_width": "640",
            "max_height": "480", "tags": "a, b"}  # fmt: skip
    result = config_from_form(form)
    assert result.config is not None, result.errors
    low = result.config["sampling_strategies"][0]
    assert low["type"] == "close_to_threshold" and low["threshold"] == low["epsilon"] == 0.3
    assert low["limits"] == [{"type": "minutely", "value": 5}, {"type": "daily", "value": 100}]
    values, exact = form_from_config(result.config)
    assert exact and {k: values[k] for k in form} == {**form, "classes_of_interest": "person, car"}


def test_user_add_reads_the_password_from_stdin_and_refuses_a_short_one(tmp_path):
    data = tmp_path / "hub"
    cmd = [sys.executable, "-m", "agent", "hub", "user", "add", "zed", "--role", "reviewer", "--data", str(data)]
    ok = subprocess.run(cmd, input="long-enough-pw\n", capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "long-enough-pw" not in ok.stdout + ok.stderr
    short = subprocess.run(cmd, input="short\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 1
    assert short.stderr.strip() == "framesift: error: the password must have at least 8 characters"
    bad = subprocess.run([*cmd[:6], "--role", "owner"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'owner'" in bad.stderr


def test_password_guessing_is_throttled_per_name(hub):
    client = new_client(hub)
    token = csrf_of(client.get("/-/login").text)
    for _ in range(5):
        wrong = client.post("/-/login", data={"username": "mallory", "password": "guess", "csrf_token": token})
        assert wrong.status_code == 401
    locked = client.post("/-/login", data={"username": "mallory", "password": "guess", "csrf_token": token})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    signed_in(hub, ADMIN, ADMIN_PW)  # another name signs in from the same address


ADMIN_MISTAKES = [  # (what, request given the signed-in client and its CSRF token, status, what the answer says)
    ("export of an unknown review state", lambda c, t: c.get("/-/projects/yard/export.zip", params={"state": "bogus"}),
     400, "unknown review state"),
    ("export split with infinity", lambda c, t: c.get("/-/projects/yard/export.zip", params={"split": "inf,1,1"}),
     400, "three non-negative numbers"),
    ("export in a format the page does not offer",
     lambda c, t: c.get("/-/projects/yard/export.zip", params={"format": "classification"}), 400, "use coco or yolo"),
    ("assignments of a superscript count",
     lambda c, t: c.post("/-/projects/yard/assignments", data={"csrf_token": t, "count": "\u00b2", "batch": "b1",
                                                                 "reviewers": REVIEWER}), 400, "whole number"),
    ("a page that does not exist", lambda c, t: c.get("/-/nope"), 404, "no such page"),
    ("advanced config with a second object spliced in",
     lambda c, t: c.post("/-/projects/yard/config/json",
                         data={"csrf_token": t, "config_json": '{"enabled": true}, "config": {"enabled": false}'}),
     400, "Extra data"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "request_", "status", "says"), ADMIN_MISTAKES, ids=[c[0] for c in ADMIN_MISTAKES])
def test_an_admins_mistake_is_a_clear_4xx(hub, what, request_, status, says):
    client, csrf = signed_in(hub, ADMIN, ADMIN_PW)
    answer = request_(client, csrf)
    assert answer.status_code == status and says in answer.text, answer.text[:500]
