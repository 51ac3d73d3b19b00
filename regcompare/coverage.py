"""The update rules × frameworks table, derived from the registry: which API runs each rule, and how it decays.

``regcompare conventions --rules`` prints it (markdown, for README). Each cell lists the optimizer classes of
that framework for that rule, each with the coupling of every record that runs it: an optimizer's own
``weight_decay`` (coupled or decoupled), or a regularizer object handed to it (a Keras layer regularizer, a paddle
``L2Decay``: coupled).
"""

from __future__ import annotations

from regcompare import adapters, rules
from regcompare.conventions import Convention


def _cells(table: dict[str, Convention]) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(rule, framework) → optimizer class → the couplings it runs with."""
    cells: dict[tuple[str, str], dict[str, set[str]]] = {}
    for conv in table.values():
        if not conv.executed or conv.weight_norm is not None:
            continue
        coupling = "decoupled" if conv.coupling == "decoupled" else "coupled"
        for call in conv.optimizers:
            cells.setdefault((call.family, conv.framework), {}).setdefault(call.api, set()).add(coupling)
    return cells


def rules_markdown(frameworks: tuple[str, ...] | None = None) -> str:
    """A markdown table: one row per update rule, one column per framework (default: every one with optimizers)."""
    table = adapters.conventions()
    if frameworks is None:
        frameworks = tuple(f for f in adapters.frameworks()
                           if any(c.framework == f and c.optimizers for c in table.values()))
    cells = _cells(table)
    lines = ["| rule | " + " | ".join(frameworks) + " |", "|---" * (len(frameworks) + 1) + "|"]
    for name in (n for n in rules.NAMES if n != "adamw"):
        row = []
        for fw in frameworks:
            classes = cells.get((name, fw), {})
            row.append("<br>".join(f"`{api}` ({', '.join(sorted(c))})" for api, c in sorted(classes.items())) or "—")
        lines.append(f"| `{name}` | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _default(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_markdown() -> str:
    """The case format's ``optimizer`` keys per rule, with their defaults (docs/case-format.md)."""
    lines = ["| `optimizer.name` | keys (default) |", "|---|---|"]
    for name in rules.NAMES:
        if name == "adamw":
            continue
        names = "`adam`, `adamw`" if name == "adam" else f"`{name}`"
        keys = ", ".join(f"`{s.key}` ({_default(s.default)})" for s in rules.settings_of(name))
        lines.append(f"| {names} | {keys} |")
    return "\n".join(lines)
