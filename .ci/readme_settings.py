"""Rewrite the README's settings table from pipeline.config.SETTINGS (run after adding a setting)."""

from pathlib import Path

from pipeline.config import settings_table

readme = Path(__file__).resolve().parents[1] / "README.md"
lines = readme.read_text().split("\n")
start = next(i for i, line in enumerate(lines) if line.startswith("| setting | environment |"))
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
lines[start:end] = settings_table().split("\n")
readme.write_text("\n".join(lines))
print(f"{readme}: settings table rewritten")
