"""The fleet at scale: dashboard pages on 50 models, and simulate's cost per model.

1. Pages: a registry of 50 models, each with 100 versions and a year of daily drift checks on 20
   features (18,250 drift reports, 365,000 per-feature scores, 5,000 versions), served by
   Streamlit and timed in Debian's chromium from a click on the sidebar link until the page is
   fully rendered; the baseline is the tests' small registry (the seeded model plus a second one)
   in the same process. Target: every page under 1 s (median).
2. Simulate: one month of ``modelgate simulate`` through real Airflow for 1, 10 and 50 small
   models (the demo data, 4 wards); the cost of each added model must stay flat (the first
   one also pays Airflow's start).

    .venv/bin/python bench/fleet.py [--repeat 5] [--models 50] [--skip-pages] [--skip-simulate]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard import fill, time_pages
from pipeline import auth
from pipeline.config import load_config
from registry import Registry
from tests.dashboard.seed import PASSWORD, add_fleet, env_for, populate
from tests.dashboard.test_browser import CHROMIUM

TARGET_S = 1.0
PAGES = {  # title -> (the page's last text, plotly charts when done)
    "Fleet": ("each model's logical clock", 0),
    "Overview": ("Recent alerts and failures", 0),
    "Drift": ("Distribution of a feature (reference vs current)", 3),
    "Models": ("A comparison", 1),
    "Reviews": ("Recently decided", 0),
}


def catalog(home: Path, names: list[str], extra: str = "") -> Path:
    path = home / "modelgate.toml"
    path.write_text("".join(f"[models.{n}]\n{extra}\n" for n in names))
    return path


def build_fleet(home: Path, models: int) -> Path:
    names = [f"m{i:02d}" for i in range(models)]
    home.mkdir(parents=True)
    path = catalog(home, names)
    cfg = load_config(env={**env_for(home), "MODELGATE_CONFIG": str(path)}, model=names[0])
    rng = random.Random(7)
    t = time.perf_counter()
    with Registry.open(cfg, create=True) as reg:
        for name in names:
            fill(reg.scoped(name), rng, versions=100, features=20, days=365)
        reg.add_user(
            username="ada", password_hash=auth.hash_password(PASSWORD), role="admin", by="bench"
        )
        events = reg.count_audit()
    print(
        f"fleet registry: {models} models x (100 versions, 365 checks x 20 features), "
        f"{events:,} audit events, built in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    return path


def build_small(home: Path) -> Path:
    """The tests' seeded registry, with a second model so the Fleet page shows."""
    populate(home, review_ttl_days=60)
    path = home / "modelgate.toml"
    os.environ.update({**env_for(home), "MODELGATE_CONFIG": str(path)})
    try:
        add_fleet(path)
    finally:
        for key in (*env_for(home), "MODELGATE_CONFIG"):
            os.environ.pop(key, None)
    return path


def bench_pages(tmp: Path, repeat: int, models: int) -> bool:
    from playwright.sync_api import sync_playwright

    small, big = tmp / "small", tmp / "fleet"
    small_cfg = build_small(small)
    big_cfg = build_fleet(big, models)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        base = time_pages(small, repeat, browser, tmp, PAGES, {"MODELGATE_CONFIG": str(small_cfg)})
        large = time_pages(big, repeat, browser, tmp, PAGES, {"MODELGATE_CONFIG": str(big_cfg)})
        browser.close()
    print(f"\nnavigation to fully rendered, median of {repeat} (seconds)")
    print(
        f"{'page':<10}{'small':>8}{f'{models} models':>12}{'ratio':>8}  target < {TARGET_S:.0f} s"
    )
    ok = True
    for title in PAGES:
        b, g = statistics.median(base[title]), statistics.median(large[title])
        ok &= g < TARGET_S
        print(f"{title:<10}{b:>8.2f}{g:>12.2f}{g / b:>8.2f}  {'met' if g < TARGET_S else 'MISSED'}")
    return ok


def bench_simulate(tmp: Path, counts: list[int]) -> bool:
    rows = []
    for n in counts:
        home = tmp / f"sim-{n}"
        home.mkdir(parents=True)
        names = [f"s{i:02d}" for i in range(n)]
        path = catalog(home, names, "demo_wards = 4\n")
        env = {**os.environ, **env_for(home), "MODELGATE_CONFIG": str(path)}
        env.pop("MODELGATE_MODEL", None)
        mg = str(Path(sys.executable).parent / "modelgate")
        subprocess.run([mg, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        t = time.perf_counter()
        subprocess.run(
            [mg, "simulate", "--months", "1"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        spent = time.perf_counter() - t
        rows.append((n, spent, spent / n))
        print(
            f"simulate 1 month, {n:>2} models: {spent:7.1f} s, {spent / n:5.2f} s per model",
            flush=True,
        )
    print(f"\n{'models':>6}{'seconds':>10}{'per model':>11}{'per added model':>17}")
    marginal = []
    for (n, spent, per), prev in zip(rows, [None, *rows[:-1]], strict=True):
        extra = "" if prev is None else f"{(spent - prev[1]) / (n - prev[0]):>17.2f}"
        if prev is not None:
            marginal.append((spent - prev[1]) / (n - prev[0]))
        print(f"{n:>6}{spent:>10.1f}{per:>11.2f}{extra}")
    # Flat: each added model costs about the same, however many there are already (the first
    # model also pays Airflow's start, so the comparison is between added models).
    flat = len(marginal) < 2 or max(marginal) < 1.5 * min(marginal)
    print(f"cost per added model {'flat' if flat else 'NOT flat'} (within 1.5x across the counts)")
    return flat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--simulate", default="1,10,50", help="model counts for the simulate part")
    ap.add_argument("--skip-pages", action="store_true")
    ap.add_argument("--skip-simulate", action="store_true")
    ap.add_argument("--keep", type=Path, help="build everything here and keep it")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mg-bench-fleet-"))
    ok = True
    if not args.skip_pages:
        ok &= bench_pages(tmp, args.repeat, args.models)
    if not args.skip_simulate:
        ok &= bench_simulate(tmp, [int(n) for n in args.simulate.split(",")])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
