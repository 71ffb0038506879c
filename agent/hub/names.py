"""Which names the hub accepts: project slugs strictly (they are URL path segments), batch
names, tags and file names as freely as Roboflow does. No name ever becomes a path: blobs
are stored by digest, so checking is about clear errors, not about traversal.
"""

from __future__ import annotations

import re

from agent.config.al_config import CONTROL_CHARACTERS
from agent.hub.errors import HubInputError

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_TEXT_CHARS = 255


def check_slug(kind: str, value: str) -> str:
    """A workspace or project slug: 1-100 letters, digits, ``. _ -``, not starting with a dot, no ``..``."""
    if not _SLUG.fullmatch(value) or ".." in value:  # fullmatch: "$" alone also matches before a final newline
        raise HubInputError(f"invalid {kind} {value[:120]!r}: use 1-100 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")  # fmt: skip
    return value


def check_text(kind: str, value: str) -> str:
    """A batch name, tag, job name or image name: 1-255 characters, no control characters."""
    stripped = value.strip()
    if not stripped or len(stripped) > MAX_TEXT_CHARS or CONTROL_CHARACTERS.search(stripped):  # search: anywhere
        raise HubInputError(f"invalid {kind} {value[:120]!r}: use 1-{MAX_TEXT_CHARS} printable characters")
    return stripped
