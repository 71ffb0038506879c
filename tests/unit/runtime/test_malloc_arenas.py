"""The daemon can cap glibc's malloc arenas (bounded RSS under load)."""

from __future__ import annotations

import platform

import pytest

from agent.runtime.malloc_arenas import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_glibc_accepts_the_arena_cap():
    assert limit_malloc_arenas(2) is True
