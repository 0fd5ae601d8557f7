"""Manual reviews: requests, supersession, approvals (two-person rule), rejections, expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.errors import Conflict, NotFound, RegistryError
from pipeline.reports import Review
from registry import audit
from registry.base import PIPELINE
from registry.champion import ChampionMixin


class ReviewsMixin(ChampionMixin):
    # ---------------------------------------------------------------- reviews
    def request_review(
        self,
        *,
        run_id: str,
        comparison_id: int,
        version: int,
        expected_champion: int | None,
        requested_at: dt.datetime,
        ttl_days: int,
    ) -> tuple[Review, list[Review]]:
        """Queue a review, announced (review_requested) in the same transaction; a pending review
        against the same champion is superseded by it there too (status 'superseded', audited,
        announced). One open review per champion. Returns the review and the reviews it
        superseded (none on a retry)."""
        superseded: list[Review] = []
        with self._tx() as db:
            existing = self._one(
                "SELECT id FROM reviews WHERE model = ? AND run_id = ?", [self.model, run_id]
            )
            if existing is not None:
                return self.get_review(int(existing["id"])), []
            expires = requested_at + dt.timedelta(days=ttl_days)
            cur = db.execute(
                "INSERT INTO reviews (model, run_id, comparison_id, challenger_version, "
                "expected_champion, status, requested_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                [
                    self.model,
                    run_id,
                    comparison_id,
                    version,
                    expected_champion,
                    requested_at.isoformat(),
                    expires.isoformat(),
                ],
            )
            rid = int(cur.lastrowid or 0)
            self._audit(
                db,
                actor=PIPELINE,
                event="review_requested",
                entity="review",
                entity_id=rid,
                details={
                    "run_id": run_id,
                    "version": version,
                    "expected_champion": expected_champion,
                    "expires_at": expires.isoformat(),
                },
            )
            new = self.get_review(rid)
            self._notify(
                db,
                "review_requested",
                f"review_requested:{run_id}",
                {**self.review_facts(new), "expires_at": new.expires_at},
            )
            older = self._all(
                "SELECT * FROM reviews WHERE model = ? AND status = 'pending' AND id != ? "
                "AND expected_champion IS ? ORDER BY id",
                [self.model, rid, expected_champion],
            )
            for row in older:
                old = Review(**row)
                reason = (
                    f"superseded by review {rid} (version {version}), a newer challenger against "
                    f"the same champion v{expected_champion}"
                )
                db.execute(
                    "UPDATE reviews SET status = 'superseded', superseded_by = ?, decided_by = ?, "
                    "decided_at = ?, reason = ? WHERE id = ? AND status = 'pending'",
                    [rid, PIPELINE, requested_at.isoformat(), reason, old.id],
                )
                self._audit(
                    db,
                    actor=PIPELINE,
                    event="review_superseded",
                    entity="review",
                    entity_id=old.id,
                    details={
                        "version": old.challenger_version,
                        "superseded_by": rid,
                        "by_version": version,
                        "reason": reason,
                    },
                )
                self._notify(
                    db,
                    "review_superseded",
                    f"review_superseded:{old.id}",
                    {
                        **self.review_facts(old),
                        "superseded_by": new.id,
                        "by_version": new.challenger_version,
                    },
                )
                superseded.append(self.get_review(old.id))
        return new, superseded

    def get_review(self, review_id: int) -> Review:
        row = self._one("SELECT * FROM reviews WHERE id = ? AND model = ?", [review_id, self.model])
        if row is None:
            raise NotFound(self._missing("Review", review_id, "review"))
        return Review(**row)

    def review_facts(self, review: Review) -> dict[str, Any]:
        """The figures a notification about a review carries (from the comparison it was made on)."""
        return {
            "review_id": review.id,
            "version": review.challenger_version,
            "previous": review.expected_champion,
            "run_id": review.run_id,
            **self.comparison_facts(review.run_id),
        }

    def reviews(self, status: str | None = None, *, every_model: bool = False) -> list[Review]:
        """This model's reviews (``every_model``: the whole fleet's queue), oldest first."""
        where = ([] if every_model else ["model = :model"]) + (
            ["status = :status"] if status else []
        )
        sql = "SELECT * FROM reviews" + (" WHERE " + " AND ".join(where) if where else "")
        return [
            Review(**r)
            for r in self._all(sql + " ORDER BY id", {"model": self.model, "status": status})
        ]

    def _decide_review(self, review_id: int, *, status: str, by: str, reason: str) -> Review:
        review = self.get_review(review_id)
        if review.status == "superseded":
            raise Conflict(
                f"Review {review_id} was superseded by review {review.superseded_by}, a newer "
                f"challenger against the same champion v{review.expected_champion}: decide that "
                "one instead."
            )
        if review.status != "pending":
            who = f" by {review.decided_by} at {review.decided_at}" if review.decided_by else ""
            raise Conflict(f"Review {review_id} is already decided: {review.status}{who}.")
        self.db.execute(
            "UPDATE reviews SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
            "WHERE id = ? AND status = 'pending'",
            [status, by, audit.utcnow(), reason, review_id],
        )
        return review

    def approve(
        self,
        review_id: int,
        *,
        by: str,
        reason: str = "",
        required: int = 1,
        as_admin: bool = False,
    ) -> Review:
        """Record ``by``'s approval of a pending review; with ``required`` approvals from
        independent admins the challenger becomes champion, if the champion is still the one it
        was compared against. Exactly one of many concurrent deciding approvals succeeds; the
        others get Conflict ("already decided"). A review still waiting for votes comes back
        'pending'. ``as_admin``: ``by`` is a dashboard account that must be an enabled admin."""
        if not by.strip():
            raise RegistryError("An approval needs the approver's name (--by).")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            review = self.get_review(review_id)
            if review.status != "pending":
                self._decide_review(review_id, status="approved", by=by, reason=reason)  # raises
            clock = self.logical_now()
            if clock is not None and review.expires_at <= clock:
                raise Conflict(
                    f"Review {review_id} expired at {review.expires_at[:16]} (the newest run is "
                    f"at {clock[:16]}); the next run expires it."
                )
            current = self._champion_version()
            if current != review.expected_champion:
                raise Conflict(
                    f"Review {review_id} is stale: the champion is v{current}, not "
                    f"v{review.expected_champion} as when it was compared. Reject it; the next run "
                    "compares again."
                )
            if self._one(
                "SELECT 1 FROM review_approvals WHERE review_id = ? AND approver = ?",
                [review_id, by],
            ):
                raise Conflict(
                    f"{by} has already approved review {review_id}; it needs {required} approvals "
                    "from different admins."
                )
            voters = self._valid_votes(review_id)
            self._check_independent(by, voters)
            db.execute(
                "INSERT INTO review_approvals (review_id, approver, at, reason) VALUES (?, ?, ?, ?)",
                [review_id, by, audit.utcnow(), reason],
            )
            votes = len(voters) + 1
            deciding = votes >= required
            self._audit(
                db,
                actor=by,
                event="review_approved" if deciding else "review_approval_recorded",
                entity="review",
                entity_id=review_id,
                details={
                    "version": review.challenger_version,
                    "reason": reason,
                    "approvals": votes,
                    "required": required,
                },
            )
            if not deciding:
                return self.get_review(review_id)
            self._decide_review(review_id, status="approved", by=by, reason=reason)
            self._set_champion(
                db,
                version=review.challenger_version,
                expected=review.expected_champion,
                kind="approval",
                at=self.clock or self.effective_now(),
                by=by,
                reason=reason or f"review {review_id} approved",
                review_id=review_id,
                facts=self.review_facts(review),
            )
        return self.get_review(review_id)

    def _valid_votes(self, review_id: int) -> list[str]:
        """Approvers whose votes still count: not dashboard accounts (CLI names) or accounts that
        are enabled admins now (a vote of someone since disabled or demoted no longer counts)."""
        return [
            r["approver"]
            for r in self._all(
                "SELECT a.approver FROM review_approvals a LEFT JOIN users u ON u.username = a.approver "
                "WHERE a.review_id = ? AND (u.username IS NULL OR (u.disabled = 0 AND u.role = 'admin')) "
                "ORDER BY a.at",
                [review_id],
            )
        ]

    def _check_independent(self, by: str, voters: list[str]) -> None:
        """The two-person rule: no approver may have created the other's account or made them
        an admin."""
        if not voters:
            return
        marks = ", ".join("?" * (len(voters) + 1))
        rows = {
            r["username"]: r
            for r in self._all(
                f"SELECT username, created_by, role_set_by FROM users WHERE username IN ({marks})",
                [by, *voters],
            )
        }
        for other in voters:
            for a, b in ((by, other), (other, by)):
                row = rows.get(a)
                if row and b in (row["created_by"], row["role_set_by"]):
                    raise Conflict(
                        f"{a}'s account was created or made admin by {b}, who approves too: the "
                        "two-person rule needs approvals from independent admins."
                    )

    def approvals(self, review_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT approver, at, reason FROM review_approvals WHERE review_id = ? ORDER BY at",
            [review_id],
        )

    def reject_review(
        self, review_id: int, *, by: str, reason: str, as_admin: bool = False
    ) -> Review:
        if not by.strip() or not reason.strip():
            raise RegistryError("Rejecting a review needs --by and a --reason.")
        with self._tx() as db:
            if as_admin:
                self._check_admin(by)
            review = self._decide_review(review_id, status="rejected", by=by, reason=reason)
            self._audit(
                db,
                actor=by,
                event="review_rejected",
                entity="review",
                entity_id=review_id,
                details={"version": review.challenger_version, "reason": reason},
            )
            self._notify(
                db,
                "rejected",
                f"rejected:review:{review_id}",
                {**self.review_facts(review), "by": by, "reason": reason},
            )
        return self.get_review(review_id)

    def expire_reviews(self, as_of: dt.datetime) -> list[int]:
        """Pending reviews whose expiry is at or before ``as_of`` become expired (rejected), audited."""
        with self._tx() as db:
            rows = self._all(
                "SELECT id, challenger_version, expires_at FROM reviews WHERE model = ? "
                "AND status = 'pending' AND expires_at <= ?",
                [self.model, as_of.isoformat()],
            )
            for r in rows:
                db.execute(
                    "UPDATE reviews SET status = 'expired', decided_by = ?, decided_at = ?, reason = ? "
                    "WHERE id = ?",
                    [PIPELINE, as_of.isoformat(), "no decision before expiry", r["id"]],
                )
                self._audit(
                    db,
                    actor=PIPELINE,
                    event="review_expired",
                    entity="review",
                    entity_id=r["id"],
                    details={"version": r["challenger_version"], "expires_at": r["expires_at"]},
                )
                self._notify(
                    db,
                    "review_expired",
                    f"review_expired:{r['id']}",
                    {
                        **self.review_facts(self.get_review(int(r["id"]))),
                        "as_of": as_of.isoformat(),
                    },
                )
        return [int(r["id"]) for r in rows]
