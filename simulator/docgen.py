"""Generated documentation: the parameter tables of docs/ODD.md, from the scenario schema.

    python -m simulator.docgen            # rewrite the generated parts of docs/ODD.md
    python -m simulator.docgen --check    # exit 1 if they are out of date (the tests do this)

The generated part sits between ``<!-- params:start -->`` and ``<!-- params:end -->``, so
the schema in :mod:`simulator.config` stays the one place where knobs are defined.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .config import POLICY_PRESETS, PlatformConfig, Scenario

START, END = "<!-- params:start -->", "<!-- params:end -->"
ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"


def _allowed(field) -> str:
    ann = field.annotation
    if getattr(ann, "__origin__", None) is not None and str(ann).startswith("typing.Literal"):
        return "one of " + ", ".join(map(str, ann.__args__))
    lo = hi = None
    lo_op = hi_op = "≤"
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, lo_op = m.gt, "<"
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, hi_op = m.lt, "<"
    if lo is None and hi is None:
        return ""
    left = f"{lo} {lo_op} " if lo is not None else ""
    right = f" {hi_op} {hi}" if hi is not None else ""
    return f"{left}x{right}"


def _default(model: type[BaseModel], name: str) -> Any:
    try:
        return getattr(model(), name)
    except Exception:  # noqa: BLE001 - a section without defaults (e.g. CategoryConfig)
        return None


def _nested(field) -> type[BaseModel] | None:
    ann = field.annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _table(title: str, model: type[BaseModel], instance: BaseModel | None = None) -> list[str]:
    rows, subs = [], []
    for name, field in model.model_fields.items():
        sub = _nested(field)
        if sub is not None:
            subs.append((f"{title}.{name}" if title else name, sub, getattr(instance, name) if instance is not None else None))
            continue
        if title == "" and name == "platforms":
            continue
        value = getattr(instance, name) if instance is not None else _default(model, name)
        value = "none" if value is None else value
        rows.append(f"| `{name}` | {value!r} | {_allowed(field)} | {field.description or ''} |".replace("'none'", "none"))
    out = []
    if rows:
        out += [f"**`{title or '(top level)'}`**", "", "| key | default | allowed | meaning |", "|---|---|---|---|", *rows, ""]
    for sub_title, sub, sub_inst in subs:
        out += _table(sub_title, sub, sub_inst)
    return out


def parameter_tables() -> str:
    """Markdown tables of every scenario key: default, allowed range, meaning."""
    s = Scenario()
    lines = _table("", Scenario, s)
    lines += _table("platforms.<name>", PlatformConfig, PlatformConfig())
    keys = sorted({k for p in POLICY_PRESETS.values() for k in p})
    lines += [
        "Presets (defaults the policy name sets; `centralization`, when given, replaces them by the interpolation",
        "between the two columns described in `centralization_preset`; explicit keys win):",
        "",
        "| key | " + " | ".join(POLICY_PRESETS) + " |",
        "|---|" + "---|" * len(POLICY_PRESETS),
        *[f"| `{k}` | " + " | ".join(repr(POLICY_PRESETS[p].get(k)).replace("None", "none") for p in POLICY_PRESETS) + " |"
          for k in keys],
    ]
    return "\n".join(lines).rstrip() + "\n"


def render(text: str) -> str:
    """``text`` with its generated part replaced by the current tables."""
    if START not in text or END not in text:
        raise ValueError(f"markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{parameter_tables()}{END}{tail}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the parameter tables of docs/ODD.md")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    ap.add_argument("--file", type=Path, default=ODD)
    a = ap.parse_args(argv)
    text = a.file.read_text()
    new = render(text)
    if a.check:
        if new != text:
            print(f"{a.file}: parameter tables are out of date; run python -m simulator.docgen", file=sys.stderr)
            return 1
        return 0
    a.file.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
