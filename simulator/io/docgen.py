"""Generated documentation: the parameter tables of docs/ODD.md, from the scenario schema.

    python -m simulator.io.docgen            # rewrite the generated parts of docs/ODD.md and docs/scenarios.md
    python -m simulator.io.docgen --check    # exit 1 if they are out of date (the tests do this)

The generated parts sit between ``<!-- params:start -->`` / ``<!-- params:end -->`` (ODD.md)
and ``<!-- scenarios:start -->`` / ``<!-- scenarios:end -->`` (scenarios.md), so the schema
in :mod:`simulator.config` and the scenario files stay the one place where knobs are defined.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..config import POLICY_PRESETS, PlatformConfig, Scenario

START, END = "<!-- params:start -->", "<!-- params:end -->"
SC_START, SC_END = "<!-- scenarios:start -->", "<!-- scenarios:end -->"
ROOT = Path(__file__).resolve().parents[2]
ODD = ROOT / "docs" / "ODD.md"
SCENARIOS_MD = ROOT / "docs" / "scenarios.md"
SHIPPED = ("douyin", "douyin_enterprise", "wechat_private", "kuaishou", "kuaishou_8")


def _allowed(field) -> str:
    ann = field.annotation
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "allowed" in extra:  # a rule across a tuple's items, checked by the section's validator
        return str(extra["allowed"])
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


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _descriptions() -> dict[str, str]:
    """Dotted key (platform keys as ``platform.*``) → the schema's description."""
    out: dict[str, str] = {}

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            sub = _nested(field)
            if sub is not None:
                walk(sub, f"{prefix}{name}.")
            elif not (model is Scenario and name == "platforms"):
                out[f"{prefix}{name}"] = field.description or ""

    walk(Scenario, "")
    walk(PlatformConfig, "platform.")
    return out


def scenario_table(folder: Path = ROOT / "scenarios") -> str:
    """Every knob with its value in each shipped scenario (resolved: presets and defaults
    included); keys whose values differ between scenarios are marked."""
    from ..config import load_scenario

    cols = {}
    for name in SHIPPED:
        data = load_scenario(folder / f"{name}.toml").model_dump(mode="json")
        (pname, pdata), = data.pop("platforms").items()
        flat = _flat(data)
        flat.update({f"platform.{k}": v for k, v in _flat(pdata).items()})
        flat["platform (name)"] = pname
        cols[name] = flat
    desc = _descriptions()
    keys = [k for k in cols[SHIPPED[0]] if k not in ("name", "description")]
    lines = ["| key | " + " | ".join(SHIPPED) + " | meaning |", "|---|" + "---|" * (len(SHIPPED) + 1)]
    for k in keys:
        vals = [cols[n].get(k) for n in SHIPPED]
        differs = any(v != vals[0] for v in vals)
        cells = ["none" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)) for v in vals]
        key = f"**`{k}`**" if differs else f"`{k}`"
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {desc.get(k, '')} |")
    return "\n".join(lines) + "\n"


def _splice(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise ValueError(f"markers {start} / {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def render(text: str) -> str:
    """docs/ODD.md ``text`` with its generated part replaced by the current tables."""
    return _splice(text, START, END, parameter_tables())


def render_scenarios(text: str) -> str:
    """docs/scenarios.md ``text`` with its generated table replaced."""
    return _splice(text, SC_START, SC_END, scenario_table())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the generated tables of docs/ODD.md and docs/scenarios.md")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    a = ap.parse_args(argv)
    stale = []
    for path, fn in ((ODD, render), (SCENARIOS_MD, render_scenarios)):
        text = path.read_text()
        new = fn(text)
        if new != text:
            stale.append(path)
            if not a.check:
                path.write_text(new)
    if a.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run python -m simulator.io.docgen", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
