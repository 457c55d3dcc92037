"""The app in a real browser: ``trafficsim app`` serves it on a free localhost port and
headless Chromium (Debian's ``chromium``, driven by playwright) loads it with no internet.

The server is given a scenario file on the command line (one that extends kuaishou.toml).
Checks that the charts render, that Step moves the "Step:" counter and redraws them, that
a slider reaches the model (slider + Reset + steps draw other charts; back + Reset redraws
the first ones), and that every request stays on localhost and succeeds (Solara's front
end comes from the solara-assets package, not a CDN). Leaves outputs/app_screenshot.png.
Then, scenario first (issue 18): the page names the scenario and its description, the
controls show the scenario's values (slider position and text), moving centralization
moves the style-knob controls and lists the pending changes until "Apply and restart",
and the picker switches to another scenario with its values. Leaves
outputs/app_scenario_screenshot.png.

Also opens a compare run's ``report.html`` from disk (file://) and checks that every
plot embedded in it rendered, with no request leaving the file. Leaves
outputs/report_screenshot.png.

Without playwright or Chromium the tests skip, and fail when CI is set.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "outputs" / "app_screenshot.png"
SCENARIO_SCREENSHOT = ROOT / "outputs" / "app_scenario_screenshot.png"
REPORT_SCREENSHOT = ROOT / "outputs" / "report_screenshot.png"
CHROMIUM = os.environ.get("TRAFFICSIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
SLIDER = "intimacy boost (beta)"  # found by its label, so added sliders do not move it
TIMEOUT_MS = 60_000  # a cold numba cache makes the server's first step slow


def _missing(what: str) -> None:
    msg = f"browser test: {what}"
    if IN_CI:
        pytest.fail(msg + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _playwright():
    """playwright's sync API, once playwright and Chromium are known to be there."""
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Python package 'playwright' is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install -y --no-install-recommends chromium, "
                 "or set TRAFFICSIM_CHROMIUM)")
    return sync_api


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`trafficsim app` in its own process group on a free port; yields its URL."""
    port = _free_port()
    tmp = tmp_path_factory.mktemp("app")
    log = tmp / "server.log"
    # a file of the user's, given on the command line: the page must start with it
    scenario = tmp / "my_kuaishou.toml"
    scenario.write_text(f'extends = "{ROOT / "scenarios" / "kuaishou.toml"}"\nname = "my_kuaishou"\n')
    env = {**os.environ,
           # any front-end file missing from the local assets would be fetched from this
           # dead address and fail, even on a machine that does reach the internet
           "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",
           "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "app", str(scenario), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"trafficsim app exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"trafficsim app did not answer on {url} in 90 s:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.5)
        yield url
    finally:
        # the CLI runs solara in a child process: end the whole group
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_app_in_a_browser(request):
    sync_api = _playwright()  # before the server starts: a missing browser fails (CI) or skips at once
    app_url = request.getfixturevalue("app_url")
    expect = sync_api.expect
    problems: list[str] = []  # failed or off-host requests, HTTP errors, console errors

    def on_request(req):
        u = urlsplit(req.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in ("127.0.0.1", "localhost"):
            problems.append(f"off-host request: {req.url}")

    def on_response(resp):
        if resp.status >= 400:
            problems.append(f"HTTP {resp.status}: {resp.url}")

    with _browser_page(sync_api, {"width": 1400, "height": 1000}, problems) as page:
        page.on("request", on_request)
        page.on("response", on_response)
        try:
            _exercise(page, expect, app_url, problems)
        finally:
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert not problems, "\n".join(problems)


@contextmanager
def _browser_page(sync_api, viewport: dict, problems: list[str]):
    """A page of headless Chromium (Debian's) that records failed requests, console
    errors and page errors in ``problems``."""
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                       headless=True, viewport=viewport)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            # expect() has its own 5 s default: a step on a loaded 2-core machine can take longer
            sync_api.expect.set_options(timeout=TIMEOUT_MS)
            page.on("requestfailed", lambda r: problems.append(f"request failed ({r.failure}): {r.url}"))
            page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            yield page
        finally:
            browser.close()


# every chart image as a PNG data URL, or null (keep waiting) until all n are loaded
_READ_CHARTS = """n => {
    const imgs = [...document.querySelectorAll('img.widget-image')];
    if (imgs.length !== n || !imgs.every(img => img.complete && img.naturalWidth > 0)) return null;
    return imgs.map(img => {
        const c = document.createElement('canvas');
        c.width = img.naturalWidth;
        c.height = img.naturalHeight;
        c.getContext('2d').drawImage(img, 0, 0);
        return c.toDataURL();
    });
}"""


def _exercise(page, expect, url, problems):
    from simulator.ui.app import components

    # the charts on the first tab (make_plot_component gives (component, page) pairs);
    # Mesa's matplotlib plot components arrive as ipywidgets images
    n_charts = sum(1 for c in components if (c[1] if isinstance(c, tuple) else 0) == 0)
    page.goto(url, wait_until="domcontentloaded")
    charts = page.locator("img.widget-image")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while charts.count() < n_charts:
        assert not problems, "the page did not load offline:\n" + "\n".join(problems)
        assert time.monotonic() < deadline, f"{charts.count()} of {n_charts} charts after {TIMEOUT_MS / 1000:.0f} s"
        page.wait_for_timeout(250)
    expect(charts).to_have_count(n_charts)
    for i in range(n_charts):
        expect(charts.nth(i)).to_be_visible()
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100"), \
            f"chart {i} did not load as an image"
    counter = page.get_by_text(re.compile(r"^\s*Step:\s*\d+\s*$"))
    expect(counter).to_have_text(re.compile(r"Step:\s*0$"))
    assert not problems, "the page did not load offline:\n" + "\n".join(problems)

    step = page.get_by_role("button", name="Step", exact=True)
    reset = page.get_by_role("button", name="Reset", exact=True)

    def pictures() -> list[str]:
        """A digest of each chart's pixels, read in one pass inside the page once every
        chart image has loaded (Solara may swap an image element at any moment, so
        element-by-element screenshots can meet a detached one)."""
        urls = page.wait_for_function(_READ_CHARTS, arg=n_charts).json_value()
        return [hashlib.sha1(u.encode()).hexdigest()[:12] for u in urls]

    def do_steps(n: int) -> None:
        for k in range(1, n + 1):
            before = [charts.nth(i).get_attribute("src") for i in range(charts.count())]
            step.click()
            expect(counter).to_have_text(re.compile(rf"Step:\s*{k}$"))
            page.wait_for_function("before => [...document.querySelectorAll('img.widget-image')]"
                                   ".every((img, i) => img.src !== before[i] && img.complete)", arg=before)

    empty = pictures()
    do_steps(3)
    default = pictures()
    for i, (a, b) in enumerate(zip(empty, default)):
        assert a != b, f"chart {i} did not change after 3 steps"

    slider = page.get_by_role("slider", name=SLIDER, exact=True)
    start = slider.get_attribute("aria-valuenow")
    slider.focus()

    def nudge_reset_and_step(key: str) -> list[str]:
        """Two key presses on the slider, Reset (which rebuilds the model), 3 steps.
        Reset waits until the control's text shows the slider's value: the server has
        it (a click may overtake the slider's last value on its way to the server)."""
        slider.press(key)
        slider.press(key)
        expect(page.get_by_text(f"{SLIDER} = {slider.get_attribute('aria-valuenow')}", exact=True)).to_be_visible()
        reset.click()
        expect(counter).to_have_text(re.compile(r"Step:\s*0$"))
        do_steps(3)
        return pictures()

    moved = nudge_reset_and_step("ArrowRight")
    assert slider.get_attribute("aria-valuenow") != start
    assert moved != default, f"moving '{SLIDER}' and pressing Reset did not change what the model shows"
    back = nudge_reset_and_step("ArrowLeft")
    assert slider.get_attribute("aria-valuenow") == start
    assert back == default, f"'{SLIDER}' back at {start} + Reset did not draw the first charts again"

    # every visitor has a model of their own: a second tab starts at step 0 and its
    # steps leave this one's alone (a module-level model would show the steps taken above)
    other = page.context.new_page()
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(url, wait_until="domcontentloaded")
    other_counter = other.get_by_text(re.compile(r"^\s*Step:\s*\d+\s*$"))
    expect(other_counter).to_have_text(re.compile(r"Step:\s*0$"))
    # a click before the tab's page is live is lost (seen on a loaded machine): wait for its charts
    other.wait_for_function(_READ_CHARTS, arg=n_charts)
    other.get_by_role("button", name="Step", exact=True).click()
    expect(other_counter).to_have_text(re.compile(r"Step:\s*1$"), timeout=TIMEOUT_MS)
    expect(counter).to_have_text(re.compile(r"Step:\s*3$"))
    other.close()


def test_app_scenario_first(request):
    """Guards issue 18 items 1-2 in the page: it names the scenario given on the command
    line and shows its description; the controls start at its values (kuaishou.toml's
    beta 1.5, follow share 45%, cap 5%: the app's old defaults were 1.0, 5%, none) as
    slider positions and as text with units; moving centralization moves the style-knob
    controls (their text changes) and lists the pending changes until "Apply and
    restart" rebuilds the model; the picker loads douyin.toml with its beta 0.5."""
    sync_api = _playwright()
    app_url = request.getfixturevalue("app_url")
    expect = sync_api.expect
    problems: list[str] = []
    with _browser_page(sync_api, {"width": 1400, "height": 1000}, problems) as page:
        try:
            page.goto(app_url, wait_until="domcontentloaded")
            from simulator.ui.app import components
            page.wait_for_function(_READ_CHARTS, arg=len(components))  # the page is live: every chart drawn
            expect(page.get_by_text("Scenario: my_kuaishou", exact=True)).to_be_visible()
            expect(page.get_by_text("Decentralized, social double column (Kuaishou-like).")).to_be_visible()
            beta = page.get_by_role("slider", name=SLIDER, exact=True)
            assert beta.get_attribute("aria-valuenow") == "1.5"
            expect(page.get_by_text(f"{SLIDER} = 1.5", exact=True)).to_be_visible()
            follow = page.get_by_text(re.compile(r"^follow share ◆ = "))
            expect(follow).to_have_text("follow share ◆ = 45% of feed slots")
            expect(page.get_by_text("exposure cap ◆ = 5% of daily active users", exact=True)).to_be_attached()
            assert page.get_by_role("slider", name="follow share", exact=True).get_attribute("aria-valuenow") == "0.45"
            expect(page.get_by_text(re.compile("^Pending changes — apply and restart"))).to_have_count(0)

            central = page.get_by_role("slider", name="centralization", exact=True)
            central.focus()
            central.press("ArrowRight")  # 0 (kuaishou's policy) -> 0.05: every style knob moves to its preset
            expect(follow).to_have_text("follow share ◆ = 33.5% of feed slots")
            expect(page.get_by_text(re.compile("^Pending changes — apply and restart"))).to_be_visible()
            pending = page.locator(".tsim-pending")
            expect(pending).to_contain_text("follow share: 45% of feed slots → 33.5% of feed slots")
            expect(pending).to_contain_text("centralization: not set")
            page.get_by_role("button", name="Apply and restart").click()
            expect(pending).to_have_count(0)
            expect(page.get_by_text(re.compile(r"^\s*Step:\s*\d+\s*$"))).to_have_text(re.compile(r"Step:\s*0$"))
            expect(follow).to_have_text("follow share ◆ = 33.5% of feed slots")

            page.locator(".v-select").first.click()
            page.get_by_role("option", name="douyin.toml", exact=True).click()
            expect(page.get_by_text("Scenario: douyin", exact=True)).to_be_visible()
            expect(page.get_by_text(f"{SLIDER} = 0.5", exact=True)).to_be_visible()
            assert beta.get_attribute("aria-valuenow") == "0.5"
            expect(follow).to_have_text("follow share ◆ = 5% of feed slots")
            expect(page.get_by_text("exposure cap ◆ = none (no cap)", exact=True)).to_be_attached()
        finally:
            SCENARIO_SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCENARIO_SCREENSHOT), full_page=True)
    assert not problems, "\n".join(problems)


# per image: loaded, natural size, decoded without error, and how many pixels stayed
# transparent when drawn on a canvas (a truncated PNG still reports its full size)
_READ_REPORT_IMAGES = """async () => Promise.all([...document.images].map(async img => {
    const decoded = await img.decode().then(() => true, () => false);
    let transparent = -1;
    if (decoded && img.naturalWidth > 0) {
        const c = document.createElement('canvas');
        c.width = img.naturalWidth;
        c.height = img.naturalHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        transparent = 0;
        for (let k = 3; k < px.length; k += 4) if (px[k] === 0) transparent++;
    }
    return [img.complete, img.naturalWidth, img.naturalHeight, decoded, transparent];
}))"""


def test_report_in_a_browser(tmp_path):
    """Guards issue 13 item 15: compare's report.html opened offline from disk: every
    plot (inline base64 PNG) decodes and renders (naturalWidth > 0), there are as many
    as plots/ holds, and the page asks for nothing but itself (no URL, no CDN)."""
    from simulator.cli import main

    sync_api = _playwright()
    files = []
    for name in ("douyin", "kuaishou"):
        f = tmp_path / f"{name}.toml"
        f.write_text(f'extends = "{ROOT / "scenarios" / (name + ".toml")}"\n'
                     "[population]\nusers = 1000\ncreators = 60\nmerchants = 2\n")
        files.append(str(f))
    out = tmp_path / "cmp"
    assert main(["compare", *files, "--replicates", "2", "--steps", "3", "--workers", "1", "--out", str(out)]) == 0
    n_plots = len(list((out / "plots").glob("*.png")))
    assert n_plots >= 7
    page_url = (out / "report.html").resolve().as_uri()
    problems: list[str] = []
    with _browser_page(sync_api, {"width": 1280, "height": 900}, problems) as page:
        page.on("request", lambda r: None if r.url == page_url or r.url.startswith("data:")
                else problems.append(f"request: {r.url}"))
        page.goto(page_url, wait_until="load")
        sizes = page.evaluate(_READ_REPORT_IMAGES)
        REPORT_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(REPORT_SCREENSHOT), full_page=True)
        assert page.get_by_role("heading", name="Headline").is_visible()
        assert page.locator("table").first.locator("tbody tr").count() > 10
    assert len(sizes) == n_plots, f"{len(sizes)} images in the page, {n_plots} plots written"
    for i, (complete, w, h, decoded, transparent) in enumerate(sizes):
        assert complete and decoded and w > 0 and h > 0, f"plot {i} did not render ({w}x{h})"
        # matplotlib's PNGs are opaque: transparent pixels mean a partly decoded (truncated) image
        assert transparent == 0, f"plot {i}: {transparent} of {w * h} pixels not drawn"
    assert not problems, "\n".join(problems)
