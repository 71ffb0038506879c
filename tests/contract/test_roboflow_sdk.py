"""The official ``roboflow`` SDK, unmodified, against a real hub process (``API_URL`` = the hub).

The SDK lives in its own virtualenv (``~/.cache/framesift/venv-roboflow``, created from PyPI on
first use, with pycocotools to check the COCO export): its pins must not touch ours. Each SDK
call runs in that interpreter; the test checks what the hub stored and what it exports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.hub_process import API_KEY, ROOT, HubProcess

VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "framesift" / "venv-roboflow"
PYTHON = VENV / "bin" / "python"


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    stamp = VENV / ".framesift-ready"
    if not stamp.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True,
                           timeout=120)  # fmt: skip
            subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "roboflow", "pycocotools"], check=True,
                           capture_output=True, timeout=600)  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            pytest.skip(f"could not install the roboflow SDK from PyPI into {VENV}: {exc}")
        stamp.write_text("ok\n")
    return PYTHON


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    process = HubProcess(tmp_path_factory.mktemp("sdkhub") / "data").start()
    yield process
    process.stop()


def run_sdk(python: Path, hub: HubProcess, code: str) -> dict:
    """Run ``code`` with the SDK imported as ``roboflow``; it prints one JSON line as its result."""
    env = dict(os.environ, API_URL=hub.url, ROBOFLOW_API_KEY=API_KEY, PYTHONPATH="")
    proc = subprocess.run([str(python), "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_image(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


def test_workspace_project_upload_annotate_image_export(sdk_python, hub, tmp_path):
    imgs = [write_image(tmp_path / f"im{i}.{ext}", i) for i, ext in enumerate(["jpg", "png", "jpg"])]
    coco = {"info": {}, "licenses": [], "categories": [{"id": 7, "name": "car"}, {"id": 9, "name": "person"}],
            "images": [{"id": 1, "file_name": "im0.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 20], "area": 200},
                            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [30, 5, 8, 8], "area": 64,
                             "segmentation": [[30, 5, 38, 5, 38, 13]]}]}  # fmt: skip
    (tmp_path / "im0.coco.json").write_text(json.dumps(coco))
    (tmp_path / "im1.xml").write_text("<annotation><size><width>64</width><height>48</height></size>"
                                      "<object><name>truck</name><bndbox><xmin>4</xmin><ymin>6</ymin><xmax>20</xmax>"
                                      "<ymax>30</ymax></bndbox></object></annotation>")  # fmt: skip
    (tmp_path / "im2.txt").write_text("1 0.5 0.5 0.25 0.5\n0 0.25 0.25 0.1 0.1\n")
    result = run_sdk(
        sdk_python,
        hub,
        f"""
        import json, roboflow
        rf = roboflow.Roboflow(api_key={API_KEY!r})
        ws = rf.workspace()
        ws.create_project("sdk-proj", "object-detection", "MIT", "vehicles")
        project = ws.project("sdk-proj")
        out = {{"workspace": rf.current_workspace, "type": project.type, "uploads": []}}
        for image, ann, labelmap in [({str(imgs[0])!r}, {str(tmp_path / "im0.coco.json")!r}, None),
                                     ({str(imgs[1])!r}, {str(tmp_path / "im1.xml")!r}, None),
                                     ({str(imgs[2])!r}, {str(tmp_path / "im2.txt")!r}, {{"0": "car", "1": "bus"}})]:
            r = project.single_upload(image_path=image, annotation_path=ann, annotation_labelmap=labelmap,
                                      batch_name="edge batch 1", tag_names=["cam a", "night"], split="valid",
                                      metadata={{"site": "north"}}, sequence_number=1, sequence_size=3)
            out["uploads"].append(r["image"]["id"])
            assert r["annotation"]["success"] is True, r
        again = project.upload({str(imgs[0])!r}, batch_name="other")
        out["duplicate"] = again[0]["image"]
        out["image"] = project.image(out["uploads"][1])
        out["project"] = ws.project("sdk-proj").classes
        out["batches"] = project.get_batches()
        out["meta"] = project.update_image_metadata(out["uploads"][0], metadata={{"k": 1}}, add_tags=["t2"])
        print(json.dumps(out))
    """,
    )
    assert result["workspace"] == "framesift" and result["type"] == "object-detection"
    assert result["duplicate"] == {"duplicate": True, "id": result["uploads"][0]}
    image = result["image"]
    assert (image["name"], image["split"], image["format"]) == ("im1.png", "valid", "png")
    assert image["tags"] == ["cam a", "night"] and image["metadata"] == {"site": "north"}
    assert result["project"] == {"car": 2, "person": 1, "truck": 1, "bus": 1}
    assert result["batches"]["batches"][0]["name"] == "edge batch 1"
    export = tmp_path / "coco"
    subprocess.run([sys.executable, "-m", "agent", "hub", "export", str(export), "--data", str(hub.data_dir),
                    "--project", "sdk-proj", "--format", "coco"], check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),  # noqa: E501
                   capture_output=True)  # fmt: skip
    doc = json.loads((export / "annotations.coco.json").read_text())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    boxes = sorted((names[a["category_id"]], [round(v, 3) for v in a["bbox"]]) for a in doc["annotations"])
    assert boxes == [("bus", [24.0, 12.0, 16.0, 24.0]), ("car", [1.0, 2.0, 10.0, 20.0]), ("car", [12.8, 9.6, 6.4, 4.8]),
                     ("person", [30.0, 5.0, 8.0, 8.0]), ("truck", [4.0, 6.0, 16.0, 24.0])]  # fmt: skip
    check = run_sdk(
        sdk_python,
        hub,
        f"""
        import json
        from pycocotools.coco import COCO
        coco = COCO({str(export / "annotations.coco.json")!r})
        person = [c["id"] for c in coco.loadCats(coco.getCatIds()) if c["name"] == "person"]
        first = coco.loadAnns(coco.getAnnIds(catIds=person))[0]
        print(json.dumps({{"anns": len(coco.getAnnIds()), "imgs": len(coco.getImgIds()),
                          "mask": int(coco.annToMask(first).sum())}}))
    """,
    )
    assert check["anns"] == 5 and check["imgs"] == 3 and check["mask"] > 0
    yolo = tmp_path / "yolo"
    subprocess.run([sys.executable, "-m", "agent", "hub", "export", str(yolo), "--data", str(hub.data_dir),
                    "--project", "sdk-proj", "--format", "yolo"], check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),  # noqa: E501
                   capture_output=True)  # fmt: skip
    yaml = (yolo / "data.yaml").read_text()
    assert yaml.index('"car"') < yaml.index('"person"') < yaml.index('"truck"') < yaml.index('"bus"')
    line = (yolo / "labels" / f"{result['uploads'][2]}.txt").read_text().splitlines()[0]
    assert line.startswith("3 ")  # "bus" is the project's class 3, whatever its index in the labelmap


def test_inference_servers_active_learning_calls(hub):
    """The calls ``inference`` makes to start active learning, as it makes them."""
    root = httpx.get(f"{hub.url}/", params={"api_key": API_KEY, "nocache": "true"})
    assert root.json()["workspace"] == "framesift"
    httpx.post(f"{hub.url}/framesift/projects", params={"api_key": API_KEY},
               json={"name": "al-proj", "type": "classification"})  # fmt: skip
    project = httpx.get(f"{hub.url}/framesift/al-proj", params={"api_key": API_KEY, "nocache": "true"}).json()
    assert project["project"]["type"] == "classification"
    config = httpx.get(f"{hub.url}/framesift/al-proj/active_learning", params={"api_key": API_KEY}).json()
    assert config == {"enabled": False}
    assert httpx.get(f"{hub.url}/framesift/al-proj/batches", params={"api_key": API_KEY}).json() == {"batches": []}
