"""Bounded time: :class:`Timeout`, and one watchdog thread for total deadlines.

urllib3 only bounds each socket operation, so a server that sends one byte just inside the
read timeout, forever, is never cut off (and one ``read(n)`` may loop over many ``recv``\\ s).
Each request therefore registers its total deadline with a single watchdog thread
(registering appends to a deque: no lock, no thread).  When a deadline passes,
the watchdog shuts the connection's socket down, which ends any blocked ``recv``, ``send`` or
handshake at once; the request then raises :class:`~securehttp.TimeoutError`.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from typing import Any

from ._frozen import Record

__all__ = ["TICK", "Timeout", "Watch", "watchdog"]

TICK = 0.05  # how late, at most, a total deadline fires


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

    __slots__ = ("cancelled", "connection", "deadline", "fired", "limits", "total")

    def __init__(self, deadline: float, total: float) -> None:
        self.deadline = deadline
        self.total = total
        self.limits: Timeout | None = None  # the request's limits, for timeout messages
        self.connection: Any = None
        self.fired = False
        self.cancelled = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline


class _Watchdog:
    """One thread for every total deadline.

    Registering must be nearly free (it is on every request's path): :meth:`start` appends
    to a deque and :meth:`cancel` sets a flag, neither takes a lock.  The thread looks at new
    deadlines every :data:`TICK` seconds while any are pending, so most requests finish and
    are dropped before they ever reach its heap; a deadline fires at most ``TICK`` late.
    """

    def __init__(self) -> None:
        self._new: collections.deque[Watch] = collections.deque()
        self._heap: list[tuple[float, int, Watch]] = []
        self._counter = itertools.count()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # only to start or retire the thread
        self._thread: threading.Thread | None = None
        self._idle = True

    def start(self, total: float) -> Watch:
        watch = Watch(time.monotonic() + total, total)
        self._new.append(watch)
        if self._idle:
            self._rouse()
        return watch

    def cancel(self, watch: Watch) -> None:
        watch.cancelled = True
        watch.connection = None

    def attach(self, watch: Watch, connection: Any) -> None:
        """``connection`` now serves ``watch``'s request (and no other's)."""
        with _owners:
            connection.securehttp_watch = watch
            watch.connection = connection

    def _rouse(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="securehttp-deadlines", daemon=True
                )
                self._idle = False
                self._thread.start()
            else:
                self._wake.set()

    def _run(self) -> None:
        heap, new = self._heap, self._new
        ticks = 0
        while True:
            while new:
                watch = new.popleft()
                if not watch.cancelled:
                    heapq.heappush(heap, (watch.deadline, next(self._counter), watch))
            now = time.monotonic()
            while heap and (heap[0][2].cancelled or heap[0][0] <= now):
                _, _, watch = heapq.heappop(heap)
                if not watch.cancelled:
                    watch.fired = True
                    _abort(watch)
            ticks += 1
            if len(heap) > 1024 and ticks % 64 == 0:
                # Long requests that ended early wait for their deadline in the heap.
                heap[:] = [entry for entry in heap if not entry[2].cancelled]
                heapq.heapify(heap)
            if heap or new:
                delay = min(TICK, heap[0][0] - now) if heap else TICK
                self._wake.wait(max(delay, 0.0))
                self._wake.clear()
                continue
            # Idle: sleep until start() rouses us; retire after a minute without work.
            self._idle = True
            if new:  # a start() that came between the checks above and the flag
                self._idle = False
                continue
            woken = self._wake.wait(60)
            self._wake.clear()
            with self._lock:
                if not woken and not new:
                    self._thread = None
                    return
                self._idle = False


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
