"""How many threads a task may use, and an ordered map over them.

The heavy loops (sorting columns, the bootstrap, tree training) run in numpy, scipy and
scikit-learn code that releases the GIL, so threads in one process use the cores Airflow gives the
task. ``n_threads`` (0: every core this process may run on) caps them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_info, threadpool_limits

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


@contextlib.contextmanager
def limited(n_threads: int = 0) -> Iterator[int]:
    """Cap the native thread pools (OpenMP of scikit-learn's gradient boosting, BLAS of numpy's
    matrix products) at ``thread_limit(n_threads)`` for the block; yields the limit. On a busy
    2-core machine gradient boosting with every core ran 5-10x slower than with one."""
    limit = thread_limit(n_threads)
    with threadpool_limits(limits=limit):
        yield limit


def native_threads() -> dict[str, int]:
    """Threads each loaded native pool may use now (``openmp``, ``blas``): for tests and logs."""
    out: dict[str, int] = {}
    for pool in threadpool_info():
        api = str(pool.get("user_api"))
        out[api] = max(out.get(api, 0), int(pool.get("num_threads", 0)))
    return out
