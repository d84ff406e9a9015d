"""Reading policy files safely: bounded, regular files only, permissions checked on the fd.

The checks run on the *opened* file descriptor (as ``netrc`` does), so a file swapped in
between a check and the read is never read unchecked.  A FIFO is opened non-blocking so that
it is refused instead of hanging the process.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ._exceptions import PolicyError

__all__ = ["read_checked"]


def read_checked(source: str) -> bytes:
    from ._yaml import MAX_BYTES  # YAML is imported only when a policy file is read

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise PolicyError("no such file", source=source) from None
    except OSError as exc:
        raise PolicyError(f"cannot open: {exc.strerror}", source=source) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError("not a regular file", source=source)
        _check_owner_and_mode(info, source)
        _check_directory(source)
        if info.st_size > MAX_BYTES:
            raise PolicyError(f"file is larger than {MAX_BYTES} bytes", source=source)
        chunks: list[bytes] = []
        remaining = MAX_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_BYTES:
            raise PolicyError(f"file is larger than {MAX_BYTES} bytes", source=source)
        return data
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc.strerror}", source=source) from None
    finally:
        os.close(fd)


def _check_owner_and_mode(info: os.stat_result, source: str) -> None:
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows has no POSIX owners
        return
    if info.st_uid not in (os.getuid(), 0):
        raise PolicyError(
            f"owned by uid {info.st_uid}, not by you or root: anyone who owns it could "
            "weaken verification",
            source=source,
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PolicyError(
            f"writable by others (mode {stat.filemode(info.st_mode)}): run chmod go-w {source}",
            source=source,
        )


def _check_directory(source: str) -> None:
    parent = Path(source).resolve().parent
    try:
        mode = parent.stat().st_mode
    except OSError:  # pragma: no cover - the file was just opened inside it
        return
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise PolicyError(
            f"its directory {parent} is world-writable: anyone could replace the file",
            source=source,
        )
