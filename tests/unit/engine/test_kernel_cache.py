"""Cached kernels built from other sources are deleted before they can be loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnisim.engine import kernel_cache as kc


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(kc, "cache_dirs", lambda: [tmp_path])
    monkeypatch.setattr(kc, "_done", False)
    return tmp_path


def test_stale_kernels_are_deleted_and_the_stamp_renewed(cache: Path) -> None:
    (cache / "journey.advance_batch-1.py311.nbi").write_text("index")
    (cache / "journey.advance_batch-1.py311.1.nbc").write_text("code")
    (cache / kc.STAMP).write_text("built from other sources")
    kc.refresh()
    assert not list(cache.glob("*.nb*"))
    assert (cache / kc.STAMP).read_text() == kc.sources_hash()


def test_kernels_of_the_same_sources_are_kept(cache: Path) -> None:
    (cache / kc.STAMP).write_text(kc.sources_hash())
    kept = cache / "buckets.insert_many-1.py311.nbi"
    kept.write_text("index")
    kc.refresh()
    assert kept.exists()


def test_every_module_with_compiled_code_is_hashed() -> None:
    names = {p.name for p in kc.kernel_sources()}
    assert {"journey.py", "buckets.py", "streams.py", "needs.py", "service.py"} <= names
