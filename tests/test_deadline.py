"""The watchdog behind total deadlines: registering is lock-free, finished requests never
pile up, and a deadline fires (shutting its connection down) at most a tick late."""

from __future__ import annotations

import socket
import threading
import time

from securehttp._deadline import TICK, watchdog


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_finished_requests_never_pile_up() -> None:
    kept = []  # alive, so that no other Watch can take one of their ids
    for _ in range(3_000):
        kept.append(watchdog.start(300.0))
    time.sleep(3 * TICK)  # now they are in the heap: requests that ran for a while
    for watch in kept:
        watchdog.cancel(watch)
    for _ in range(10_000):  # and many that finished at once
        watch = watchdog.start(300.0)
        watchdog.cancel(watch)
        kept.append(watch)
    mine = {id(watch) for watch in kept}

    def left() -> int:
        return sum(id(entry[2]) in mine for entry in list(watchdog._heap))

    deadline = time.monotonic() + 100 * TICK + 5
    while (watchdog._new or left()) and time.monotonic() < deadline:
        time.sleep(TICK)
    assert not watchdog._new
    assert left() == 0


def test_a_deadline_shuts_its_connection_down() -> None:
    left, right = socket.socketpair()
    with left, right:
        watch = watchdog.start(0.2)
        watchdog.attach(watch, _Connection(left))
        started = time.monotonic()
        left.settimeout(5)
        assert left.recv(1) == b""  # shutdown ends the blocked recv
        assert watch.fired
        assert time.monotonic() - started < 0.2 + 2 * TICK + 1


def test_twin_a_cancelled_deadline_never_fires() -> None:
    left, right = socket.socketpair()
    with left, right:
        watch = watchdog.start(0.1)
        watchdog.attach(watch, _Connection(left))
        watchdog.cancel(watch)
        time.sleep(0.1 + 3 * TICK)
        assert not watch.fired
        right.sendall(b"x")
        left.settimeout(5)
        assert left.recv(1) == b"x"


def test_registering_from_many_threads_loses_nothing() -> None:
    watches = []
    lock = threading.Lock()

    def register() -> None:
        mine = [watchdog.start(0.3) for _ in range(200)]
        with lock:
            watches.extend(mine)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 5
    while not all(w.fired for w in watches) and time.monotonic() < deadline:
        time.sleep(TICK)
    assert len(watches) == 1600
    assert all(w.fired for w in watches)
