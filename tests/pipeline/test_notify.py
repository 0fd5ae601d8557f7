"""Notifications against a real SMTP server (aiosmtpd) on 127.0.0.1, plain and STARTTLS."""

from __future__ import annotations

import datetime as dt
import email
import logging
import os
import re
import socket
import ssl
from email import policy as email_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline import cli, loop
from pipeline.config import load_config
from pipeline.notify import flush
from registry import Registry
from tests.conftest import make_env


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email_policy.default)
        )
        return "250 OK"

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the test."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_server(certificate, **kwargs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    box = Inbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=ctx,
        require_starttls=True,
        **kwargs,
    )
    controller.start()
    return box, controller


def _cfg(home: Path, port: int, **extra: str):
    env = {
        **make_env(home),
        "MODELGATE_SMTP_HOST": "127.0.0.1",
        "MODELGATE_SMTP_PORT": str(port),
        "MODELGATE_SMTP_STARTTLS": "false",
        "MODELGATE_NOTIFY_TO": "admin@example.org, ops@example.org",
        "MODELGATE_NOTIFY_RETRY_BASE_SECONDS": "0",
        **extra,
    }
    return load_config(env=env, path=os.devnull), env


def _run(cfg, reg, run_id: str, as_of: dt.datetime) -> None:
    ctx = loop.RunContext(run_id=run_id, as_of=as_of, force=True)
    loop.check_triggers(cfg, reg, ctx)
    v = loop.train_challenger(cfg, reg, ctx)["version"]
    res = loop.evaluate_challenger(cfg, reg, ctx, v)
    if res["outcome"] == "promote":
        loop.promote(cfg, reg, ctx, v, res["champion"])
    elif res["outcome"] == "review":
        loop.request_review(cfg, reg, ctx, v, res["comparison_id"], res["champion"])
    else:
        loop.reject(cfg, reg, ctx, v)
    loop.finish(cfg, reg, ctx)


def test_a_promotion_and_drift_arrive_with_their_figures_once(home, inbox):
    box, port = inbox
    cfg, _ = _cfg(home, port)
    with Registry.open(cfg, create=True) as reg:
        _run(cfg, reg, "run-1", dt.datetime(2025, 1, 1, 2))
        loop.finish(
            cfg, reg, loop.RunContext(run_id="run-1", as_of=dt.datetime(2025, 1, 1, 2))
        )  # a retry
        loop.drift_check(
            cfg,
            reg,
            loop.RunContext(
                run_id="drift-1", dag_id=loop.DRIFT_DAG_ID, as_of=dt.datetime(2025, 5, 28, 3)
            ),
        )
        _run(cfg, reg, "run-2", dt.datetime(2025, 6, 1, 2))
        outbox = reg.outbox()
    subjects = box.subjects()
    # An immediate promotion is announced once, by its champion change (no "pending ... now").
    assert subjects[0] == "[ModelGate] Promoted version 1: first champion (mae 1.154)"
    assert (
        subjects[1].startswith("[ModelGate] Drift detected: ")
        and "emergency_admissions" in subjects[1]
    )
    assert subjects[2].startswith("[ModelGate] Review requested: version 2 (+2.99% mae, p=")
    assert len(subjects) == 3  # the retried finish sent nothing twice
    review = box.messages[2]
    assert review["To"] == "admin@example.org, ops@example.org"
    text = review.get_body(preferencelist=("plain",)).get_content()
    html = review.get_body(preferencelist=("html",)).get_content()
    # The audit head it follows, an outside witness, in both bodies.
    assert re.search(r"Audit log: event \d+, head [0-9a-f]{64}", text)
    assert re.search(r"<small>Audit log: event \d+, head [0-9a-f]{64}</small>", html)
    for fact in (
        "Improvement: +2.99%",
        "Champion: 0.9864",
        "Challenger: 0.9568",
        "Run: run-2",
        "http://127.0.0.1:8501/reviews",
        "Expires: 2025-06-15",
    ):
        assert fact in text
    assert "<table" in html and "run-2" in html
    assert {r["status"] for r in outbox} == {"sent"} and len(outbox) == 3


def test_starttls_with_a_self_signed_certificate(home, certificate, capsys):
    box, controller = _tls_server(certificate)
    try:
        _, env = _cfg(
            home,
            controller.port,
            MODELGATE_SMTP_STARTTLS="true",
            MODELGATE_SMTP_CA_FILE=str(certificate[0]),
        )
        for k, v in env.items():
            os.environ[k] = v
        try:
            assert cli.main(["notify", "test"]) == 0
        finally:
            for k in env:
                os.environ.pop(k, None)
    finally:
        controller.stop()
    assert "Sent a test email through 127.0.0.1" in capsys.readouterr().out
    assert box.subjects() == ["[ModelGate] Test notification"]


def test_without_the_ca_the_certificate_is_refused(home, certificate, monkeypatch, capsys):
    box, controller = _tls_server(certificate)
    try:
        _, env = _cfg(home, controller.port, MODELGATE_SMTP_STARTTLS="true")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert cli.main(["notify", "test"]) == 2
    finally:
        controller.stop()
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "TLS with 127.0.0.1" in err and "CERTIFICATE_VERIFY_FAILED" in err
    )
    assert box.messages == []


def test_a_wrong_password_is_reported_in_one_line(home, certificate, monkeypatch, capsys):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"right"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 235 or 535

    box, controller = _tls_server(certificate, authenticator=authenticate, auth_required=True)
    try:
        _, env = _cfg(
            home,
            controller.port,
            MODELGATE_SMTP_STARTTLS="true",
            MODELGATE_SMTP_CA_FILE=str(certificate[0]),
            MODELGATE_SMTP_USER="modelgate",
            MODELGATE_SMTP_PASSWORD="wrong",
        )
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert cli.main(["notify", "test"]) == 2
        err = capsys.readouterr().err
        assert (
            err.count("\n") == 1
            and "SMTP login as 'modelgate' refused by 127.0.0.1" in err
            and "535" in err
        )
        monkeypatch.setenv("MODELGATE_SMTP_PASSWORD", "right")
        assert cli.main(["notify", "test"]) == 0
    finally:
        controller.stop()
    assert box.subjects() == ["[ModelGate] Test notification"]


def test_server_down_then_up_later_run_delivers(home, caplog):
    port = _free_port()  # nothing listens here yet
    cfg, _ = _cfg(home, port)
    with (
        caplog.at_level(logging.INFO, logger="modelgate.notify"),
        Registry.open(cfg, create=True) as reg,
    ):
        _run(cfg, reg, "run-1", dt.datetime(2025, 1, 1, 2))  # the pipeline does not fail
        items = reg.outbox()
        assert [i["status"] for i in items] == ["failed"]  # promoted
        item = items[0]
        assert (
            "Cannot deliver through 127.0.0.1" in item["last_error"]
            and "refused" in item["last_error"]
        )
        assert reg.current_champion().version == 1
        assert any("Promoted version 1" in r.getMessage() for r in caplog.records)
        box = Inbox()
        controller = Controller(box, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            assert flush(cfg, reg) == {"sent": 1, "failed": 0}  # what a later run does first
        finally:
            controller.stop()
        # 'promoted' failed once when the decision committed, then went out on the retry
        assert [(i["status"], i["attempts"]) for i in reg.outbox()] == [("sent", 2)]
    assert box.subjects() == ["[ModelGate] Promoted version 1: first champion (mae 1.154)"]


def test_without_smtp_settings_notifications_are_logged(home, caplog, capsys, monkeypatch):
    cfg = load_config(env=make_env(home), path=os.devnull)
    with (
        caplog.at_level(logging.INFO, logger="modelgate.notify"),
        Registry.open(cfg, create=True) as reg,
    ):
        _run(cfg, reg, "run-1", dt.datetime(2025, 1, 1, 2))
        items = reg.outbox()
    assert {(i["channel"], i["status"]) for i in items} == {("log", "logged")} and len(items) == 1
    assert any('"event": "promoted"' in r.getMessage() for r in caplog.records)
    for k, v in make_env(home).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    assert cli.main(["notify", "test"]) == 2
    assert "No SMTP server configured" in capsys.readouterr().err
    assert cli.main(["outbox"]) == 0
    assert "Promoted version 1" in capsys.readouterr().out


def test_a_notice_period_holds_the_promotion_until_a_later_run_unless_vetoed(
    home, inbox, monkeypatch, capsys
):
    box, port = inbox
    cfg, _ = _cfg(home, port, MODELGATE_PROMOTION_NOTICE_HOURS="48")
    with Registry.open(cfg, create=True) as reg:
        _run(cfg, reg, "run-1", dt.datetime(2025, 1, 1, 2))
        assert reg.current_champion() is None  # announced, not applied
        (pending,) = reg.pending_promotions()
        assert pending["due_at"] == "2025-01-03T02:00:00"
        text = box.messages[0].get_body(preferencelist=("plain",)).get_content()
        assert (
            f"modelgate veto {pending['id']}" in text and "Applies at: 2025-01-03T02:00:00" in text
        )
        loop.drift_check(
            cfg,
            reg,
            loop.RunContext(
                run_id="d1", dag_id=loop.DRIFT_DAG_ID, as_of=dt.datetime(2025, 1, 2, 3)
            ),
        )
        assert reg.current_champion() is None  # the notice has not passed
        loop.drift_check(
            cfg,
            reg,
            loop.RunContext(
                run_id="d2", dag_id=loop.DRIFT_DAG_ID, as_of=dt.datetime(2025, 1, 3, 3)
            ),
        )
        assert reg.current_champion().version == 1
    assert box.subjects()[:2] == [
        "[ModelGate] Promotion pending: version 1 replaces version - at 2025-01-03T02:00",
        "[ModelGate] Promoted version 1: first champion (mae 1.154)",
    ]
    # A second announced promotion is vetoed from the command line and never applies.
    home2 = home.parent / "mg2"
    cfg2, env2 = _cfg(home2, port, MODELGATE_PROMOTION_NOTICE_HOURS="48")
    with Registry.open(cfg2, create=True) as reg:
        _run(cfg2, reg, "run-1", dt.datetime(2025, 1, 1, 2))
        (pending,) = reg.pending_promotions()
    for k, v in {**env2, "MODELGATE_CONFIG": os.devnull}.items():
        monkeypatch.setenv(k, v)
    assert (
        cli.main(["veto", str(pending["id"]), "--by", "alice", "--reason", "holiday freeze"]) == 0
    )
    assert cli.main(["veto", str(pending["id"]), "--by", "bob", "--reason", "again"]) == 2
    assert "already vetoed (by alice" in capsys.readouterr().err
    with Registry.open(cfg2) as reg:
        loop.drift_check(
            cfg2,
            reg,
            loop.RunContext(
                run_id="d9", dag_id=loop.DRIFT_DAG_ID, as_of=dt.datetime(2025, 1, 5, 3)
            ),
        )
        assert reg.current_champion() is None
        assert [e["event"] for e in reg.audit_log(event="promotion_vetoed")] == ["promotion_vetoed"]


def test_a_review_about_to_expire_is_announced_once_and_undelivered_mail_is_retried_by_later_runs(
    home,
):
    port = _free_port()
    cfg, _ = _cfg(home, port)
    with Registry.open(cfg, create=True) as reg:
        _run(cfg, reg, "run-1", dt.datetime(2025, 1, 1, 2))
        _run(cfg, reg, "run-2", dt.datetime(2025, 6, 1, 2))  # a review, expiring 2025-06-15
        assert {i["status"] for i in reg.outbox()} == {"failed"}  # the server is down
        box = Inbox()
        controller = Controller(box, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            for day in (10, 13, 14):  # the daily monitor runs; no new event on the 10th
                loop.drift_check(
                    cfg,
                    reg,
                    loop.RunContext(
                        run_id=f"d{day}",
                        dag_id=loop.DRIFT_DAG_ID,
                        as_of=dt.datetime(2025, 6, day, 3),
                    ),
                )
        finally:
            controller.stop()
        assert {i["status"] for i in reg.outbox()} == {"sent"}
    subjects = box.subjects()
    # The two undelivered messages go out first, with the run on the 10th; the warning comes once.
    assert subjects[:2] == [
        "[ModelGate] Promoted version 1: first champion (mae 1.154)",
        "[ModelGate] Review requested: version 2 (+2.99% mae, p=0.08591)",
    ]
    expiring = [s for s in subjects if "Review expiring" in s]
    assert expiring == ["[ModelGate] Review expiring: version 2 (+2.99% mae) expires 2025-06-15"]
    # The review's email carries the baseline it had to beat and what the bootstrap drew.
    body = box.messages[1].get_body(("plain",)).get_content()
    assert "Naive baseline: training median" in body
    assert "Bootstrap unit: rows sharing a timestamp" in body and "Effective holdout size:" in body


def test_a_fleet_models_notification_names_it_and_links_to_it():
    import dataclasses
    import os

    from pipeline.config import load_config
    from pipeline.notify import render

    base = load_config(env={"MODELGATE_DASHBOARD_URL": "http://dash:8501"}, path=os.devnull)
    facts = {"version": 3, "previous": 2, "review_id": 7}
    plain = render(base, "review_requested", facts)
    assert plain.subject.startswith("[ModelGate] ") and "?model=" not in plain.text
    assert "Open the dashboard: http://dash:8501/reviews?review=7" in plain.text
    beds = render(dataclasses.replace(base, model="beds"), "review_requested", facts)
    assert beds.subject.startswith("[ModelGate beds] Review requested: version 3")
    assert "Model: beds" in beds.text
    assert "Open the dashboard: http://dash:8501/reviews?model=beds&review=7" in beds.text
    assert "href='http://dash:8501/reviews?model=beds&amp;review=7'" in beds.html
