"""Keep native libraries' chatter (libpng, OpenCV) off the command line's stderr.

OpenCV's PNG decoder lets libpng print ``libpng error: …`` straight to file descriptor 2, and
OpenCV itself prints ``[ WARN:0@…]`` lines; neither goes through Python, so ``cv2.setLogLevel``
does not silence libpng. The command already reports each bad file in one line of its own, so
the CLI points descriptor 2 at a pipe and forwards every line except those to the real stderr.
Python's own ``sys.stderr`` keeps writing to the real stderr directly (terminal detection and
progress bars are unaffected).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from agent.runtime.threads import join_or_warn

NATIVE_NOISE_PREFIXES = (b"libpng warning:", b"libpng error:", b"[ WARN:", b"[ INFO:", b"[ERROR:")
FORWARD_STOP_TIMEOUT_S = 2.0


def _forward(reader: BinaryIO, real_stderr_fd: int) -> None:
    for line in reader:
        if not line.lstrip().startswith(NATIVE_NOISE_PREFIXES):
            os.write(real_stderr_fd, line)


@contextmanager
def native_noise_filtered() -> Iterator[None]:
    """Within the block, native writes to fd 2 are filtered; Python's ``sys.stderr`` is unchanged.

    Does nothing when fd 2 cannot be duplicated (no stderr at all).
    """
    try:
        sys.stderr.flush()
        real_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, ValueError):
        yield
        return
    saved_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(real_fd), "w", buffering=1, encoding=saved_stderr.encoding,
                           errors="backslashreplace")  # fmt: skip
    os.dup2(write_fd, 2)
    os.close(write_fd)
    reader = os.fdopen(read_fd, "rb")
    forwarder = threading.Thread(target=_forward, args=(reader, real_fd), name="native-stderr", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real_fd, 2)  # closes the pipe's last write end: the forwarder sees EOF and ends
        join_or_warn(forwarder, FORWARD_STOP_TIMEOUT_S, "native stderr forwarder")
        reader.close()
        os.close(real_fd)
        sys.stderr = saved_stderr  # the duplicate stays open: logging handlers may still hold it
