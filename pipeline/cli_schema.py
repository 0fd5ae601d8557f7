"""``modelgate schema infer DATA``: write a schema file to standard output (see schema_file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "schema",
        help="infer a schema file from data ('schema infer DATA > schema.toml', then schema_path)",
    )
    actions = p.add_subparsers(dest="schema_command", required=True)
    infer = actions.add_parser(
        "infer",
        help="column kinds, categorical levels, the timestamp format and zone, and keys, as TOML",
    )
    infer.add_argument("data", help="CSV or Parquet file, or folder of them")
    infer.add_argument("--target", help="target column (default: the target setting)")
    infer.add_argument(
        "--timestamp", help="timestamp column (default: the timestamp_column setting)"
    )
    infer.add_argument(
        "--keys",
        help="comma-separated key columns, checked to identify rows with the timestamp "
        "(default: key_columns, else inferred)",
    )


def cmd_schema(cfg: Config, args: argparse.Namespace) -> int:
    from pipeline import schema_file
    from pipeline.data import read_source

    frame = read_source(Path(args.data))
    keys = (
        tuple(k.strip() for k in args.keys.split(",") if k.strip())
        if args.keys
        else cfg.key_columns
    )
    schema, notes = schema_file.infer(
        frame,
        source=args.data,
        timestamp=args.timestamp or cfg.timestamp_column,
        target=args.target or cfg.target,
        keys=keys,
        decimal=cfg.decimal,
        timezone=cfg.timezone,
    )
    print(schema_file.to_toml(schema, notes, source=args.data, rows=len(frame)), end="")
    return 0
