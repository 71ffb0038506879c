"""The hub's web app in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The README's path, exactly: create an admin (CLI) → sign in → create a project and turn on
collection with the form (a wrong value first: the error shows next to its field) → a real
agent process (``framesift run`` with a folder source) syncs that config and uploads → review
the batch with the keyboard (approve, reject, relabel, draw a box) → export the approved
images as COCO (``framesift hub export --state approved`` and the app's download) and load
them with pycocotools. Then assignments (a reviewer sees hers) and the fleet page.

A screenshot of each page is saved under the test's output directory (and copied to
``$FRAMESIFT_SCREENSHOTS_DIR`` when set: that is how docs/screenshots/ was made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import httpx
import pytest

from tests.daemon_process import DaemonProcess, daemon_env, wait_until
from tests.hub_process import API_KEY, HubProcess

CHROMIUM = Path("/usr/bin/chromium")
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never let Playwright download a browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (make system-deps installs it when root)", allow_module_level=True)

ADMIN_PASSWORD = "correct horse battery"
REVIEWER_PASSWORD = "reviewer-pass-42"
PHOTOS = ("astronaut.jpg", "grace_hopper.jpg", "rocket.jpg", "coffee.jpg")


def add_user(tmp_path: Path, data: Path, name: str, role: str, password: str) -> None:
    secret = tmp_path / f"{name}.pw"
    secret.write_text(password + "\n")
    proc = subprocess.run([sys.executable, "-m", "agent", "hub", "user", "add", name, "--role", role,
                           "--password-file", str(secret), "--data", str(data)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stdout + proc.stderr


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    copy_to = os.environ.get("FRAMESIFT_SCREENSHOTS_DIR")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(copy_to) / png.name)
    print(f"screenshots of every page: {folder}")


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=flags)
        yield chromium
        chromium.close()


def sign_in(browser, hub: HubProcess, name: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.goto(hub.url + "/")  # redirects to the sign-in page
    assert "/-/login" in page.url
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(hub.url + "/-/")
    return page


def review_data(page) -> dict:
    return json.loads(page.locator("#review").get_attribute("data-review"))


def wait_saved(page, before: str | None) -> None:
    """Until the page's last action is saved (no JavaScript evaluation: the app's CSP forbids eval)."""
    review = page.locator("#review")
    if before is None:
        sync_api.expect(review).to_have_attribute("data-saved", re.compile(r"^\d+$"))
    else:
        sync_api.expect(review).not_to_have_attribute("data-saved", before)


def test_sign_in_configure_collect_review_export(tmp_path, shots, browser, models_dir, data_dir):
    data = tmp_path / "hub"
    add_user(tmp_path, data, "admin", "admin", ADMIN_PASSWORD)
    add_user(tmp_path, data, "rita", "reviewer", REVIEWER_PASSWORD)
    hub = HubProcess(data).start()
    daemon = None
    try:
        page = sign_in(browser, hub, "admin", ADMIN_PASSWORD)
        page.get_by_label("Project name").fill("site-a")
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url(f"{hub.url}/-/projects/site-a")

        # turn collection on with the form; a wrong value first: its error sits next to the field
        page.get_by_label("Active learning on").check()
        page.get_by_label("Sampling rate").fill("100")
        page.get_by_label("Daily image cap").fill("1000")
        page.get_by_label("JPEG compression level").fill("150")
        page.get_by_label("Maximum image width").fill("640")
        page.get_by_label("Maximum image height").fill("480")
        page.get_by_label("Tags on every collected image").fill("site-a")
        page.get_by_role("button", name="Save configuration").click()
        assert page.locator("#e-jpeg_compression_level").inner_text() == "must be between 1 and 100"
        page.screenshot(path=str(shots / "config-error.png"))
        page.get_by_label("JPEG compression level").fill("85")
        page.get_by_role("button", name="Save configuration").click()
        page.wait_for_url(f"{hub.url}/-/projects/site-a?saved=1")
        stored = httpx.get(f"{hub.url}/framesift/site-a/active_learning", params={"api_key": API_KEY}).json()
        assert stored["enabled"] is True and stored["jpeg_compression_level"] == 85
        assert stored["max_image_size"] == [480, 640] and stored["tags"] == ["site-a"]
        assert stored["sampling_strategies"][0]["limits"] == [{"type": "daily", "value": 1000}]

        # a real agent syncs that config and uploads what it collects
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        config = tmp_path / "agent.toml"
        config.write_text(f"""
[agent]
state_dir = "{tmp_path / 'state'}"
[model]
id = "nudenet/1"
batch_size = 4
max_delay_ms = 20
[destination]
url = "{hub.url}"
workspace = "framesift"
project = "site-a"
sync_interval_s = 0.5
backoff_cap_s = 1
[[sources]]
type = "folder"
id = "inbox"
path = "{inbox}"
poll_interval_s = 0.2
settle_ms = 200
""")
        daemon = DaemonProcess(config, daemon_env(models_dir)).start()
        for name in PHOTOS:
            shutil.copy(data_dir / name, inbox / name)
        batches_url = f"{hub.url}/framesift/site-a/batches"
        assert wait_until(lambda: sum(b["images"] for b in httpx.get(batches_url, params={"api_key": API_KEY})
                                      .json()["batches"]) == len(PHOTOS), 90), "".join(daemon.lines[-30:])  # fmt: skip
        page.goto(f"{hub.url}/-/projects/site-a")
        assert page.locator("#count-ready").inner_text() == str(len(PHOTOS))
        page.screenshot(path=str(shots / "project.png"), full_page=True)
        page.goto(f"{hub.url}/-/projects/site-a/images")
        assert page.locator(".thumbs li").count() == len(PHOTOS)
        page.screenshot(path=str(shots / "images.png"), full_page=True)

        # review the batch with the keyboard
        page.goto(f"{hub.url}/-/projects/site-a/review")
        page.screenshot(path=str(shots / "review-queue.png"))
        page.locator("table a").first.click()
        expected: dict[str, str] = {}
        relabelled = rejected = False
        for n in range(len(PHOTOS)):
            page.wait_for_url(re.compile(rf"/review/[0-9a-f]+(\?n={n})?$" if n == 0 else rf"\?n={n}$"))
            info = review_data(page)
            page.locator("#review-image").wait_for()
            if info["shapes"] and not relabelled:
                saved = page.locator("#review").get_attribute("data-saved")
                page.keyboard.press("c")  # change the class of the selected (first) box
                page.keyboard.type("person")
                page.keyboard.press("Enter")
                wait_saved(page, saved)
                saved = page.locator("#review").get_attribute("data-saved")
                page.keyboard.press("b")  # draw a new box with the mouse
                box = page.locator("#overlay").bounding_box()
                page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4, steps=5)
                page.mouse.up()
                wait_saved(page, saved)
                page.screenshot(path=str(shots / "review.png"))
                relabelled = True
                expected[info["id"]] = "approved"
                page.keyboard.press("a")
            elif not rejected and not info["shapes"]:
                rejected = True
                expected[info["id"]] = "rejected"
                page.keyboard.press("r")
            else:
                expected[info["id"]] = "approved"
                page.keyboard.press("a")
            if n + 1 < len(PHOTOS):
                page.wait_for_url(re.compile(rf"\?n={n + 1}$"))
        assert relabelled and rejected
        sync_api.expect(page.locator("#changed")).to_contain_text("Saved")
        page.goto(f"{hub.url}/-/projects/site-a")
        assert page.locator("#count-done").inner_text() == str(len(PHOTOS))

        # export the approved images: CLI and the app's download, both load in pycocotools
        from pycocotools.coco import COCO

        dest = tmp_path / "dataset"
        proc = subprocess.run([sys.executable, "-m", "agent", "hub", "export", str(dest), "--data", str(data),
                               "--project", "site-a", "--state", "approved", "--format", "coco",
                               "--split-ratios", "70,20,10"], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        approved = sum(1 for s in expected.values() if s == "approved")
        loaded = [COCO(str(dest / split / "annotations.coco.json")) for split in ("train", "valid", "test")]
        assert sum(len(c.getImgIds()) for c in loaded) == approved
        names = {c["name"] for coco in loaded for c in coco.loadCats(coco.getCatIds())}
        annotations = [a for coco in loaded for a in coco.loadAnns(coco.getAnnIds())]
        person = next(c["id"] for c in loaded[0].loadCats(loaded[0].getCatIds()) if c["name"] == "person")
        assert "person" in names and any(a["category_id"] == person and a.get("score") is None for a in annotations)
        page.goto(f"{hub.url}/-/projects/site-a/export")
        page.screenshot(path=str(shots / "export.png"))
        with page.expect_download() as download:
            page.get_by_role("button", name="Download").click()
        archive = tmp_path / "download.zip"
        download.value.save_as(archive)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tmp_path / "unzipped")
        unzipped = [COCO(str(p)) for p in sorted((tmp_path / "unzipped").rglob("annotations.coco.json"))]
        assert sum(len(c.getImgIds()) for c in unzipped) == approved

        # assignments: rita gets images of a new batch and sees them on her home page
        for name in ("astronaut.jpg", "rocket.jpg"):  # new pixels (a mirror image), so not a duplicate
            cv2.imwrite(str(inbox / f"mirrored-{name}"), cv2.flip(cv2.imread(str(data_dir / name)), 1))
        assert wait_until(lambda: sum(b["images"] for b in httpx.get(batches_url, params={"api_key": API_KEY})
                                      .json()["batches"]) >= len(PHOTOS) + 1, 60)  # fmt: skip
        page.goto(f"{hub.url}/-/projects/site-a/assignments")
        page.get_by_label("rita (reviewer)").check()
        page.get_by_label("Images per reviewer").fill("1")
        page.get_by_label("Instructions").fill("Boxes tight around each face.")
        page.get_by_label("Shuffle images").check()
        page.get_by_role("button", name="Assign").click()
        page.wait_for_url(f"{hub.url}/-/projects/site-a/assignments")
        assert "rita" in page.locator("table").last.inner_text()
        page.screenshot(path=str(shots / "assignments.png"))

        # the fleet: what an agent that names itself on config sync looks like
        httpx.get(f"{hub.url}/framesift/site-a/active_learning", params={"api_key": API_KEY},
                  headers={"X-Framesift-Agent": "edge-cam-1; version=0.1.0"}).raise_for_status()  # fmt: skip
        page.goto(f"{hub.url}/-/fleet")
        assert "edge-cam-1" in page.locator("table").inner_text() and "(current)" in page.content()
        page.screenshot(path=str(shots / "fleet.png"))

        rita = sign_in(browser, hub, "rita", REVIEWER_PASSWORD)
        assert "Boxes tight around each face." in rita.locator("table").first.inner_text()
        rita.screenshot(path=str(shots / "reviewer-home.png"))
        rita.locator("table a").first.click()
        rita.wait_for_url("**assignment=*")
        assert "Instructions" in rita.content()
    finally:
        if daemon is not None:
            daemon.stop()
        hub.stop()
