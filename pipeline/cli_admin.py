"""What an admin reads and decides from the shell: status, versions, reviews, the audit log,
approvals, rejections, rollbacks, vetoes, users and notifications."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.errors import ConfigError, ModelGateError
from pipeline.events import check_event

if TYPE_CHECKING:
    pass

from pipeline.cli_common import (
    _print_json,
    _registry,
    _table,
)


def cmd_status(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        st = {"model": cfg.model, **reg.status()}
        chain = reg.verify_audit()
    if args.json:
        _print_json(st)
        return 0
    print_status(st)
    print(chain_line(st["audit_events"], chain))
    return 0


def chain_line(events: int, chain: Any) -> str:
    verdict = "verified" if chain.ok else "BROKEN: " + str(chain.problem)
    return f"Audit events:    {events} (chain {verdict})"


def print_status(st: dict[str, Any]) -> None:
    """One model's status lines (without the registry-wide audit line)."""
    c = st["champion"]
    if c:
        value = f"{c['metric']} {c['value']:.4g}" if c["value"] is not None else c["metric"]
        print(
            f"Champion:        v{c['version']} ({value}), since {c['promoted_at']} by {c['promoted_by']} "
            f"({c['kind']})"
        )
    else:
        print("Champion:        none yet")
    print(f"Versions:        {st['versions']}")
    print(f"Runs:            {st['runs']}")
    print(f"Pending reviews: {st['pending_reviews']}")
    for r in st["running"]:
        print(
            f"Running:         {r['run_id']} ({r['dag_id']}, as of {r['as_of'][:16]}), started "
            f"{r['started_at'][:16]}; if no process runs it, the next run of its DAG marks it abandoned"
        )
    if st["abandoned"]:
        print(f"Abandoned runs:  {st['abandoned']} (left running by a process that stopped)")


def cmd_versions(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        champ = reg.current_champion()
        rows: list[dict[str, Any]] = []
        for v in reg.versions():
            rows.append(
                {
                    "version": v.version,
                    "champion": "*" if champ and champ.version == v.version else "",
                    "created_at": v.created_at,
                    "train_end": v.train_end[:10],
                    "train_rows": v.train_rows,
                    "metrics": v.metrics,
                    "sha256": v.sha256,
                    "run_id": v.run_id,
                }
            )
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        r["metrics"] = " ".join(f"{k}={val:.4g}" for k, val in r["metrics"].items())
        r["sha256"] = r["sha256"][:12]
    print(_table(rows, ["version", "champion", "train_end", "train_rows", "metrics", "sha256"]))
    return 0


def cmd_reviews(cfg: Config, args: argparse.Namespace) -> int:
    every = getattr(args, "every_model", False)  # a fleet, no model named: every model's queue
    with _registry(cfg) as reg:
        reviews = reg.reviews(None if args.all else "pending", every_model=every)
        rows: list[dict[str, Any]] = []
        for r in reviews:
            comp = reg.scoped(r.model).comparison(r.run_id) or {}
            rows.append(
                {
                    **({"model": r.model} if every else {}),
                    "id": r.id,
                    "version": r.challenger_version,
                    "vs_champion": r.expected_champion,
                    "status": r.status,
                    "metric": comp.get("metric"),
                    "improvement": comp.get("relative_improvement"),
                    "p_value": comp.get("p_value"),
                    "requested_at": r.requested_at,
                    "expires_at": r.expires_at,
                    "decided_by": r.decided_by,
                    "reason": r.reason,
                }
            )
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        if row["improvement"] is not None:
            row["improvement"] = f"{row['improvement'] * 100:+.2f}%"
    print(
        _table(
            rows,
            [
                *(["model"] if every else []),
                "id",
                "version",
                "vs_champion",
                "status",
                "metric",
                "improvement",
                "p_value",
                "expires_at",
                "decided_by",
            ],
        )
    )
    return 0


def cmd_audit(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        if args.sign:
            if not args.by:
                raise ConfigError("audit --sign needs --by NAME (the signing is audited).")
            n = reg.sign_audit(args.by)
            print(f"Signed {n} events with MODELGATE_AUDIT_KEY.")
            return 0
        if args.verify:
            chain = reg.verify_audit()
            if args.json:
                _print_json(
                    {
                        "ok": chain.ok,
                        "events": chain.events,
                        "head": chain.head,
                        "first_bad_seq": chain.first_bad_seq,
                        "problem": chain.problem,
                        "problems": list(chain.problems),
                        "witnesses": list(chain.witnesses),
                    }
                )
            elif chain.ok:
                print(
                    f"Audit log verified: {chain.events} events, head {chain.head[:16]}…; "
                    + "; ".join(chain.witnesses)
                    + "; champion, history, versions and artifacts match the log."
                )
            else:
                where = f" at event {chain.first_bad_seq}" if chain.first_bad_seq else ""
                print(f"Audit log BROKEN{where}: {'; '.join(chain.problems)}.", file=sys.stderr)
            return 0 if chain.ok else 1
        model = getattr(args, "named_model", None)  # a model named: its events only
        if args.event is not None:
            problem = check_event(args.event, reg.audit_facets()["event"])
            if problem:
                raise ModelGateError(problem)
        rows = reg.audit_log(limit=args.limit, event=args.event, model=model)
        several = len(reg.models()) > 1
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        r["details"] = json.dumps(r["details"], sort_keys=True)[:80]
        r["model"] = r.get("model") or "-"
    for r in rows:
        r["recorded_at"] = r["at"]
    columns = [
        "seq",
        "effective_at",
        "recorded_at",
        "actor",
        "event",
        "entity",
        "entity_id",
        "details",
    ]
    print(_table(rows, [*columns[:4], "model", *columns[4:]] if several else columns))
    return 0


def cmd_approve(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        review = admin.decide_approval(
            cfg, reg, by=args.by, review_id=args.review_id, reason=args.reason or ""
        )
        votes = len(reg.approvals(review.id))
    if review.status == "pending":
        print(
            f"Recorded {args.by}'s approval of review {review.id} ({votes} of "
            f"{cfg.approvals_required}); another admin must approve it too."
        )
        return 0
    print(
        f"Approved review {review.id}: version {review.challenger_version} is now the champion "
        f"(was v{review.expected_champion})."
    )
    return 0


def cmd_reject(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        review = admin.decide_rejection(
            cfg, reg, by=args.by, review_id=args.review_id, reason=args.reason
        )
    print(f"Rejected review {review.id}: version {review.challenger_version} stays out.")
    return 0


def cmd_rollback(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        champ, previous = admin.do_rollback(
            cfg,
            reg,
            by=args.by,
            reason=args.reason,
            to_version=args.to,
            expected_champion=args.expect,
        )
    print(f"Rolled back: champion v{previous} -> v{champ.version}.")
    return 0


def cmd_users(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import auth

    with _registry(cfg) as reg:
        if args.action == "add":
            if not args.name or not args.password_stdin:
                raise ConfigError(
                    "users add needs NAME, --role and --password-stdin (the password on standard input)."
                )
            role = auth.check_role(args.role)
            password = sys.stdin.readline().rstrip("\r\n")
            user = reg.add_user(
                username=auth.check_username(args.name),
                password_hash=auth.hash_password(password),
                role=role,
                by=os.environ.get("USER", "cli"),
            )
            print(f"Added user {user['username']} ({user['role']}).")
            return 0
        rows = reg.users()
    if args.json:
        _print_json(rows)
        return 0
    print(
        _table(
            rows, ["username", "role", "disabled", "failed_attempts", "locked_until", "created_at"]
        )
    )
    return 0


def cmd_promotions(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        rows = reg.pending_promotions(None if args.all else "pending")
    if args.json:
        _print_json(rows)
        return 0
    print(
        _table(
            rows,
            [
                "id",
                "version",
                "expected_champion",
                "announced_at",
                "due_at",
                "status",
                "decided_by",
            ],
        )
    )
    return 0


def cmd_veto(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import admin

    with _registry(cfg) as reg:
        row = admin.decide_veto(
            cfg, reg, by=args.by, promotion_id=args.promotion_id, reason=args.reason
        )
    print(f"Vetoed promotion {row['id']}: version {row['version']} will not become champion.")
    return 0


def cmd_notify(cfg: Config, args: argparse.Namespace) -> int:
    """Send a test email now (not through the outbox) and say what happened in one line."""
    from pipeline.notify import recipients, render, send_email

    r = render(cfg, "test", {"as_of": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    send_email(cfg, subject=r.subject, text=r.text, html_body=r.html, to=recipients(cfg))
    print(
        f"Sent a test email through {cfg.smtp_host}:{cfg.smtp_port} to {', '.join(recipients(cfg))}."
    )
    return 0


def cmd_outbox(cfg: Config, args: argparse.Namespace) -> int:
    with _registry(cfg) as reg:
        rows = reg.outbox(limit=args.limit)
    if args.json:
        _print_json([{k: v for k, v in r.items() if k not in ("text", "html")} for r in rows])
        return 0
    print(
        _table(
            rows,
            ["id", "created_at", "event", "channel", "status", "attempts", "subject", "last_error"],
        )
    )
    return 0
