"""The README stays true: its two commands, every setting, every CLI command."""

from __future__ import annotations

from pipeline.cli import COMMANDS
from pipeline.config import SETTINGS, settings_table
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    head = README[:1500]
    assert "make demo" in head and "make test" in head


def test_readme_settings_table_is_current():
    assert settings_table() in README
    for s in SETTINGS:
        assert f"`{s.env}`" in README


def test_readme_documents_every_command():
    for name in COMMANDS:
        assert f"modelgate {name}" in README


def test_ci_runs_make_test():
    assert "make test" in (REPO / ".ci" / "run").read_text()
