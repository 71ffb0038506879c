"""Annotation: a draft annotation file as Roboflow's annotate endpoint takes it.

The one annotation model shared by the agent (prepare → spool → upload) and the hub.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Annotation:
    """An annotation file.

    Attributes:
        name: file name sent as ``?name=`` (``<inference_id>.json`` or ``.txt``).
        body: the file's text (Roboflow prediction JSON, or a class name for classification).
        content_type: MIME type of ``body``.
    """

    name: str
    body: str
    content_type: str = "text/plain"
