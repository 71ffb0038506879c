"""Child process for crash tests: puts frames into the spool and drains to a hub.

    python -m tests.crash.capture_worker SPOOL_DIR HUB_URL FIRST COUNT

Prints ``ACK <index> <sha256>`` after each ``put`` returned (the frame is accepted),
then waits until the spool is drained and prints ``DRAINED``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from agent.spool.disk_spool import DiskSpool
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions
from tests.frames import spool_item
from tests.hub_process import API_KEY


def main() -> None:
    spool_dir, url, first, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    spool = DiskSpool(spool_dir)
    client = UploadClient(url, API_KEY, timeout_s=5)
    options = UploaderOptions(concurrency=2, backoff_base_s=0.05, backoff_cap_s=0.5, offline_after_failures=3)
    uploader = Uploader(spool, client, options)
    uploader.start()
    rng = random.Random(first)
    for i in range(first, first + count):
        item = spool_item(i, project="crash")
        spool.put(item)
        print(f"ACK {i} {item.sha256}", flush=True)
        time.sleep(rng.uniform(0.0, 0.02))
    while not uploader.drain(1.0):
        pass
    print("DRAINED", flush=True)
    uploader.stop()
    spool.close()


if __name__ == "__main__":
    main()
