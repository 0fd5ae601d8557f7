"""ModelGate's dashboard. Run with ``modelgate dashboard`` (or ``streamlit run dashboard/app.py``).

The navigation is rebuilt on every run from the signed-in user's role as the registry has it now:
viewers see the monitoring pages, admins also Reviews, Rollback and Users. Pages that write go
through ``dashboard.actions``, which checks the role again on the server side.

A link to any page (an email's ``/reviews?model=beds&review=3``, a bookmark, a reload) works
while signed out: every page's URL then shows the sign-in form, and signing in reruns the same
URL, query included, as the page it names. A viewer opening an admin page is told so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import common
from pipeline import auth

HERE = Path(__file__).parent
PAGES = HERE / "app_pages"

# A local icon: a Material one is fetched from fonts.gstatic.com, and the dashboard must work
# without internet access (tests/dashboard/test_browser.py fails on any request off 127.0.0.1).
st.set_page_config(page_title="ModelGate", page_icon=str(HERE / "icon.png"), layout="wide")


def login() -> None:
    st.title("ModelGate")
    st.caption("Gated retraining: drift, comparisons, reviews and rollbacks.")
    with st.form("login"):
        name = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    st.caption(
        f"After {auth.MAX_FAILURES} failed sign-ins in a row an account is locked for "
        f"{auth.LOCKOUT.seconds // 60} minutes; an admin can lift it by resetting the password."
    )
    if submitted:
        if not name or not password:
            st.error("Enter a username and a password.")
            return
        with common.registry() as reg:
            result = auth.sign_in(reg, name, password)
        if result.ok:
            st.session_state[common.USER] = name
            st.rerun()
        st.error(common.md(result.message))


def logout() -> None:
    name = common.username()
    if name:
        with common.registry() as reg:
            reg.record_logout(name)
    st.session_state.clear()


with common.registry() as reg:
    user = common.signed_in(reg)

# Every page once: (url path, script, title, icon). The signed-out stand-ins, the viewer's
# notices and the navigation are all built from these, so a new page is never a dead link.
MONITOR = (
    ("fleet", "fleet.py", "Fleet", ":material/view_list:"),
    ("overview", "overview.py", "Overview", ":material/home:"),
    ("drift", "drift.py", "Drift", ":material/monitoring:"),
    ("models", "models.py", "Models", ":material/model_training:"),
    ("rollouts", "rollouts.py", "Rollouts", ":material/alt_route:"),
    ("audit", "audit.py", "Audit log", ":material/receipt_long:"),
)
ADMIN = (
    ("reviews", "reviews.py", "Reviews", ":material/fact_check:"),
    ("rollback", "rollback.py", "Rollback", ":material/undo:"),
    ("users", "users.py", "Users", ":material/group:"),
)


def admins_only() -> None:
    st.title("For admins")
    st.warning(
        f"This page is for admins; you are signed in as {common.md(common.username())}, a viewer."
    )


def pages(specs: tuple[tuple[str, str, str, str], ...], default: str) -> list[Any]:
    return [
        st.Page(PAGES / script, title=title, icon=icon, url_path=path, default=path == default)
        for path, script, title, icon in specs
    ]


if user is None:
    # Every page's URL signs in first, and then is that page: deep links survive the sign-in.
    stand_ins = [st.Page(login, title="Sign in", url_path=path) for path, *_ in (*MONITOR, *ADMIN)]
    page = st.navigation(
        [st.Page(login, title="Sign in", url_path="login", default=True), *stand_ins],
        position="hidden",
    )
else:
    # Several models land on the Fleet page; one model on its Overview, as before the fleet.
    fleet = len(common.model_names()) > 1
    shown = MONITOR if fleet else MONITOR[1:]
    monitor = pages(shown, default="fleet" if fleet else "overview")
    sections = {"Monitor": monitor}
    if user["role"] == "admin":
        sections["Admin"] = pages(ADMIN, default="")
    else:  # a link to an admin page tells a viewer why it is not theirs
        monitor += [
            st.Page(admins_only, title="For admins", url_path=path, visibility="hidden")
            for path, *_ in ADMIN
        ]
    page = st.navigation(sections)
    common.model_picker()
    st.session_state["mg_role"] = user["role"]  # for showing links only; writes re-check it
    with st.sidebar:
        st.markdown(f"Signed in as **{common.md(user['username'])}** ({common.md(user['role'])})")
        st.button("Log out", on_click=logout)

page.run()
