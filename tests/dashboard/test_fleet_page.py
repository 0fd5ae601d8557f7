"""The dashboard with a catalog of two models: the Fleet page lands, the sidebar picker and the
URL's ?model= scope every page, and a review is decided for its own model only."""

from __future__ import annotations

import dataclasses

import pytest

from registry import Registry
from tests.dashboard.seed import PASSWORD, add_fleet
from tests.dashboard.test_app import app, goto, shown, sign_in


@pytest.fixture
def fleet_cfg(dash_home, tmp_path, monkeypatch):
    """The seeded model 'default' (a champion, a pending review) and 'weekly' (champion v1 and
    a pending review of v2), in one registry."""
    path = tmp_path / "modelgate.toml"
    monkeypatch.setenv("MODELGATE_CONFIG", str(path))
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    return add_fleet(path)


def test_the_fleet_page_lands_with_one_row_per_model(fleet_cfg):
    at = sign_in("ada")
    assert [t.value for t in at.title] == ["Fleet"]
    table = at.dataframe[0].value
    assert list(table["model"]) == ["overview?model=default", "overview?model=weekly"]
    weekly = table.iloc[1]
    assert weekly["champion"] == "v1" and weekly["open reviews"] == 1  # promoted unjudged
    assert table.iloc[0]["drift"] in ("ok", "drift") and len(table.iloc[0]["drift trend"]) > 0
    at.text_input[0].input("week")  # the filter
    at.run()
    assert list(at.dataframe[0].value["model"]) == ["overview?model=weekly"]


def test_a_link_with_model_opens_that_model_and_approves_only_its_review(fleet_cfg):
    default_cfg = dataclasses.replace(fleet_cfg, model="default")
    with Registry.open(default_cfg) as reg:
        default_before = (reg.current_champion().version, [r.id for r in reg.reviews("pending")])
    at = app()
    at.query_params["model"] = "weekly"  # as a link in an email opens it
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input("ada")
    fields["Password"].input(PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click()
    at.run()
    assert at.selectbox(key="mg_model").value == "weekly"
    at = goto(at, "reviews")
    (review,) = Registry.open(fleet_cfg).reviews("pending")
    assert review.model == "weekly"
    at.button(key=f"approve_{review.id}").click()
    at.run()
    at.text_input(key="approve_reason").input("weekly looks right")
    at.button(key="mg_confirm").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert shown(at.success[0].value).startswith(f"Approved review {review.id}: version 2")
    with Registry.open(fleet_cfg) as reg:
        assert reg.current_champion().version == 2
    with Registry.open(default_cfg) as reg:  # the other model is untouched
        after = (reg.current_champion().version, [r.id for r in reg.reviews("pending")])
    assert after == default_before
    # Every model's queue, from any model's page.
    at.toggle(key="mg_all_reviews").set_value(True)
    at.run()
    queue = at.dataframe[0].value
    assert list(queue["model"]) == ["reviews?model=default"]


def test_the_audit_page_filters_by_model_and_shows_whose_event_it_is(fleet_cfg):
    at = goto(sign_in("ada"), "audit")
    (box,) = [b for b in at.selectbox if b.label == "Events of"]
    assert box.options == ["(every model)", "default", "weekly"]
    everyone = at.dataframe[0].value
    assert {"default", "weekly"} <= set(everyone["model"])
    box.select("weekly")
    at.run()
    table = at.dataframe[0].value
    assert len(table) and set(table["model"]) == {"weekly"}
    with Registry.open(fleet_cfg) as reg:
        assert len(table) == len(reg.audit_log(model="weekly", limit=500))
