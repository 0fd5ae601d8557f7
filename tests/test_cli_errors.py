"""Acceptance: a table of malformed inputs to `modelgate run`, each one clear line and exit code 2,
with the registry byte-for-byte unchanged (the console script, run as a user would run it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import loop
from pipeline.config import load_config
from pipeline.data import demo_frame
from registry import Registry

AS_OF = "2025-02-01"
MODELGATE = Path(sys.executable).parent / "modelgate"


@dataclass(frozen=True, slots=True)
class World:
    root: Path
    home: Path
    registry_db: Path
    env: dict[str, str]
    good: pd.DataFrame


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """A registry with a champion, filled through the library (no Airflow), and a good CSV."""
    root = tmp_path_factory.mktemp("cli-errors")
    home = root / "mg"
    env = {
        "MODELGATE_HOME": str(home),
        "MODELGATE_BOOTSTRAP_RESAMPLES": "1000",
        "MODELGATE_CONFIG": os.devnull,  # no modelgate.toml from anywhere
    }
    cfg = load_config(env=env)
    ctx = loop.RunContext(run_id="seed-run", as_of=dt.datetime(2025, 1, 1, 2))
    with Registry.open(cfg, create=True) as reg:
        assert loop.check_triggers(cfg, reg, ctx)["retrain"]
        version = loop.train_challenger(cfg, reg, ctx)["version"]
        result = loop.evaluate_challenger(cfg, reg, ctx, version)
        loop.promote(cfg, reg, ctx, version, result["champion"])
        champion = reg.current_champion()
    assert champion is not None and champion.version == version
    frame = demo_frame(cfg)
    good = frame[(frame["timestamp"] >= "2024-01-01") & (frame["timestamp"] < "2025-03-01")]
    good = good.reset_index(drop=True)
    good.to_csv(root / "good.csv", index=False)
    return World(root=root, home=home, registry_db=cfg.registry_db, env=env, good=good)


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def snapshot(w: World) -> dict[str, object]:
    """The registry file and its write-ahead log by content, and every file under the home."""
    return {
        "db": _sha256(w.registry_db),
        "wal": _sha256(w.registry_db.with_name(w.registry_db.name + "-wal")),
        "files": sorted(str(p.relative_to(w.home)) for p in w.home.rglob("*") if p.is_file()),
    }


def modelgate(
    w: World, args: list[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The console script, as a user runs it: no MODELGATE_* settings but the world's and ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    return subprocess.run(
        [str(MODELGATE), *args],
        env={**base, **w.env, **(env or {})},
        cwd=w.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_clear_line(proc: subprocess.CompletedProcess, fragment: str) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert proc.returncode == 2, output
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr.endswith("\n"), proc.stderr
    line = lines[0]
    assert line.startswith("modelgate: error: ") and line.removeprefix("modelgate: error: ").strip()
    assert fragment in line, line
    assert proc.stdout == ""


# ------------------------------------------------------------------------------- file builders
Builder = Callable[[World, str], Path]


def spoil(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Builder:
    """The good CSV, changed."""

    def build(w: World, name: str) -> Path:
        path = w.root / f"{name}.csv"
        change(w.good.copy()).to_csv(path, index=False)
        return path

    return build


def raw(filename: str, content: Callable[[World], bytes]) -> Builder:
    def build(w: World, _: str) -> Path:
        path = w.root / filename
        path.write_bytes(content(w))
        return path

    return build


def folder(dirname: str, parts: Callable[[pd.DataFrame], list[pd.DataFrame]]) -> Builder:
    def build(w: World, _: str) -> Path:
        path = w.root / dirname
        path.mkdir(exist_ok=True)
        for i, part in enumerate(parts(w.good)):
            part.to_csv(path / f"part-{i}.csv", index=False)
        return path

    return build


def set_cell(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(f: pd.DataFrame) -> pd.DataFrame:
        f[column] = f[column].astype(object)
        f.loc[row, column] = value
        return f

    return change


def header(w: World) -> bytes:
    return (",".join(w.good.columns) + "\n").encode()


def ragged(w: World) -> bytes:
    lines = w.good.to_csv(index=False).splitlines()
    lines[5] += ",1,2,3"
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    build: Builder | None
    fragment: str  # "{name}" stands for the data file's name
    env: dict[str, str] = field(default_factory=dict)
    as_of: str = AS_OF
    bug: str | None = None  # a known source bug: the case is a strict xfail until it is fixed

    def param(self) -> object:
        marks = pytest.mark.xfail(strict=True, reason=self.bug) if self.bug else ()
        return pytest.param(self, id=self.id, marks=marks)


CASES = [
    Case("missing-path", lambda w, _: w.root / "nope.csv", "{name} does not exist"),
    Case("txt-extension", raw("data.txt", header), "{name}: unsupported file type '.txt'"),
    Case("empty-file", raw("empty.csv", lambda w: b""), "{name} is empty"),
    Case("header-only", raw("header-only.csv", header), "{name} has a header but no rows"),
    Case("ragged-rows", raw("ragged.csv", ragged), "{name} cannot be read as CSV"),
    Case(
        "no-timestamp",
        spoil(lambda f: f.drop(columns="timestamp")),
        "{name}: timestamp column 'timestamp' is missing",
    ),
    Case(
        "no-target",
        spoil(lambda f: f.drop(columns="occupancy")),
        "{name}: target column 'occupancy' is missing",
    ),
    Case(
        "missing-feature",
        spoil(lambda f: f.drop(columns="los_days")),
        "{name}: feature column 'los_days' is missing",
    ),
    Case(
        "extra-column",
        spoil(lambda f: f.assign(bed_colour="blue")),
        "{name}: unexpected column 'bed_colour' is not in the champion's schema",
    ),
    Case(
        "text-in-numeric",
        spoil(set_cell("los_days", 7, "abc")),
        "{name}: column 'los_days' must be numeric but holds 'abc' (row 9",
    ),
    Case(
        "numeric-became-text",
        spoil(lambda f: f.assign(capacity="large")),
        "{name}: column 'capacity' must be numeric but holds 'large'",
    ),
    Case(
        "nan-target",
        spoil(set_cell("occupancy", 3, np.nan)),
        "{name}: target 'occupancy' has 1 missing or infinite values (first nan at row 5)",
    ),
    Case(
        "inf-target",
        spoil(set_cell("occupancy", 4, np.inf)),
        "{name}: target 'occupancy' has 1 missing or infinite values (first inf at row 6)",
    ),
    Case(
        "unparseable-date",
        spoil(set_cell("timestamp", 11, "2024-13-45")),
        "{name}: column 'timestamp' has an unparseable date '2024-13-45' (row 13",
    ),
    Case(
        "duplicate-rows",
        spoil(lambda f: pd.concat([f, f.iloc[[100, 200]]], ignore_index=True)),
        "{name}: 2 duplicate rows (same timestamp and values)",
    ),
    Case(
        "duplicate-timestamp-and-ward",
        spoil(lambda f: pd.concat([f, f.iloc[[100]].assign(occupancy=1.0)], ignore_index=True)),
        "{name}: 1 duplicate rows (same timestamp and ward)",
        env={"MODELGATE_KEY_COLUMNS": "ward"},
    ),
    Case(
        "empty-column",
        spoil(lambda f: f.assign(staff_on_duty=np.nan)),
        "{name}: column 'staff_on_duty' is entirely empty",
    ),
    Case(
        "too-few-training-rows",
        spoil(lambda f: f[f["timestamp"] >= "2024-12-20"]),
        "{name}: the training window 2024-01-03 to 2025-01-02 has 156 rows; at least 200",
    ),
    Case(
        "as-of-before-the-data",
        lambda w, _: w.root / "good.csv",
        "good.csv: the holdout window 2019-12-02 to 2020-01-01 is empty",
        as_of="2020-01-01",
    ),
    Case("empty-folder", folder("empty-dir", lambda g: []), "{name} holds no .csv or .parquet"),
    Case(
        "folder-with-different-columns",
        folder("mixed-dir", lambda g: [g.iloc[:2000], g.iloc[2000:].drop(columns="month")]),
        "files in one data folder must share their columns",
    ),
    Case(
        "alpha-out-of-range",
        None,
        "The 'alpha' setting (env MODELGATE_ALPHA) must be a float in (0, 1). Got 2.0 instead.",
        env={"MODELGATE_ALPHA": "2"},
    ),
    Case(
        "estimator-not-importable",
        None,
        "The 'estimator' setting names 'sklearn.nope.Model', which cannot be imported",
        env={"MODELGATE_ESTIMATOR": "sklearn.nope.Model"},
    ),
    Case("as-of-not-a-date", None, "--as-of must be an ISO date", as_of="not-a-date"),
    # Found by review: each used to exit 1 with a traceback, or print more than one line.
    Case(
        "as-of-year-one",
        lambda w, _: w.root / "good.csv",
        "0001-01-01",
        as_of="0001-01-01",
    ),
    Case(
        "as-of-year-one-with-offset",
        None,
        "--as-of",
        as_of="0001-01-01T00:00+01:00",
    ),
    Case(
        "train-days-overflow",
        lambda w, _: w.root / "good.csv",
        "train_days",
        env={"MODELGATE_TRAIN_DAYS": "99999999"},
    ),
    Case(
        "newline-in-a-column-name",
        spoil(lambda f: f.drop(columns="timestamp").rename(columns={"los_days": "los\ndays"})),
        "{name}: timestamp column 'timestamp' is missing",
    ),
    Case(
        "config-file-is-a-folder",
        None,
        "Config file",
        env={"MODELGATE_CONFIG": "."},  # the subprocess runs in the world's root folder
    ),
    Case(
        "registry-is-not-sqlite",
        None,
        "good.csv",
        env={"MODELGATE_REGISTRY_DB": "good.csv"},  # relative to the subprocess's folder
    ),
]


def run_args(case: Case, w: World) -> tuple[list[str], str]:
    args = ["run", "--as-of", case.as_of]
    if case.build is None:
        return args, case.fragment
    data = case.build(w, case.id)
    return [*args, "--data", str(data)], case.fragment.format(name=data.name)


@pytest.mark.parametrize("env", [{}, {"MODELGATE_KEY_COLUMNS": "ward"}], ids=["default", "keys"])
def test_the_good_file_passes_validation(world, env):
    """The baseline is valid, so each case below fails for its own defect (checked in-process:
    a passing `modelgate run` would start Airflow)."""
    cfg = load_config(env={**world.env, **env})
    ctx = loop.RunContext(
        run_id="check", as_of=dt.datetime.fromisoformat(AS_OF), data_path=world.root / "good.csv"
    )
    with Registry.open(cfg) as reg:
        assert loop.preflight(cfg, reg, ctx)["train_rows"] > cfg.min_train_rows


def test_the_table_is_large_and_distinct():
    assert len([c for c in CASES if c.bug is None]) >= 12
    assert len({c.id for c in CASES}) == len(CASES)


@dataclass(frozen=True, slots=True)
class Outcome:
    proc: subprocess.CompletedProcess
    fragment: str
    before: dict[str, object]
    after: dict[str, object]


@pytest.fixture(scope="module")
def outcomes(world) -> dict[str, Outcome]:
    """Every case of the table through the console script, on its own copy of the seeded home so
    that the cases can run side by side (each subprocess spends ~2 s importing)."""

    def run(case: Case) -> Outcome:
        home = world.root / f"home-{case.id}"
        shutil.copytree(world.home, home)
        w = dataclasses.replace(
            world,
            home=home,
            registry_db=home / world.registry_db.name,
            env={**world.env, "MODELGATE_HOME": str(home)},
        )
        args, fragment = run_args(case, w)
        before = snapshot(w)
        proc = modelgate(w, args, case.env)
        return Outcome(proc=proc, fragment=fragment, before=before, after=snapshot(w))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        return dict(zip([c.id for c in CASES], pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_malformed_input_is_one_clear_line_and_changes_nothing(world, outcomes, case):
    out = outcomes[case.id]
    assert_one_clear_line(out.proc, out.fragment)
    assert out.after == out.before
    seeded = snapshot(world)
    assert (out.before["db"], out.before["files"]) == (seeded["db"], seeded["files"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["approve", "999", "--by", "x"], "Review 999 does not exist."),
        (
            ["rollback", "--by", "x", "--reason", "r"],
            "has no previous champion; name one with --to",
        ),
    ],
    ids=["approve-unknown-review", "rollback-without-previous"],
)
def test_bad_admin_commands_change_nothing(world, args, fragment):
    before = snapshot(world)
    proc = modelgate(world, args)
    assert_one_clear_line(proc, fragment)
    assert snapshot(world) == before
