"""Every ModelGate setting: name, type, default, check, and the sentence the README shows.

``pipeline.config`` reads and validates them; these modules are only the table (and its
Markdown): ``settings_run`` for a retraining run, ``settings_watch`` for monitoring and delivery.
"""

from __future__ import annotations

from pipeline.setting import DEFAULT_ESTIMATOR, DEFAULT_METRIC, METRICS, TASKS, Setting
from pipeline.settings_run import RUN_SETTINGS
from pipeline.settings_watch import WATCH_SETTINGS

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_METRIC",
    "METRICS",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "TASKS",
    "Setting",
    "settings_table",
]

SETTINGS: tuple[Setting, ...] = (*RUN_SETTINGS, *WATCH_SETTINGS)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def settings_table() -> str:
    """The README's table of settings (Markdown)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        env = f"`{s.env}`" + "".join(f", `{a}`" for a in s.aliases)
        default = "—" if s.default is None else f"`{s.default}`" if s.default != {} else "`{}`"
        rows.append(f"| `{s.name}` | {env} | {default} | {s.doc} |")
    return "\n".join(rows)
