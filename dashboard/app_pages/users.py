"""Users (admins): add accounts, set roles, reset passwords, disable and enable accounts."""

from __future__ import annotations

import streamlit as st

from dashboard import actions, common
from pipeline.auth import MIN_PASSWORD, ROLES

cfg = common.config()
st.title("Users")
common.show_flash()

with common.registry() as reg:
    users = reg.users()
    common.auto_refresh(reg)

common.table(
    [
        {
            **u,
            "disabled": bool(u["disabled"]),
            "locked_until": common.when(u["locked_until"]) if u["locked_until"] else "",
            "created_at": common.when(u["created_at"]),
        }
        for u in users
    ],
    {
        "username": "user",
        "role": "role",
        "disabled": "disabled",
        "failed_attempts": "failed sign-ins",
        "locked_until": "locked until (UTC)",
        "created_at": "created",
    },
    column_config={"disabled": st.column_config.CheckboxColumn("disabled")},
)

left, right = st.columns(2)
with left, st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    name = st.text_input("New username")
    role = st.selectbox("Role", ROLES)
    password = st.text_input(
        "Initial password", type="password", help=f"At least {MIN_PASSWORD} characters."
    )
    if st.form_submit_button("Add user"):
        common.flash(actions.add_user(cfg, common.username(), name, role, password))
        st.rerun()

with right:
    st.subheader("Change a user")
    names = [u["username"] for u in users]
    if names:
        who = st.selectbox("User", names, key="change_who")
        record = next(u for u in users if u["username"] == who)
        new_role = st.selectbox(  # keyed by user: a switch of user shows that user's role
            "Set role", ROLES, index=ROLES.index(record["role"]), key=f"change_role_{who}"
        )
        if st.button("Save role", disabled=new_role == record["role"]):
            common.flash(actions.change_user(cfg, common.username(), who, role=new_role))
            st.rerun()
        new_password = st.text_input("New password", type="password", key=f"change_password_{who}")
        if st.button("Reset password", disabled=not new_password):
            common.flash(actions.change_user(cfg, common.username(), who, password=new_password))
            st.rerun()
        flip = not record["disabled"]
        if st.button("Disable account" if flip else "Enable account"):
            common.flash(actions.change_user(cfg, common.username(), who, disabled=flip))
            st.rerun()
