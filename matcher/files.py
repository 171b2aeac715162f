"""Files written so that a crash leaves either the old content or the new, never half of it:
write to a temporary file beside the target, fsync, then rename over it (atomic on POSIX)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: Path) -> None:
    """Flush a file — or every file under a directory, and the directory — to disk."""
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                fsync_path(child)
        fsync_dir(path)
        return
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def atomic_write_bytes(target: Path, data: bytes, *, prefix: str = ".tmp-") -> Path:
    """Write `data` to `target` atomically (creating the folder); returns `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(target: Path, text: str, *, prefix: str = ".tmp-") -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"), prefix=prefix)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_path(directory: Path, digest: str) -> Path:
    """Where a content-addressed store keeps `digest`: fanned out by its first two characters."""
    return directory / digest[:2] / digest


def store_content(directory: Path, data: bytes, *, prefix: str = ".tmp-") -> str:
    """Keep `data` under its sha256 in `directory`, written atomically (a copy already there is
    the same bytes and stays); returns the digest."""
    digest = sha256_hex(data)
    target = content_path(directory, digest)
    if not target.exists():
        atomic_write_bytes(target, data, prefix=prefix)
    return digest
