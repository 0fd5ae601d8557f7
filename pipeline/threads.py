"""How many threads a task may use, and an ordered map over them.

The heavy loops (sorting columns, the bootstrap, tree training) run in numpy, scipy and
scikit-learn code that releases the GIL, so threads in one process use the cores Airflow gives the
task. ``n_threads`` (0: every core this process may run on) caps them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's or a task's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_limit(n_threads: int = 0) -> int:
    """``n_threads`` when set (> 0), else every available core."""
    return n_threads if n_threads > 0 else available_cores()


def map_ordered(fn: Callable[[T], R], items: Iterable[T], n_threads: int = 0) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``thread_limit(n_threads)`` threads, in input order.

    The first exception raised by ``fn`` is raised here, as the plain loop would.

    >>> map_ordered(lambda x: x * x, range(5), n_threads=2)
    [0, 1, 4, 9, 16]
    """
    work = list(items)
    threads = min(thread_limit(n_threads), len(work))
    if threads <= 1:
        return [fn(x) for x in work]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modelgate") as pool:
        return list(pool.map(fn, work))
