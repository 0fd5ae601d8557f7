"""How long the dashboard's pages take in a real browser on a big registry.

Builds a registry with a year of daily drift checks on 50 features, 500 model versions and 100k
audit events, serves it with Streamlit, signs in with Debian's chromium (Playwright) and times
navigation (a click on the sidebar link) until the page is fully rendered: its last element is on
screen, every chart is drawn and the script has stopped running. The same is done on the small
seeded registry of the tests in the same process as the baseline; the ratio shows what scale
costs. Target: Overview and Drift under 2 s (median).

    .venv/bin/python bench/dashboard.py [--repeat 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import auth
from pipeline.config import load_config
from pipeline.reports import (
    Comparison,
    Decision,
    MetricInterval,
    TriggerCheck,
    TriggerReport,
)
from registry import Registry
from tests.dashboard.seed import PASSWORD, env_for, populate
from tests.dashboard.test_browser import CHROMIUM, free_port, wait_healthy

FEATURES = 50
VERSIONS = 500
DAYS = 365
AUDIT_EVENTS = 100_000
TARGET_S = 2.0

# page title -> (a text that is the page's last element, number of plotly charts when done)
PAGES = {
    "Overview": ("Recent alerts and failures", 0),
    "Drift": ("Distribution of a feature (reference vs current)", 3),
    "Models": ("A comparison", 1),
    "Audit log": ("events", 0),
}


def fill(reg: Registry, rng: random.Random, *, versions: int, features: int, days: int) -> None:
    """``versions`` retraining runs (a promotion every 25th, the rest rejected, each with its
    comparison) and ``days`` daily drift checks on ``features`` features, into ``reg``'s model."""
    start = dt.datetime(2025, 1, 1)
    names = [f"f{i:02d}" for i in range(features)]
    report = TriggerReport(
        checks=(TriggerCheck(name="schedule", fired=True, value=1, threshold=1, detail=""),)
    )
    champion = None
    for v in range(1, versions + 1):
        at = start + dt.timedelta(hours=17 * v)
        run_id = f"scheduled__{at:%Y-%m-%dT%H}"
        reg.start_run(
            run_id=run_id,
            dag_id="scheduled_retraining_with_gated_promotion",
            logical_date=at.isoformat(),
            as_of=at.isoformat(),
            run_type="scheduled",
            data_source="bench",
            triggers=report,
        )
        mae = 1.0 + rng.random() * 0.2
        reg.register_model(
            run_id=run_id,
            model_bytes=f"model {v}".encode(),
            estimator="sklearn.ensemble.HistGradientBoostingRegressor",
            params={},
            train_start=(at - dt.timedelta(days=365)).isoformat(),
            train_end=at.isoformat(),
            train_rows=4000,
            data_fingerprint=f"{v:064x}",
            metrics={"mae": mae, "rmse": mae * 1.3},
            schema={},
            feature_importance={n: 1 / features for n in names},
        )
        outcome = "promote" if v % 25 == 1 else "reject"
        if champion is not None:
            old = 1.1
            comp = Comparison(
                metric="mae",
                higher_is_better=False,
                challenger_version=v,
                champion_version=champion,
                challenger_value=mae,
                champion_value=old,
                relative_improvement=(old - mae) / old,
                absolute_improvement=old - mae,
                interval=MetricInterval(low=old - mae - 0.05, high=old - mae + 0.05, level=0.95),
                p_value=rng.random(),
                ttest_p_value=rng.random(),
                n_holdout=360,
                n_resamples=2000,
                challenger_metrics={"mae": mae},
                champion_metrics={"mae": old},
            )
            cid = reg.record_comparison(run_id, comp)
            reg.record_decision(
                run_id, cid, v, Decision(outcome=outcome, reasons=("bench decision",))
            )
        if outcome == "promote":
            reg.promote(
                version=v,
                expected_champion=champion,
                run_id=run_id,
                at=at.isoformat(),
                reason="bench",
            )
            champion = v
        reg.finish_run(run_id, status="success", outcome=outcome)
    for d in range(days):
        as_of = (start + dt.timedelta(days=d, hours=3)).isoformat()
        shift = max(0.0, (d - 200) / 100)
        features = []
        for i, n in enumerate(names):
            psi = abs(rng.gauss(0.02 + shift * (i % 5 == 0), 0.01))
            ks = abs(rng.gauss(0.02 + shift * 0.1 * (i % 5 == 0), 0.01))
            features.append(
                {
                    "name": n,
                    "kind": "numeric",
                    "ks": ks,
                    "p_value": rng.random(),
                    "p_adjusted": rng.random(),
                    "psi": psi,
                    "wasserstein": ks,
                    "chi2": None,
                    "missing_delta": 0.0,
                    "drifted": psi >= 0.2,
                    "score": max(psi / 0.2, ks / 0.08),
                    "distribution": {
                        "bins": [f"b{k}" for k in range(10)],
                        "reference": [0.1] * 10,
                        "current": [0.1] * 10,
                    },
                }
            )
        drifted = [f["name"] for f in features if f["drifted"]]
        reg.record_drift(
            run_id=f"drift__{as_of}",
            dag_id="drift_monitor",
            as_of=as_of,
            model_version=champion,
            report={
                "status": "ok",
                "drift_detected": bool(drifted),
                "drift_type": "data" if drifted else "none",
                "drift_score": max(f["score"] for f in features),
                "affected": drifted,
                "recommendation": "Retrain." if drifted else "No action.",
                "n_reference": 4000,
                "n_current": 360,
                "concept": None,
                "features": features,
            },
            triggers=[],
            retrain_requested=bool(drifted),
        )


def build_large(home: Path) -> None:
    """Write the big registry through the registry's own methods (hash chain and all)."""
    rng = random.Random(7)
    cfg = load_config(env=env_for(home), path=os.devnull)
    with Registry.open(cfg, create=True) as reg:
        fill(reg, rng, versions=VERSIONS, features=FEATURES, days=DAYS)
        reg.add_user(
            username="ada",
            password_hash=auth.hash_password(PASSWORD),
            role="admin",
            by="bench",
        )
        missing = AUDIT_EVENTS - reg.count_audit()
        reg.import_audit_events(
            {
                "actor": f"user{i % 7}",
                "event": ("login", "logout", "notification_sent")[i % 3],
                "entity": "user",
                "entity_id": f"user{i % 7}",
                "details": {"n": i},
            }
            for i in range(missing)
        )
        status = reg.status()
    print(
        f"large registry: {status['versions']} versions, {DAYS} drift checks x {FEATURES} features, "
        f"{status['audit_events']:,} audit events",
        flush=True,
    )


def time_pages(
    home: Path,
    repeat: int,
    browser: object,
    tmp: Path,
    pages: dict[str, tuple[str, int]] = PAGES,
    env_extra: dict[str, str] | None = None,
) -> dict[str, list[float]]:
    from playwright.sync_api import expect

    from pipeline.cli import dashboard_command

    expect.set_options(timeout=60_000)

    port = free_port()
    log = tmp / f"streamlit-{port}.log"
    env = {**os.environ, **env_for(home), **(env_extra or {})}
    proc = subprocess.Popen(
        dashboard_command(port), env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    times: dict[str, list[float]] = {p: [] for p in pages}
    try:
        wait_healthy(url, proc, log)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(url)
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Signed in as ada")).to_be_visible()

        def done(title: str) -> None:
            marker, charts = pages[title]
            expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
            expect(page.get_by_text(marker).first).to_be_visible()
            if charts:
                expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
                page.wait_for_function(
                    f"document.querySelectorAll('.js-plotly-plot').length >= {charts}"
                )
            page.wait_for_function(
                "!document.querySelector('[data-testid=\"stStatusWidget\"]')"
                " || document.querySelector('[data-testid=\"stStatusWidget\"]').offsetParent === null"
            )

        for i in range(repeat + 1):  # the first round warms caches and imports; not counted
            for title in pages:
                page.get_by_role("link", name="Users", exact=True).click()
                expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
                page.wait_for_timeout(200)
                t0 = time.perf_counter()
                page.get_by_role("link", name=title, exact=True).click()
                done(title)
                if i:
                    times[title].append(time.perf_counter() - t0)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="build the registries here and keep them")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mg-bench-dash-"))
    small, large = tmp / "small", tmp / "large"
    t = time.perf_counter()
    if not small.exists():
        populate(small, review_ttl_days=60)
    if not large.exists():
        build_large(large)
    print(f"registries ready in {time.perf_counter() - t:.1f} s ({tmp})", flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        base = time_pages(small, args.repeat, browser, tmp)
        big = time_pages(large, args.repeat, browser, tmp)
        browser.close()
    print(f"\nnavigation to fully rendered, median of {args.repeat} (seconds)")
    print(f"{'page':<12}{'baseline':>10}{'large':>10}{'ratio':>8}  target")
    failed = False
    for title in PAGES:
        b, g = statistics.median(base[title]), statistics.median(big[title])
        target = title in ("Overview", "Drift")
        ok = g < TARGET_S
        failed |= target and not ok
        verdict = (f"< {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}") if target else "-"
        print(f"{title:<12}{b:>10.2f}{g:>10.2f}{g / b:>8.2f}  {verdict}")
    cfg = load_config(env=env_for(large), path=os.devnull)
    with Registry.open(cfg) as reg:
        t = time.perf_counter()
        check = reg.verify_audit()
        spent = time.perf_counter() - t
    print(
        f"\nAudit log: verifying the hash chain of {check.events:,} events takes {spent:.2f} s; the "
        "page caches the verdict per newest event for 60 s, so only the first visit after a "
        "change pays it (the timings above are warm)."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
