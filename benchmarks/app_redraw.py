"""The app's step redraw time as the user sees it, for one or more checkouts in one call.

    python benchmarks/app_redraw.py CHECKOUT [CHECKOUT ...] [--steps N] [--rounds R]

Serves ``trafficsim app`` (default scenario, 3,000 users) from every checkout at once,
opens each in headless Chromium (Debian's ``chromium``) and, round by round, takes N steps
in each page in turn (so a change of the machine's load falls on all of them alike):
each step is timed from the Step click to the page's last change, once the page has
stayed still for a while (``measure_redraws`` of tests/ui/test_app_browser.py, the same
measure as the browser test). Prints per checkout the median, minimum and maximum over
all steps and, for two checkouts, the ratio of the medians. Two warm-up steps per page
are not counted (numba's first calls). Figures go in benchmarks/README.md, "App redraw".
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.ui.test_app_browser import (CHROMIUM, CHROMIUM_ARGS, STEP_COUNTER, TIMEOUT_MS, _free_port,  # noqa: E402
                                       measure_redraws)


def serve(root: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``trafficsim app`` of checkout ``root`` on a free port: the process and its URL."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",
           "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    env.pop("TRAFFICSIM_APP_SCENARIO", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "app", "--port", str(port)], cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"app of {root} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs="+", type=Path)
    ap.add_argument("--steps", type=int, default=4, help="steps per page per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    procs, pages, times = [], [], {str(c): [] for c in args.checkouts}
    try:
        for k, root in enumerate(args.checkouts):
            procs.append((root, *serve(root.resolve(), Path(f"/tmp/app_redraw_{os.getpid()}_{k}.log"))))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for root, _, url in procs:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url, wait_until="domcontentloaded")
                expect(page.get_by_text(STEP_COUNTER)).to_have_text(re.compile(r"Step:\s*0$"))
                page.wait_for_timeout(3000)
                measure_redraws(page, expect, 2)  # warm-up
                pages.append((root, page))
            for r in range(args.rounds):
                for root, page in pages:
                    times[str(root)] += measure_redraws(page, expect, args.steps)
            browser.close()
    finally:
        for _, proc, _ in procs:
            os.killpg(proc.pid, signal.SIGTERM)
    medians = {}
    for root, ts in times.items():
        medians[root] = statistics.median(ts)
        print(f"{root}: median {medians[root]:.3f} s, min {min(ts):.3f}, max {max(ts):.3f} over {len(ts)} steps")
    if len(medians) == 2:
        (a, ma), (b, mb) = medians.items()
        print(f"ratio of medians {a} / {b}: {ma / mb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
