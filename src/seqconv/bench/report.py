"""Table rows of the suite and their Markdown and JSON forms."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Row", "markdown_table", "write_results"]


@dataclass
class Row:
    """One line of the results table.

    Attributes:
        comparison: the comparison it belongs to (``"end-to-end"``, ``"roofline"``, ...).
        case: what was measured.
        seqconv: seqconv's figure, formatted.
        reference: the figure it is compared with, formatted.
        ratio: how the two compare, formatted with its meaning (``"2.4x faster"``, ``"31% of sgemm"``).
        goal: the goal of the issue, or ``""`` for an informative row.
        met: whether the goal is met; ``None`` when there is no goal or the row was skipped.
        note: why a goal is missed, what a figure includes, or why a row was skipped.
        data: the raw numbers, for the JSON file.
    """

    comparison: str
    case: str
    seqconv: str
    reference: str = ""
    ratio: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[Row]) -> str:
    """The rows as a GitHub Markdown table; notes go to a numbered list below it."""
    lines = [
        "| Comparison | Case | seqconv | Reference | Ratio | Goal | Met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes: list[str] = []
    for row in rows:
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        if row.note:
            notes.append(row.note)
            met += f" [{len(notes)}]"
        cells = [row.comparison, row.case, row.seqconv, row.reference, row.ratio, row.goal, met]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if notes:
        lines.append("")
        lines += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def write_results(out: Path, rows: list[Row], machine: dict[str, Any], command: str, seconds: float) -> str:
    """Write ``results.json`` and ``results.md`` into ``out``; return the Markdown."""
    header = (
        f"seqconv benchmark, {machine['date']}, {machine['cpu']} ({machine['cores']} cores), "
        f"torch {machine['torch']}, {machine['gpu'] or 'no GPU'}; `{command}`, {seconds / 60:.1f} min; "
        f"load average {machine['load_before']} before, {machine['load_after']} after\n\n"
    )
    text = header + markdown_table(rows)
    (out / "results.md").write_text(text)
    payload = {"machine": machine, "command": command, "seconds": seconds, "rows": [asdict(r) for r in rows]}
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str))
    return text
