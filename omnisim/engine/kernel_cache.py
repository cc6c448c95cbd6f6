"""Keep numba's on-disk cache of the compiled kernels consistent with the sources.

Numba caches each compiled function beside its module and checks only *that* module's file
when loading it. The journey kernel inlines code from other modules (the calendar's insert,
the random draws, store service) and reads their constants, so after an edit to one of those,
numba would load a kernel built from the old code: wrong results, or a crash, with no warning.
`refresh` stamps the cache with a hash of every module that holds compiled code and deletes
the cached kernels when the stamp no longer matches; they are then rebuilt on first use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
STAMP = "omnisim-kernels.stamp"
_done = False


def kernel_sources() -> list[Path]:
    """The package modules that hold compiled (numba) code, in a fixed order."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "numba" in p.read_text(encoding="utf-8"))


def sources_hash() -> str:
    h = hashlib.sha256()
    for p in kernel_sources():
        h.update(p.relative_to(PACKAGE).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def cache_dirs() -> list[Path]:
    """Where numba keeps this package's cached kernels."""
    custom = os.environ.get("NUMBA_CACHE_DIR")
    if custom:
        return [p for p in Path(custom).rglob("*") if p.is_dir() and "omnisim" in p.as_posix()]
    return sorted({p.parent / "__pycache__" for p in kernel_sources()})


def refresh() -> None:
    """Delete cached kernels built from other sources than the installed ones (once per
    process; a read-only install is left alone, numba then caches elsewhere)."""
    global _done
    if _done:
        return
    _done = True
    digest = sources_hash()
    try:
        for d in cache_dirs():
            stamp = d / STAMP
            if stamp.is_file() and stamp.read_text() == digest:
                continue
            for f in list(d.glob("*.nbi")) + list(d.glob("*.nbc")):
                f.unlink(missing_ok=True)
            d.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
    except OSError:
        pass
