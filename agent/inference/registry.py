"""ModelRegistry: resolve model ids and paths to loadable models.

Layout of a models directory::

    <models_dir>/<project>/<version>/model.onnx     the weights
    <models_dir>/<project>/<version>/model.json     optional sidecar manifest

A model id is ``project/version``. Version ``0`` is the stub model: it needs
no file. A path to an ``.onnx`` file is accepted anywhere an id is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.config.environment import read_environment
from agent.errors import ModelNotFoundError
from agent.inference.model import Model, StubModel, VisionModel
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.runner import RunnerOptions
from agent.predictions.batch import TaskType

MODEL_ID_PATTERN = re.compile(r"^(?P<project>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<version>\d+)$")
MODEL_FILE = "model.onnx"


def default_models_dir() -> Path:
    """``$FRAMESIFT_MODELS_DIR`` or ``~/.cache/framesift/models``."""
    return read_environment().models_dir or Path.home() / ".cache" / "framesift" / "models"


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: its id and file (None for the stub)."""

    model_id: str
    path: Path | None

    @property
    def is_stub(self) -> bool:
        """True for ``project/0``."""
        return self.path is None


class ModelRegistry:
    """Finds models under one directory."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def resolve(self, id_or_path: str) -> ModelRef:
        """Turn ``project/version`` or a file path into a ModelRef.

        Raises:
            ModelNotFoundError: nothing at that id or path; says where it looked.
        """
        as_path = Path(id_or_path)
        if id_or_path.endswith(".onnx") or as_path.is_file():
            if not as_path.is_file():
                raise ModelNotFoundError(f"model file {id_or_path} does not exist")
            return ModelRef(model_id=as_path.stem, path=as_path)
        match = MODEL_ID_PATTERN.match(id_or_path)
        if not match:
            raise ModelNotFoundError(
                f"{id_or_path!r} is neither a model id of the form project/version nor an .onnx file"
            )
        if match["version"] == "0":
            return ModelRef(model_id=id_or_path, path=None)
        path = self.models_dir / match["project"] / match["version"] / MODEL_FILE
        if not path.is_file():
            raise ModelNotFoundError(
                f"model {id_or_path}: no {path} (models dir {self.models_dir}; "
                "run `framesift models list` to see what is there)"
            )
        return ModelRef(model_id=id_or_path, path=path)

    def list(self) -> list[ModelRef]:
        """Every ``project/version/model.onnx`` under the models directory, sorted."""
        refs: list[ModelRef] = []
        if not self.models_dir.is_dir():
            return refs
        for path in sorted(self.models_dir.glob(f"*/*/{MODEL_FILE}")):
            project, version = path.parent.parent.name, path.parent.name
            if MODEL_ID_PATTERN.match(f"{project}/{version}"):
                refs.append(ModelRef(model_id=f"{project}/{version}", path=path))
        return refs

    def load(
        self,
        id_or_path: str,
        *,
        max_batch: int = 8,
        runner_options: RunnerOptions | None = None,
        params: PostprocessParams | None = None,
        stub_task: TaskType = TaskType.OBJECT_DETECTION,
    ) -> Model:
        """Resolve and load a model (a StubModel for ``project/0``)."""
        ref = self.resolve(id_or_path)
        if ref.path is None:
            return StubModel(ref.model_id, stub_task, max_batch=max_batch)
        return VisionModel(ref.path, model_id=ref.model_id, max_batch=max_batch,
                           runner_options=runner_options, params=params)  # fmt: skip
