"""Run DAG runs in this process with ``dag.test()``: the engine behind ``modelgate run`` and ``simulate``.

Airflow starts once and each further run costs a fraction of a second, where ``airflow dags test``
would start Airflow for every run. Results go to a JSON-lines file, one line per run, so the CLI can
show progress while Airflow's own logs go to a log file.

Usage: python -m dags.runner --dag-id ID --out FILE --conf JSON DATE [DATE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dags.runner")
    ap.add_argument("--dag-id", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--conf", default="{}")
    ap.add_argument("dates", nargs="+")
    args = ap.parse_args(argv)

    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(__file__).resolve().parent
    bag = DagBag(str(folder))
    if bag.import_errors:
        for path, err in bag.import_errors.items():
            print(f"DAG import error in {path}: {err}", file=sys.stderr)
        return 1
    dag = bag.get_dag(args.dag_id)
    if dag is None:
        print(f"No DAG {args.dag_id!r} in {folder}", file=sys.stderr)
        return 1
    conf = json.loads(args.conf)
    failed = 0
    with args.out.open("a", encoding="utf-8") as out:
        for date in args.dates:
            logical = pendulum.parse(date)
            started = time.perf_counter()
            dr = dag.test(logical_date=logical, run_conf=conf)
            seconds = time.perf_counter() - started
            state = str(getattr(dr.state, "value", dr.state))
            failed += state != "success"
            out.write(
                json.dumps(
                    {
                        "logical_date": logical.isoformat(),
                        "run_id": dr.run_id,
                        "state": state,
                        "seconds": round(seconds, 4),
                    }
                )
                + "\n"
            )
            out.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
