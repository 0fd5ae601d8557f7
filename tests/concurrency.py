"""Run one function in many threads at the same moment (each thread opens its own registry
connection, as separate admin sessions or processes do)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def at_once(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """``fn(0) .. fn(n - 1)``, each in its own thread, released together by a barrier; the
    results in order (an exception raised is returned in its place)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # the caller asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
