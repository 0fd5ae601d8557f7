"""The audit event vocabulary (pipeline.events) covers every event the registry writes, and
``audit --event`` refuses a name that is neither known nor recorded."""

from __future__ import annotations

import os
import re

from pipeline import cli
from pipeline.events import AUDIT_EVENTS, check_event
from tests.conftest import REPO, make_env

SOURCES = sorted((REPO / "registry").glob("*.py"))


def test_every_event_the_registry_writes_is_in_the_vocabulary():
    literals, prefixes = set(), set()
    for path in SOURCES:
        text = path.read_text()
        literals |= set(re.findall(r'\bevent="([a-z_]+)"', text))
        for a, b in re.findall(r'\bevent="([a-z_]+)" if [^\n]* else "([a-z_]+)"', text):
            literals |= {a, b}  # event="login" if ok else "login_failed"
        prefixes |= set(re.findall(r'\bevent=f"([a-z_]+)\{', text))
        for mapping in re.findall(r"\bevent=\{([^}]*)\}\[", text):  # event={...}[kind]
            literals |= set(re.findall(r':\s*"([a-z_]+)"', mapping))
    assert len(literals) > 20 and {"run_", "rollout_"} <= prefixes
    assert literals - set(AUDIT_EVENTS) == set()
    for prefix in prefixes:  # f"run_{status}": the vocabulary names its forms
        assert [e for e in AUDIT_EVENTS if e.startswith(prefix)], prefix


def test_unknown_event_names_are_refused_in_one_line(home, monkeypatch, capsys):
    for k, v in make_env(home).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELGATE_CONFIG", os.devnull)
    monkeypatch.delenv("MODELGATE_MODEL", raising=False)
    assert cli.main(["init"]) == 0
    capsys.readouterr()
    assert cli.main(["audit", "--event", "nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modelgate: error: Unknown event 'nonsense'.")
    assert "review_approved" in err[0]
    assert cli.main(["audit", "--event", "review_approved"]) == 0  # known, none yet
    assert check_event("from_a_newer_release", ["from_a_newer_release"]) is None
