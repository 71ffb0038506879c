"""The daemon can tune glibc's malloc (bounded RSS under load)."""

from __future__ import annotations

import platform

import pytest

from agent.runtime.malloc_tuning import fix_mmap_threshold, limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.parametrize("tune", [limit_malloc_arenas, fix_mmap_threshold], ids=["arenas", "mmap-threshold"])
def test_glibc_accepts_the_setting(tune):
    assert tune() is True
