"""The settings of the promotion gate (thresholds, significance, guardrails, segments) and of
the evidence each decision keeps; spliced into ``settings_run`` where the gate's settings stood."""

from __future__ import annotations

from typing import Any

from pipeline.measures import check_measures
from pipeline.setting import Setting, unit


def _tolerances(x: Any) -> bool:
    """A table of metric = tolerance, each tolerance a number in [0, 1)."""
    return all(
        isinstance(k, str)
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
        and 0 <= v < 1
        for k, v in x.items()
    )


GATE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "auto_promote_threshold",
        "float",
        0.05,
        "Improvement (in the metric's `improvement_measure`) a significant win must reach to be "
        "promoted automatically: at its lower confidence bound, or as a point estimate (see "
        "`promotion_gate`).",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "min_relative_improvement",
        "float",
        0.02,
        "Improvement (in the metric's `improvement_measure`) at or above which a challenger is "
        "worth a manual review.",
        unit,
        "a float in (0, 1)",
        aliases=("PROMOTION_MIN_RELATIVE_IMPROVEMENT",),
    ),
    Setting(
        "improvement_measure",
        "table",
        {},
        "How the thresholds measure an improvement, per metric: `relative` (default for errors), "
        "`error_reduction`, the share of the remaining error 1 − score removed (default for "
        "ROC AUC, accuracy, F1, precision, recall, R²), or `absolute`. JSON in the environment.",
        check_measures,
        "a table of metric = relative | error_reduction | absolute (error_reduction only for "
        "scores whose best is 1)",
    ),
    Setting(
        "alpha",
        "float",
        0.05,
        "Significance level of the paired bootstrap test.",
        unit,
        "a float in (0, 1)",
    ),
    Setting(
        "require_approval", "bool", False, "Send every would-be automatic promotion to review."
    ),
    Setting(
        "metric_floor",
        "float",
        None,
        "Worst acceptable primary metric (a maximum for errors, a minimum for scores).",
        optional=True,
    ),
    Setting(
        "promotion_gate",
        "str",
        "lower_bound",
        "What must clear `auto_promote_threshold`: `lower_bound` (default), the one-sided "
        "(1 − `alpha`) lower confidence bound of the improvement, so only a win that is clearly "
        "that large promotes itself; or `point`, the point estimate with p < `alpha`. Either way a "
        "point estimate at or above `min_relative_improvement` is worth a review.",
        lambda x: x in ("lower_bound", "point"),
        "one of lower_bound, point",
    ),
    Setting(
        "guardrail_metrics",
        "table",
        {},
        "Secondary metrics the challenger must not worsen, each with a tolerance, e.g. "
        "`{rmse = 0.05}`: one worse by more than its tolerance (in its `improvement_measure`) "
        "and significantly worse (one-sided p < `alpha`) sends a winning challenger to review at "
        "most, naming the metric. JSON in the environment.",
        _tolerances,
        "a table of metric = tolerance, each a number in [0, 1)",
    ),
    Setting(
        "segment_columns",
        "list",
        None,
        "Columns whose values split the holdout into segments (e.g. `ward`): each decision's "
        "evidence holds the primary metric per segment for both models, with an interval.",
        optional=True,
    ),
    Setting(
        "max_segment_regression",
        "float",
        None,
        "With `segment_columns`: a segment of at least 30 holdout rows whose primary metric is "
        "worse by more than this share, significantly, sends a winning challenger to review at "
        "most, naming the segment. Unset: segments are shown, not gated.",
        unit,
        "a float in (0, 1)",
        optional=True,
    ),
    Setting(
        "leaderboard_versions",
        "int",
        5,
        "The leaderboard scores the champion and this many newest versions on the same recent "
        "window (the `holdout_days` before each retraining run, and `modelgate leaderboard`).",
        lambda x: 1 <= x <= 50,
        "an int from 1 to 50",
    ),
    Setting(
        "airflow_url",
        "str",
        "http://127.0.0.1:8080",
        "Base URL of the Airflow UI: evidence, pages and emails link each decision to its run.",
    ),
)


def check_gate(values: dict[str, Any], metrics: tuple[str, ...], bad: Any) -> None:
    """Checks across settings: guardrails name metrics of the task other than the primary one,
    and segment regressions need segments. ``bad(name, expected)`` raises the ConfigError."""
    for name in values["guardrail_metrics"]:
        if name not in metrics:
            bad("guardrail_metrics", f"a table whose keys are among {', '.join(metrics)}")
        if name == values["primary_metric"]:
            bad("guardrail_metrics", f"a table of secondary metrics, not the primary {name!r}")
    if values["max_segment_regression"] is not None and not values["segment_columns"]:
        bad("max_segment_regression", "unset unless segment_columns names the segments")
