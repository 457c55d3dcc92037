"""The ``trafficsim`` command line.

    trafficsim run SCENARIO.toml [--steps N] [--seed S] [--set key=value ...] [--out DIR]

User errors (bad scenario, bad override, unusable output folder) print one line and
exit with code 2 before anything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .config import ScenarioError, load_scenario
from .outputs import OutputError, check_out_dir, default_out_dir, write_run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trafficsim", description="Agent-based simulator of short-video traffic ecosystems.")
    p.add_argument("--version", action="version", version=f"trafficsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run one scenario and write its run record")
    r.add_argument("scenario", type=Path, help="scenario TOML file")
    r.add_argument("--steps", type=int, help="simulated days (default: the scenario's)")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set platforms.douyin.beta=2 (repeatable)")
    r.add_argument("--out", type=Path, help="output folder (default: a new folder under outputs/)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    return p


def _fail(msg: str) -> int:
    print(f"trafficsim: error: {msg}", file=sys.stderr)
    return 2


def cmd_run(args) -> int:
    sets = list(args.sets)
    if args.steps is not None:
        if args.steps < 1:
            return _fail("--steps: must be >= 1")
        sets.append(f"steps={args.steps}")
    if args.seed is not None:
        if args.seed < 0:
            return _fail("--seed: must be >= 0")
        sets.append(f"seed={args.seed}")
    try:
        scenario = load_scenario(args.scenario, sets)
        out = args.out or default_out_dir(scenario.name)
        check_out_dir(out)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))

    from .model import TrafficModel  # heavy imports after validation

    t0 = time.perf_counter()
    model = TrafficModel(scenario)
    t1 = time.perf_counter()
    show = not args.quiet and sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=scenario.steps, desc=scenario.name, unit="day", file=sys.stderr)
    model.run(scenario.steps, progress=bar.update if bar else None)
    if bar:
        bar.close()
    t2 = time.perf_counter()
    try:
        write_run(model, out, command=["trafficsim", *sys.argv[1:]],
                  timings={"init_s": round(t1 - t0, 3), "run_s": round(t2 - t1, 3)})
    except OutputError as exc:
        return _fail(str(exc))
    if not args.quiet:
        _print_summary(model.summary())
    print(f"run record: {out}")
    return 0


HEADLINE = ("impressions_total", "impressions_public", "impressions_commercial", "impressions_private",
            "exposure_gini", "top1_share", "top10_share", "visible_share", "fans_passerby", "fans_liking",
            "fans_true", "mean_intimacy", "flywheel_ratio", "ad_revenue")


def _print_summary(summary: dict) -> None:
    names = list(summary["platforms"])
    width = max(len(h) for h in HEADLINE) + 2
    print("metric".ljust(width) + "".join(n.rjust(14) for n in names))
    for key in HEADLINE:
        vals = [summary["platforms"][n].get(key) for n in names]
        print(key.ljust(width) + "".join(_fmt(v).rjust(14) for v in vals))


def _fmt(v) -> str:
    if v is None or v != v:
        return "-"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
