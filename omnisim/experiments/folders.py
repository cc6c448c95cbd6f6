"""Result folders that never lie: safe names, whole-folder replacement, one writer at a time.

A command's results are a set of files that belong together (data, charts, report). Written
file by file into a folder that already holds results, a failure or a kill half-way leaves a
folder that mixes two runs, which is worse than no results at all. So every command writes
into a fresh hidden sibling of its target (``.<name>.partial-<pid>-<token>``) and, only when
everything is complete, swaps it into place in one step (`Staging.commit`): on Linux with
``renameat2(RENAME_EXCHANGE)``, an atomic exchange of the two folders, elsewhere two renames.
A killed command leaves the previous results exactly as they were, and a hidden staging
folder that the next command writing beside it removes once its process is gone.

Names built from a scenario's or strategy's name are reduced to a slug (`slug`), so a shared
scenario file can never choose where files land; a default folder also carries a short hash
of every input that changes results (`default_folder`), so two different runs never share
one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

RESULTS = Path("results")
"""Where runs write by default, relative to the current folder."""
SLUG_LIMIT = 48
"""Characters kept of a name in a folder name: long enough to tell scenarios apart, short
enough that the hash and the kind still fit in any file system's 255-byte name limit (48 CJK
characters are 144 bytes in UTF-8)."""
_PARTIAL = ".partial-"
_OLD = ".old-"


class FolderError(Exception):
    """An output folder that cannot be used as asked; the message is one line naming it."""


def slug(text: str, limit: int = SLUG_LIMIT) -> str:
    """``text`` as one safe path component: letters and digits of any script (so a Chinese
    scenario name stays readable), ``-``, ``_`` and inner dots; every separator, control
    character, space or other symbol becomes ``-``; no leading dot (no ``.``, ``..`` or hidden
    name); at most ``limit`` characters; ``"unnamed"`` when nothing is left."""
    text = unicodedata.normalize("NFKC", str(text))
    kept = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    kept = re.sub(r"\.{2,}", "-", kept)  # no '..' anywhere, even where it is harmless
    kept = re.sub(r"-{2,}", "-", kept).strip("-.")
    return kept[:limit].rstrip("-.") or "unnamed"


def input_key(inputs: Mapping[str, Any]) -> str:
    """Eight hex digits of a hash of ``inputs`` (JSON-able: overrides, replications, seed,
    strategy, ...), the same for the same inputs in any order of keys."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def default_folder(name: str, kind: str, seed: int, inputs: Mapping[str, Any]) -> Path:
    """``results/<name>-<kind>-<seed>-<hash>``: the scenario's name and the kind of run
    (a strategy, ``compare``, ``sweep-lhs``) as slugs, the seed, and `input_key` of every
    other input that changes results. Raises `FolderError` should the path leave
    ``results/`` (it cannot, by construction; the check keeps it so)."""
    folder = RESULTS / f"{slug(name)}-{slug(kind)}-{int(seed)}-{input_key(inputs)}"
    inside(folder, RESULTS)
    return folder


def inside(path: Path, root: Path) -> None:
    """Raise `FolderError` unless ``path`` resolves to a place within ``root``."""
    real, base = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    with suppress(OSError):
        real, base = path.resolve(), root.resolve()
    if real != base and base not in real.parents:
        raise FolderError(f"{path}: resolves outside {root}/ ({real})")


def holds_results(folder: Path) -> bool:
    """Whether ``folder`` exists and has anything in it but hidden entries."""
    try:
        return any(not p.name.startswith(".") for p in folder.iterdir())
    except FileNotFoundError:
        return False


def check_target(folder: Path, replace: bool, hint: str = "") -> Path:
    """The folder results will land in (a symbolic link followed), refused with a
    `FolderError` when it is not a folder, or when it holds results and ``replace`` is
    false. ``hint`` is added to that refusal (how to keep the results)."""
    if folder.is_symlink():
        folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{folder}: exists and is not a folder")
    if not replace and holds_results(folder):
        more = f"; {hint}" if hint else ""
        raise FolderError(
            f"{folder}: already holds results; use --force to replace them whole, "
            f"or another --out{more}"
        )
    return folder


class Staging:
    """A hidden sibling folder to write results into, swapped into place by `commit`."""

    def __init__(self, target: Path) -> None:
        self.target = target
        parent = target.parent
        self.path = parent / f".{target.name}{_PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_stale(parent, target.name)
            self.path.mkdir()
        except OSError as e:
            # Named by the folder the user asked for, not by the hidden staging name.
            raise FolderError(f"{target}: cannot write results there: {e.strerror or e}") from None

    def commit(self) -> None:
        """Put the staged folder in the target's place, whole; the old contents go."""
        if self.target.is_dir():
            if _exchange(self.path, self.target):
                shutil.rmtree(self.path, ignore_errors=True)  # now the old results
                return
            old = self.target.with_name(f".{self.target.name}{_OLD}{secrets.token_hex(4)}")
            os.rename(self.target, old)
            os.rename(self.path, self.target)
            shutil.rmtree(old, ignore_errors=True)
            return
        os.rename(self.path, self.target)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Write results into the yielded folder; on a clean exit it replaces ``target`` whole,
    on an error (or an interrupt) it is removed and ``target`` is untouched."""
    stage = Staging(target)
    try:
        yield stage.path
    except BaseException:
        stage.discard()
        raise
    stage.commit()


@contextmanager
def rebuild(folder: Path) -> Iterator[Path]:
    """`staged` over a copy of ``folder``: change the copy, and the folder is replaced whole
    when done.

    The copy's files are hard links where the file system allows (a sweep of thousands of
    rows is copied in milliseconds, and a row kept by ``--resume`` stays the very file it
    was). That is safe because every omnisim writer replaces a file (`atomic_write_bytes`)
    and never writes into one; code that changes the copy must do the same."""
    with staged(folder) as work:
        work.rmdir()  # copytree creates it
        shutil.copytree(folder, work, symlinks=True, copy_function=_link_or_copy)
        yield work


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def remove_stale(parent: Path, name: str) -> None:
    """Remove the staging folders of ``name`` left by commands that were killed (their
    process no longer exists)."""
    prefix = f".{name}{_PARTIAL}"
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith(prefix):
            continue
        pid_text = p.name[len(prefix) :].partition("-")[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def exclusive(folder: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the block; a second
    holder is refused at once with a `FolderError` naming ``what`` holds it."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderError(
                f"{folder}: another {what} is writing this folder; wait for it to finish "
                "or use another --out"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


_RENAME_EXCHANGE = 2
_libc: Any = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2; False where it is not available
    (another system, an old C library, a file system without the flag)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))
