"""SignInThrottle: five wrong passwords for a name lock that name for the window, not everyone."""

from __future__ import annotations

from agent.hub.web.sign_in_throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_locked_after_five_failures_until_they_age_out():
    clock = Clock()
    throttle = SignInThrottle(max_failures=5, window_s=900, monotonic=clock)
    for _ in range(5):
        assert throttle.retry_after_s("alice", "10.0.0.1") == 0
        throttle.failed("alice", "10.0.0.1")
        clock.now += 10
    assert throttle.retry_after_s("alice", "10.0.0.9") == 900 - 50  # any address: the name is locked
    assert throttle.retry_after_s("bob", "10.0.0.1") == 0  # others may still sign in from there
    clock.now += 900 - 50
    assert throttle.retry_after_s("alice", "10.0.0.1") == 0


def test_success_clears_the_name():
    throttle = SignInThrottle(max_failures=2)
    throttle.failed("alice", "a")
    throttle.succeeded("alice")
    throttle.failed("alice", "a")
    assert throttle.retry_after_s("alice", "a") == 0


def test_one_address_gets_more_attempts_but_not_unlimited():
    throttle = SignInThrottle(max_failures=2, client_factor=3, monotonic=Clock())
    for n in range(6):
        throttle.failed(f"user{n}", "proxy")
    assert throttle.retry_after_s("someone-else", "proxy") > 0
    assert throttle.retry_after_s("someone-else", "elsewhere") == 0
