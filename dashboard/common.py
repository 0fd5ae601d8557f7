"""What every page shares: the config, a registry per script run, the signed-in user, messages
that survive a rerun, confirmation dialogs opened from session state, and auto-refresh."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.actions import Outcome
from pipeline.config import Config, load_config
from registry import Registry

USER = "mg_user"  # the signed-in username; everything else is re-read from the registry
DIALOG = "mg_dialog"  # (kind, payload) of the confirmation dialog to show, or absent
FLASH = "mg_flash"


MODEL = "mg_model"  # the model the pages show (the sidebar's picker; ?model= in the URL)


def model_names() -> list[str]:
    """The catalog's models (``["default"]`` without a catalog)."""
    from pipeline.catalog import model_names as names

    return names(check=False)


def current_model() -> str:
    """The model this session looks at: the picker's choice, else the link's ``?model=``, else
    the catalog's first model (the one of a ModelGate without a catalog)."""
    names = model_names()
    picked = (st.session_state.get(MODEL), st.query_params.get("model"))
    for chosen in (*picked, os.environ.get("MODELGATE_MODEL")):
        if chosen in names:
            return str(chosen)
    return names[0]


def focused_review() -> int | None:
    """The review a link asks for (``?review=N``), or None."""
    raw = st.query_params.get("review")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def config() -> Config:
    """The settings of the model the pages show."""
    return load_config(model=current_model())


@contextlib.contextmanager
def registry() -> Iterator[Registry]:
    """A connection for this script run only (sessions run in different threads), seen as the
    current model's; ``reg.scoped(name)`` reaches another model over the same connection."""
    reg = Registry.open(config())
    try:
        yield reg
    finally:
        reg.close()


def model_picker() -> None:
    """The sidebar's model picker (with several models), kept in the URL as ``?model=`` so a
    link, a reload or an email opens the same model."""
    names = model_names()
    if len(names) < 2:
        return
    current = current_model()
    st.session_state[MODEL] = current
    st.sidebar.selectbox("Model", names, key=MODEL)
    st.query_params["model"] = st.session_state[MODEL]


def signed_in(reg: Registry) -> dict[str, Any] | None:
    """The session's user as the registry has it now; a disabled or deleted account is signed out."""
    name = st.session_state.get(USER)
    if not name:
        return None
    try:
        user = reg.get_user(name)
    except LookupError:
        user = None
    if user is None or user["disabled"]:
        st.session_state.pop(USER, None)
        return None
    return user


def username() -> str | None:
    value = st.session_state.get(USER)
    return str(value) if value else None


# ------------------------------------------------------------------------ messages and dialogs
def flash(outcome: Outcome) -> None:
    st.session_state[FLASH] = outcome


def show_flash() -> None:
    outcome = st.session_state.pop(FLASH, None)
    if outcome is not None:
        getattr(st, outcome.level)(md(outcome.message))


def open_dialog(kind: str, **payload: Any) -> None:
    """``on_click`` of a button that needs a confirmation (see ``dialog_requested``)."""
    st.session_state[DIALOG] = (kind, payload)


def close_dialog() -> None:
    st.session_state.pop(DIALOG, None)


def dialog_requested(kind: str) -> dict[str, Any] | None:
    request = st.session_state.get(DIALOG)
    if request and request[0] == kind:
        return dict(request[1])
    return None


def finish(outcome: Outcome) -> None:
    """After a confirmed action: remember its message, close the dialog, rerun the whole page."""
    flash(outcome)
    close_dialog()
    st.rerun()


# ------------------------------------------------------------------------ refresh
def auto_refresh(reg: Registry) -> None:
    """Rerun the page when the registry changes (a run, review, drift check, decision), checked
    every ``dashboard_refresh_seconds`` by a fragment; sign-ins elsewhere do not count."""
    seen = reg.data_version()

    @st.fragment(run_every=config().dashboard_refresh_seconds)
    def _watch() -> None:
        with contextlib.closing(Registry.open(config())) as fresh:
            if fresh.data_version() != seen and not st.session_state.get(DIALOG):
                st.rerun()

    _watch()


# ------------------------------------------------------------------------ formatting
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark


def md(value: object) -> str:
    """A value that users or data control, made literal for any Streamlit call that renders
    Markdown (``st.markdown``, ``success``, ``caption``, metric labels, …): every ASCII
    punctuation mark is backslash-escaped (CommonMark's rule), so no link, image, emphasis, HTML,
    LaTeX or colour directive survives, and line breaks become spaces."""
    text = " ".join(str(value).splitlines())
    return _PUNCTUATION.sub(r"\\\1", text)


IMPROVEMENT_LABELS = {
    "relative": "relative improvement",
    "error_reduction": "remaining error removed",
    "absolute": "absolute improvement",
}


def improvement_label(comparison: dict[str, Any]) -> str:
    """What a comparison's improvement figure measures (``pipeline.measures``)."""
    return IMPROVEMENT_LABELS.get(comparison.get("improvement_measure") or "", "improvement")


def baseline_text(comparison: dict[str, Any], alpha: float) -> str | None:
    """What the challenger had to beat besides the champion, as Markdown-safe text, or None."""
    if not comparison.get("baseline") or comparison.get("baseline_value") is None:
        return None
    p = comparison.get("baseline_p_value")
    verdict = (
        "beats it"
        if (comparison.get("baseline_improvement") or 0) > 0 and p is not None and p < alpha
        else "has not shown it beats it"
    )
    return (
        f"Naive baseline ({md(comparison['baseline'])}): {md(comparison['metric'])} "
        f"{num(comparison['baseline_value'])}; the challenger {verdict} "
        f"({pct(comparison.get('baseline_improvement'))}, p = {num(p, 3)})."
    )


def sampling_text(comparison: dict[str, Any]) -> str:
    """What the bootstrap drew as one unit and what the holdout is worth, as Markdown-safe text."""
    unit = comparison.get("bootstrap_groups") or "rows"
    n = comparison.get("n_holdout") or 0
    drawn = "single rows" if unit == "rows" else f"whole groups, {md(unit)}"
    if unit != "rows" and comparison.get("n_groups"):
        drawn += f" ({comparison['n_groups']:,} groups)"
    eff = comparison.get("effective_n")
    worth = f"; effective size {eff:,.0f} of {n:,} rows" if eff is not None else ""
    unlabelled = comparison.get("unlabelled_holdout") or 0
    left = f" {unlabelled:,} holdout rows without a target were left out." if unlabelled else ""
    return f"Bootstrap resampled {drawn}{worth}.{left}"


def sampling_caption(comparison: dict[str, Any], alpha: float) -> str:
    """What the bootstrap drew and, when there is one, what the naive baseline showed."""
    baseline = baseline_text(comparison, alpha)
    return sampling_text(comparison) + (" " + baseline if baseline else "")


def plot_text(value: object) -> str:
    """A value shown in a Plotly figure (axis labels, hover text), which understands a few HTML
    tags: escaped so they show as typed."""
    return html.escape(str(value), quote=False)


def when(value: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC when it carries a zone)."""
    if not value:
        return "—"
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M")


def num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2%}"


def details_text(details: Any) -> str:
    """Audit details as 'key: value · key: value' (no JSON or Python reprs on screen)."""
    if not isinstance(details, dict):
        return "" if details is None else _plain(details)
    parts = []
    for k, v in details.items():
        if v is None or v == "" or v == [] or v == {}:
            continue
        parts.append(f"{k}: {_plain(v)}")
    return " · ".join(parts)


def _plain(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_plain(x)}" for k, x in v.items() if x is not None)
    if isinstance(v, list):
        return ", ".join(_plain(x) for x in v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(rows: list[dict[str, Any]], columns: dict[str, str], **kwargs: Any) -> None:
    """A read-only table with friendly column titles (``columns`` maps key -> title). Up to
    ``TABLE_ROWS`` rows it is as tall as its rows (Streamlit's default shows ten and scrolls the
    rest out of sight); a longer one scrolls in a box that shows ``TABLE_ROWS``."""
    frame = pd.DataFrame([{title: r.get(key) for key, title in columns.items()} for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=list(columns.values()))
    kwargs.setdefault("height", table_height(len(frame)))
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


TABLE_ROWS = 30


def table_height(rows: int) -> Any:
    return "content" if rows <= TABLE_ROWS else 36 * (TABLE_ROWS + 1)


def confirm_buttons(
    confirm_label: str, on_confirm: Callable[[], None], *, disabled: bool = False
) -> None:
    left, right = st.columns(2)
    if left.button(confirm_label, type="primary", disabled=disabled, key="mg_confirm"):
        on_confirm()
    if right.button("Cancel", key="mg_cancel"):
        close_dialog()
        st.rerun()
