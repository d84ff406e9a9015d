"""Bounded time: :class:`Timeout`, and one watchdog thread for total deadlines.

urllib3 only bounds each socket operation, so a server that sends one byte just inside the
read timeout, forever, is never cut off (and one ``read(n)`` may loop over many ``recv``\\ s).
Each request therefore registers its total deadline with a single watchdog thread (a heap
of deadlines: registering costs a lock and a push, never a thread).  When a deadline passes,
the watchdog shuts the connection's socket down, which ends any blocked ``recv``, ``send`` or
handshake at once; the request then raises :class:`~securehttp.TimeoutError`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from typing import Any

from ._frozen import Record

__all__ = ["Timeout", "Watch", "watchdog"]


class Timeout(Record):
    """Seconds allowed to ``connect`` (TCP and TLS handshake), to wait for each ``read``,
    and in ``total`` for the whole exchange: handshake, headers and the entire body."""

    __slots__ = ("connect", "read", "total")
    _fields = __slots__
    connect: float
    read: float
    total: float

    def __init__(self, connect: float = 10.0, read: float = 30.0, total: float = 300.0) -> None:
        for name, value in (("connect", connect), ("read", read), ("total", total)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Timeout.{name} must be a number of seconds, not {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"Timeout.{name} must be a finite number of seconds above 0")
        self._init(connect=connect, read=read, total=total)

    @classmethod
    def coerce(cls, value: float | Timeout | None, default: Timeout | None = None) -> Timeout:
        """``None`` is the default; a number bounds connect and read, the total stays."""
        base = default or cls()
        if value is None:
            return base
        if isinstance(value, Timeout):
            return value
        return cls(connect=value, read=value, total=max(base.total, value))


class Watch:
    """One registered deadline; ``fired`` says whether the watchdog acted on it."""

    __slots__ = ("cancelled", "connection", "deadline", "fired", "total")

    def __init__(self, deadline: float, total: float) -> None:
        self.deadline = deadline
        self.total = total
        self.connection: Any = None
        self.fired = False
        self.cancelled = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def start(self, total: float) -> Watch:
        watch = Watch(time.monotonic() + total, total)
        with self._condition:
            heapq.heappush(self._heap, (watch.deadline, next(self._counter), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="securehttp-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._condition.notify()
        return watch

    def cancel(self, watch: Watch) -> None:
        if watch.cancelled:
            return
        watch.cancelled = True
        watch.connection = None
        with self._condition:
            # Lazy deletion, compacted now and then so finished requests never pile up.
            self._cancelled += 1
            if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                    self._cancelled = max(0, self._cancelled - 1)
                if not self._heap:
                    # Idle: wait for work, and let the thread end if none comes.
                    if not self._condition.wait(timeout=60) and not self._heap:
                        self._thread = None
                        return
                    continue
                deadline, _, watch = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._condition.wait(timeout=delay)
                    continue
                heapq.heappop(self._heap)
                if not watch.cancelled:
                    watch.fired = True
                    _abort(watch)

    def attach(self, watch: Watch, connection: Any) -> None:
        """``connection`` now serves ``watch``'s request (and no other's)."""
        with _owners:
            connection.securehttp_watch = watch
            watch.connection = connection


# Guards the hand-over of a connection between requests, so that a deadline can only ever
# shut down a connection its own request still holds (urllib3 may put a connection back in
# the pool as soon as its body is complete, before the caller closes the response).
_owners = threading.Lock()


def _abort(watch: Watch) -> None:
    with _owners:
        connection = watch.connection
        if connection is None or getattr(connection, "securehttp_watch", None) is not watch:
            return
        sock = getattr(connection, "sock", None)
        if sock is None:
            return
        # shutdown, not close: the descriptor stays owned by its thread, so it cannot be
        # reused under it, and a blocked recv/send/handshake returns at once.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


watchdog = _Watchdog()
