"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against a real
Streamlit server: an admin approves a review and sees the result, a viewer sees no admin pages,
wrong passwords get a clear message. Screenshots of every page go to docs/screenshots/."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import dashboard_command
from tests.dashboard.conftest import SETTINGS
from tests.dashboard.seed import PASSWORD, add_fleet, add_rollout, env_for

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=20_000)  # 2 cores under load: a rerun can take seconds
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"streamlit did not become healthy: {log.read_text()[-2000:]}")


def start_dashboard(
    home: Path, tmp: Path, **settings: object
) -> tuple[str, subprocess.Popen, Path]:
    port = free_port()
    log = tmp / f"streamlit-{port}.log"
    env = {**os.environ, **env_for(home, **{**SETTINGS, **settings})}
    proc = subprocess.Popen(
        dashboard_command(port), env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    return url, proc, log


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: 'make test' installs Debian's chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


@pytest.fixture
def server(dash_home, tmp_path) -> Iterator[str]:
    url, proc, _ = start_dashboard(dash_home, tmp_path)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.goto(server)
    yield pg
    context.close()


def log_in(page, name: str, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def open_page(page, title: str, heading: str | None = None) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # charts finish their layout animation
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_admin_approves_a_review_and_sees_it_everywhere(page, dash_cfg):
    log_in(page, "ada")
    expect(page.get_by_text("Champion: version 1")).to_be_visible()
    expect(page.get_by_text("Signed in as ada (admin)")).to_be_visible()
    shot(page, "overview")

    open_page(page, "Drift")
    expect(page.get_by_text("Per-feature drift over time")).to_be_visible()
    shot(page, "drift")
    open_page(page, "Models")
    expect(page.get_by_text("Champion history")).to_be_visible()
    shot(page, "models")

    open_page(page, "Reviews")
    expect(page.get_by_text("Review 1: version 6 vs champion v1")).to_be_visible()
    shot(page, "reviews")
    page.get_by_role("button", name="Approve", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Version 6 becomes the champion.")).to_be_visible()
    dialog.get_by_label("Reason").fill("better on every ward")
    dialog.get_by_label("Reason").press("Enter")
    dialog.get_by_role("button", name="Confirm approval").click()
    expect(page.get_by_text("Approved review 1: version 6 is now the champion.")).to_be_visible()

    open_page(page, "Overview")
    expect(page.get_by_text("Champion: version 6")).to_be_visible()
    expect(page.get_by_text(re.compile(r"approved by ada\."))).to_be_visible()

    open_page(page, "Audit log")
    expect(page.get_by_text("The audit log verifies")).to_be_visible()
    # The newest rows, as the page's own summary line and grid show them.
    page.get_by_role("combobox").first.click()  # the Event filter
    page.get_by_role("option", name="review_approved", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Showing 1 events"))).to_be_visible()
    # The grid draws on a canvas; its accessible table carries the cells.
    cells = page.locator("td[role=gridcell]")
    expect(cells.filter(has_text=re.compile(r"^review_approved$"))).to_have_count(1)
    expect(cells.filter(has_text=re.compile(r"^ada$"))).to_have_count(1)
    shot(page, "audit")

    open_page(page, "Rollback")
    expect(page.get_by_text("The champion is version 6")).to_be_visible()
    shot(page, "rollback")
    open_page(page, "Users")
    shot(page, "users")


def test_a_viewer_has_no_reviews_or_rollback_page(page):
    log_in(page, "vic")
    expect(page.get_by_text("Signed in as vic (viewer)")).to_be_visible()
    for title in ("Overview", "Drift", "Models", "Audit log"):
        expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    for title in ("Reviews", "Rollback", "Users"):
        expect(page.get_by_role("link", name=title, exact=True)).to_have_count(0)
    # Typing the admin page's address does not help either.
    page.goto(page.url.rsplit("/", 1)[0] + "/reviews")
    expect(page.get_by_role("heading", name="Reviews", exact=True)).to_have_count(0)


def test_three_wrong_passwords_get_a_clear_message_each_time(page, dash_cfg):
    from registry import Registry

    def failures() -> int:
        with Registry.open(dash_cfg) as reg:
            return len(reg.audit_log(event="login_failed", actor="ada"))

    for attempt in range(1, 4):
        log_in(page, "ada", f"wrong-{attempt}")
        expect(page.get_by_text("Wrong username or password.")).to_be_visible()
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while failures() < attempt and time.monotonic() < deadline:
            time.sleep(0.1)
        assert failures() == attempt
    expect(page.get_by_role("link", name="Overview", exact=True)).to_have_count(0)


def test_an_open_page_picks_up_a_decision_made_elsewhere(browser, dash_home, dash_cfg, tmp_path):
    from registry import Registry

    url, proc, _ = start_dashboard(dash_home, tmp_path, dashboard_refresh_seconds=2)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        log_in(page, "vic")
        waiting = page.get_by_role("heading", name="Waiting for a decision")
        expect(waiting).to_be_visible()
        with Registry.open(dash_cfg) as reg:  # e.g. another admin, or the CLI
            reg.reject_review(1, by="carl", reason="not now")
        expect(waiting).to_have_count(0)  # within the 20 s expect timeout; refresh every 2 s
        expect(page.get_by_text("Champion: version 1")).to_be_visible()
    finally:
        context.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_the_rollouts_page_in_the_browser(browser, dash_home, dash_cfg, tmp_path):
    add_rollout(dash_cfg)
    url, proc, _ = start_dashboard(dash_home, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        log_in(page, "ada")
        open_page(page, "Rollouts")
        expect(page.get_by_text("No sample ratio mismatch")).to_be_visible()
        expect(page.get_by_text("Difference with its always-valid interval")).to_be_visible()
        expect(page.get_by_role("button", name="Pause")).to_be_visible()
        shot(page, "rollouts")
    finally:
        context.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_a_fleet_journey_from_the_fleet_to_a_models_review(
    browser, dash_home, dash_cfg, tmp_path, monkeypatch
):
    import dataclasses

    from registry import Registry

    path = tmp_path / "modelgate.toml"
    monkeypatch.setenv("MODELGATE_CONFIG", str(path))
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    weekly = add_fleet(path)
    with Registry.open(weekly) as reg:
        (review,) = reg.reviews("pending")
    url, proc, _ = start_dashboard(dash_home, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(url)
        log_in(page, "ada")
        expect(page.get_by_role("heading", name="Fleet", exact=True)).to_be_visible()
        cells = page.locator("td[role=gridcell]")
        expect(cells.filter(has_text="weekly")).to_have_count(1)  # its row, linking to it
        shot(page, "fleet")
        sidebar = page.locator("[data-testid=stSidebar]")
        sidebar.get_by_role("combobox").click()
        page.get_by_role("option", name="weekly", exact=True).click()
        expect(page).to_have_url(re.compile(r"model=weekly"))
        open_page(page, "Reviews")
        expect(page.get_by_text(f"Review {review.id}: version 2 vs champion v1")).to_be_visible()
        page.get_by_role("button", name="Approve", exact=True).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Reason").fill("weekly is better")
        dialog.get_by_label("Reason").press("Enter")
        dialog.get_by_role("button", name="Confirm approval").click()
        expect(
            page.get_by_text(f"Approved review {review.id}: version 2 is now the champion.")
        ).to_be_visible()
        expect(page).to_have_url(re.compile(r"model=weekly"))
    finally:
        context.close()
        proc.terminate()
        proc.wait(timeout=30)
    with Registry.open(weekly) as reg:
        assert reg.current_champion().version == 2
    with Registry.open(dataclasses.replace(weekly, model="default")) as reg:
        assert reg.current_champion().version == 1 and len(reg.reviews("pending")) == 1


def test_an_email_link_opens_its_review_after_sign_in(browser, server, dash_cfg):
    """The review email's link, opened signed out: the sign-in form (no 'Page not found'), then
    that review with its evidence; the per-ward table is read and the review approved."""
    from registry import Registry

    with Registry.open(dash_cfg) as reg:
        (review,) = reg.reviews("pending")
        (email,) = [m for m in reg.outbox(200) if m["event"] == "review_requested"]
    link = re.search(r"Open the dashboard: (\S+)", email["text"])[1]
    assert link.endswith(f"/reviews?review={review.id}")
    link = server + link.split(":8501", 1)[1]  # the test's server instead of the default port
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(page.get_by_text("Page not found")).to_have_count(0)
        log_in(page, "ada")
        expect(page.get_by_role("heading", name="Reviews", exact=True)).to_be_visible()
        expect(page.get_by_text(f"Review {review.id}: version 6 vs champion v1")).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/reviews\?review={review.id}$"))
        expect(page.get_by_text("Per segment (ward)")).to_be_visible()
        cells = page.locator("td[role=gridcell]")
        for ward in ("W01", "W12"):  # the segment table's rows, one per ward
            expect(cells.filter(has_text=re.compile(rf"^{ward}$"))).to_have_count(1)
        expect(page.get_by_text("Every metric, both models, the same holdout rows")).to_be_visible()
        expect(page.get_by_role("link", name="Open the run in Airflow")).to_be_visible()
        expect(page.get_by_text("Page not found")).to_have_count(0)
        shot(page, "review")
        page.get_by_text("Errors of both models on the holdout").scroll_into_view_if_needed()
        shot(page, "review-evidence")
        page.get_by_role("button", name="Approve", exact=True).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Reason").fill("no ward is worse beyond noise")
        dialog.get_by_label("Reason").press("Enter")
        dialog.get_by_role("button", name="Confirm approval").click()
        expect(
            page.get_by_text(f"Approved review {review.id}: version 6 is now the champion.")
        ).to_be_visible()
    finally:
        context.close()
    with Registry.open(dash_cfg) as reg:
        assert reg.current_champion().version == 6


def test_a_reload_of_any_page_signs_in_to_that_page(page):
    log_in(page, "vic")
    open_page(page, "Drift")
    page.reload()  # a new session: signed out, but still on /drift
    log_in(page, "vic")
    expect(page.get_by_role("heading", name="Drift", exact=True)).to_be_visible()
    page.goto(page.url.rsplit("/", 1)[0] + "/reviews")  # an admin page, as a viewer
    log_in(page, "vic")
    expect(page.get_by_text("This page is for admins")).to_be_visible()


def visit_every_page(page, name: str, *, signed_in: bool = False) -> None:
    """Sign in and open every page the account may see, waiting for each to render."""
    if not signed_in:
        log_in(page, name)
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()
    titles = ["Overview", "Drift", "Models", "Rollouts", "Audit log"]
    if name == "ada":
        titles += ["Reviews", "Rollback", "Users"]
    for title in titles:
        open_page(page, title)
        page.wait_for_timeout(500)  # charts and grids fetch what they fetch
    page.reload()  # a deep link, loaded from scratch
    page.wait_for_load_state("networkidle")


def recording_page(browser, url: str, allowed: str, outside: list[str]):  # type: ignore[no-untyped-def]
    """A fresh context and page at ``url`` that notes every request not under ``allowed``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    local = (allowed, "data:", "blob:", "about:")
    context.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    page = context.new_page()
    page.goto(url)
    return context, page


def test_no_page_requests_anything_outside_127_0_0_1(browser, server):
    """An ops dashboard works with no internet: every request of every page, for an admin and a
    viewer, goes to the dashboard itself."""
    outside: list[str] = []
    for name in ("ada", "vic"):
        context, pg = recording_page(browser, server, "http://127.0.0.1:", outside)
        visit_every_page(pg, name)
        context.close()
    assert outside == [], sorted(set(outside))


def test_names_and_reasons_are_shown_as_text_and_fetch_nothing(
    browser, dash_home, dash_cfg, tmp_path
):
    """Markdown, HTML and script written into every free-text field and name (an actor, an
    approver, a reason, a column, a user, an announced promotion) show as typed, and no page
    makes the browser fetch the URLs they name: a listener on loopback must hear nothing."""
    import http.server
    import json
    import sqlite3
    import threading

    from pipeline import auth
    from registry import Registry

    heard: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{listener.server_address[1]}"
    payload = (
        f"![x]({base}/md.png) <img src={base}/img.png> <script src={base}/s.js></script> "
        f"[link]({base}/a) $x$ :red[r]"
    )
    with Registry.open(dash_cfg) as reg:
        (review,) = reg.reviews("pending")
        reg.approve(review.id, by=payload, reason=payload, required=2)  # a vote, not a decision
        reg.schedule_promotion(
            run_id="injected",
            version=5,
            expected_champion=1,
            reason=payload,
            announced_at="2025-06-01T02:00:00",
            due_at="2030-01-01T00:00:00",
        )
        reg.rollback(by=payload, reason=payload, to_version=4)
        reg.add_user(
            username=payload, password_hash=auth.hash_password("x" * 12), role="viewer", by=payload
        )
    db = sqlite3.connect(dash_home / "registry.db")
    (feature,) = db.execute("SELECT feature FROM drift_scores LIMIT 1").fetchone()
    db.execute("UPDATE drift_scores SET feature = ? WHERE feature = ?", [payload, feature])
    db.execute("UPDATE decisions SET reasons = ?", [json.dumps([payload])])
    db.commit()
    db.close()

    url, proc, _ = start_dashboard(dash_home, tmp_path)
    outside: list[str] = []
    try:
        for name in ("ada", "vic"):
            context, pg = recording_page(browser, url, url, outside)
            log_in(pg, name)
            expect(
                pg.get_by_text(re.compile(re.escape(f"rolled back by {payload}")))
            ).to_be_visible()
            if name == "ada":
                open_page(pg, "Reviews")
                expect(pg.get_by_text(re.compile(re.escape(f"({payload} at")))).to_be_visible()
            visit_every_page(pg, name, signed_in=True)
            context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        listener.shutdown()
    assert heard == [] and outside == [], (heard, sorted(set(outside)))
