"""Text helpers shared by the pages: what the bootstrap drew, and what a comparison left out."""

from __future__ import annotations

from dashboard.common import sampling_text


def test_sampling_text_names_the_unit_the_effective_size_and_the_unlabelled_rows():
    comp = {
        "bootstrap_groups": "rows sharing a time_hour",
        "n_groups": 266,
        "n_holdout": 12950,
        "effective_n": 992.4,
        "unlabelled_holdout": 412,
    }
    text = sampling_text(comp)
    assert "whole groups, rows sharing a time\\_hour (266 groups)" in text
    assert "effective size 992 of 12,950 rows" in text
    assert text.endswith("412 holdout rows without a target were left out.")
    assert "left out" not in sampling_text({**comp, "unlabelled_holdout": 0})
