"""LinkMonitor: one pause for the whole destination, offline probing, a refused key keeps frames."""

from __future__ import annotations

import random
import threading

import pytest

from agent.upload.link import AUTH_PROBE_BASE_S, LinkMonitor, LinkState


class ManualClock:
    """A monotonic clock moved by the test; counts reads so a test can see a waiter polling it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.reads += 1
            return self.now


def monitor(clock: ManualClock, **kw) -> LinkMonitor:
    return LinkMonitor(random.Random(0), backoff_base_s=1.0, backoff_cap_s=60.0, monotonic=clock, **kw)


def waiter(link: LinkMonitor) -> tuple[threading.Thread, threading.Event, threading.Event]:
    stop, done = threading.Event(), threading.Event()

    def run() -> None:
        if link.wait_turn(stop):
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, stop, done


def held_while_clock_polled(clock: ManualClock, done: threading.Event, polls: int = 3) -> bool:
    """True when the waiter read the clock ``polls`` more times without being let through."""
    start = clock.reads
    for _ in range(400):
        if done.is_set():
            return False
        if clock.reads >= start + polls:
            return not done.is_set()
        done.wait(0.05)
    raise AssertionError("the waiter never polled the clock")


def test_a_server_pause_holds_every_worker_until_it_is_over():
    clock = ManualClock()
    link = monitor(clock)
    link.server_busy(7.0, "HTTP 429")
    assert link.state is LinkState.PAUSED and link.online
    assert link.describe().startswith("paused for 7 s: HTTP 429")
    threads = [waiter(link) for _ in range(3)]
    assert all(held_while_clock_polled(clock, done) for _, _, done in threads)
    clock.now += 7.0
    for thread, _, done in threads:
        assert done.wait(5.0)
        thread.join(5.0)
    assert link.describe() == "online"


def test_a_shorter_pause_does_not_cut_a_longer_one():
    clock = ManualClock()
    link = monitor(clock)
    link.server_busy(10.0, "HTTP 503")
    link.server_busy(1.0, "HTTP 503")
    assert link.paused_until == pytest.approx(110.0)


@pytest.mark.parametrize("failures, offline", [(1, False), (2, False), (3, True)])
def test_connection_failures_go_offline_after_a_few(failures, offline):
    link = monitor(ManualClock())
    for _ in range(failures):
        link.unreachable("connection refused")
    assert (link.state is LinkState.OFFLINE) is offline and link.online is not offline


def test_offline_lets_one_prober_through_at_a_time():
    clock = ManualClock()
    link = monitor(clock, offline_after_failures=1)
    link.unreachable("connection refused")
    clock.now = link.next_probe
    first = waiter(link)
    assert first[2].wait(5.0)
    second = waiter(link)
    assert held_while_clock_polled(clock, second[2])
    link.success()
    assert second[2].wait(5.0) and link.state is LinkState.ONLINE
    second[1].set()


def test_a_refused_key_probes_slowly_and_recovers():
    clock = ManualClock()
    link = monitor(clock)
    link.unauthorized("HTTP 401: Unauthorized")
    assert link.state is LinkState.UNAUTHORIZED and not link.online
    assert link.describe() == "unauthorized: HTTP 401: Unauthorized"
    assert link.next_probe == pytest.approx(clock.now + AUTH_PROBE_BASE_S)
    link.unauthorized("HTTP 401: Unauthorized")
    assert link.next_probe == pytest.approx(clock.now + 2 * AUTH_PROBE_BASE_S)
    _thread, _stop, done = waiter(link)
    assert held_while_clock_polled(clock, done)
    clock.now = link.next_probe
    assert done.wait(5.0)
    link.success()
    assert link.state is LinkState.ONLINE and link.auth_failures == 0


def test_connection_failures_do_not_hide_a_refused_key():
    link = monitor(ManualClock(), offline_after_failures=1)
    link.unauthorized("HTTP 403")
    link.unreachable("reset")
    assert link.state is LinkState.UNAUTHORIZED
