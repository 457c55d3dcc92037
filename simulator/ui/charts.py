"""The app's charts, without the page: what each chart shows of a running model (read
only: the model's per-day rows and its state) and how it is drawn, as a small SVG string.

Why SVG strings and not matplotlib figures: a step used to re-render eight matplotlib
figures as PNGs (about 0.08 s each, 0.35 s for the three-panel per-platform figure:
~0.9 s a step). Writing the same charts as SVG text takes a few milliseconds, the page
sends only the text of the charts that changed, and the browser draws it with nothing
to fetch (the app works offline).

A *run* is ``(label, model)``. One run draws every series in its own colour; two runs
(the app's side-by-side mode) draw run A in blue and run B in orange, and the series of a
chart are told apart by their dash (one legend per chart names run and series). The
x-axis is the day: day 1 is the first simulated day, so after N steps the last point is
at day N, the step counter's number.

Pure functions of the model (no Solara): :func:`traffic_charts` (the main charts),
:func:`drill_charts` (one creator, one merchant), :func:`creator_options`,
:func:`merchant_options`, :func:`creator_fans`, :func:`creator_reach`,
:func:`merchant_customers`; :func:`svg` draws a :class:`Chart`.
"""

from __future__ import annotations

import html
import math
import weakref
from dataclasses import dataclass, field

import numpy as np

from simulator.observation.inequality import lorenz
from simulator.state.vocabulary import DOMAINS, TIERS

RUN_COLORS = ("#1f6fb4", "#e8710a")  # run A, run B (side by side)
DASHES = ("", "7 4", "2 3", "9 3 2 3", "1 2")  # series k of a chart when colour says the run
DOMAIN_COLORS = {"public": "#4C72B0", "commercial": "#DD8452", "private": "#55A868"}
TIER_COLORS = {"potential": "#BBBBBB", "passerby": "#937860", "liking": "#DA8BC3", "true": "#C44E52"}
GMV_SERIES = (("gmv_public", "public", "#4C72B0"), ("gmv_commercial", "commercial (ads)", "#DD8452"),
              ("gmv_private_platform", "private, on the platform", "#55A868"),
              ("gmv_private_wechat", "private, on WeChat", "#8172B3"))
SMOOTH_DAYS = 7  # GMV is drawn as a trailing 7-day mean (the daily values faint behind it)

# "what am I looking at": the three kinds of traffic, in plain words
TRAFFIC_KINDS = (
    ("Public traffic", "what the recommendation algorithm hands out: the feed shows an item to people who do "
                       "not follow its creator."),
    ("Commercial traffic", "ad slots merchants buy in the feed, at a price that rises with competition."),
    ("Private traffic", "people who come back to a creator on their own: through the follow tab, fan groups and, "
                        "off the platform, WeChat. Nobody pays the platform for it again."),
)


@dataclass
class Series:
    """One line: ``label`` names what it shows, ``run`` ("A" or "B") and ``run_label``
    the run it belongs to; ``faint`` lines are drawn thin and pale and have no legend entry."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dash: str = ""
    faint: bool = False
    run: str = "A"
    run_label: str = ""


@dataclass
class Chart:
    """A line chart (``series``) or a bar chart (``categories`` × ``bars``, one bar group
    per category, one bar per (label, colour, values) entry)."""

    key: str
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    categories: tuple[str, ...] = ()
    bars: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    note: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    percent: bool = False  # y ticks as percentages (and x ticks for ``percent_x``)
    percent_x: bool = False
    diagonal: bool = False  # the line of equality (Lorenz curve)
    bar_colors: tuple[str, ...] = ()  # one run: a colour per category
    last_day: int | None = None  # a chart over days: the last day drawn (the step counter's number)

    @property
    def kind(self) -> str:
        return "bars" if self.categories else "line"


# ---------------------------------------------------------------- data


class History:
    """The model's per-day rows of one platform as columns, each built when first asked
    for (a step's redraw reads a dozen of the hundred columns). ``day`` = step + 1: day 1
    is the first simulated day. A column the rows lack is NaN; ``public_share`` (and
    ``commercial_share``, ``private_share``) = impressions of the domain / all
    impressions. Reads the rows as they are: no DataFrame, which costs more than the
    charts."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.cache: dict[str, np.ndarray] = {"day": np.array([r["step"] + 1 for r in rows], float)}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            if name.endswith("_share") and name[:-6] in DOMAINS:
                total = self["impressions_total"]
                with np.errstate(invalid="ignore", divide="ignore"):
                    self.cache[name] = np.where(total > 0, self[f"impressions_{name[:-6]}"] / total, np.nan)
            else:
                self.cache[name] = np.array([_num(r.get(name)) for r in self.rows], float)
        return self.cache[name]


_HISTORIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def history(model, platform: str = "all") -> History:
    """The per-day columns of ``platform`` (``all``: every platform together), kept per
    model and rebuilt only when the model has stepped."""
    per = _HISTORIES.setdefault(model, {})
    h = per.get(platform)
    if h is None or h.n_rows != len(model._rows):
        h = History([r for r in model._rows if r["platform"] == platform])
        h.n_rows = len(model._rows)
        per[platform] = h
    return h


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def column(h: History, name: str) -> np.ndarray:
    """A column of :func:`history` (kept for readability at the call sites)."""
    return h[name]


def smooth(y: np.ndarray, days: int = SMOOTH_DAYS) -> np.ndarray:
    """Trailing mean over ``days`` days (over the days there are, at the start)."""
    y = np.nan_to_num(np.asarray(y, float))
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(i - days, 0)
    return (c[i] - c[lo]) / (i - lo)


def exposure(model) -> np.ndarray:
    """Cumulative impressions per creator (all platforms, all domains)."""
    return model.creators.impressions.sum(axis=(0, 2))


def creator_options(model, n: int = 10) -> list[tuple[int, str]]:
    """The ``n`` creators with the most impressions so far, most first, as (creator id,
    label); ties go to the lower id, so the order is the same on every machine."""
    imp = exposure(model)
    order = np.lexsort((np.arange(len(imp)), -imp))[:n]
    return [(int(c), f"creator #{c} ({int(imp[c]):,} impressions)") for c in order]


def merchant_options(model) -> list[tuple[int, str]]:
    """Every merchant, as (merchant id, its category in words)."""
    from simulator.state.vocabulary import CATEGORIES

    return [(m, CATEGORIES[model.merchants.category[m]].replace("_", " ")) for m in range(model.merchants.n)]


def top_merchant(model) -> int | None:
    """The merchant with the most GMV so far (the lowest id on a tie), None without merchants."""
    gmv = model.ledger.gmv.sum(axis=1)
    return int(np.lexsort((np.arange(len(gmv)), -gmv))[0]) if len(gmv) else None


def creator_fans(model, creator: int) -> np.ndarray:
    """The creator's followers by fan tier (potential, passerby, liking, true): follow
    relationships of this one creator."""
    f = model.follows
    return np.bincount(f.tier[f.creator == creator].astype(np.int64), minlength=len(TIERS))


def creator_reach(model, creator: int) -> np.ndarray:
    """The creator's impressions so far by domain (public, commercial, private), summed
    over the platforms."""
    return model.creators.impressions[:, creator, :].sum(axis=0)


CUSTOMER_PLACES = ("bought at least once", "follow its account", "in its fan group", "WeChat contact")


def merchant_customers(model, merchant: int) -> np.ndarray:
    """The merchant's customers (users who bought from it) and where they are now, in the
    order of :data:`CUSTOMER_PLACES`: all of them, those following the merchant's own
    account, those in its account's fan group, those who are its WeChat contacts (a
    customer can be in several)."""
    book = model.commerce.book
    users = (book.keys[book.keys % book.n_merchants == merchant] // book.n_merchants).astype(np.int64)
    account = np.full(len(users), model.merchants.account[merchant], np.int64)
    edge = model.follows.lookup(users, account) if len(users) else np.zeros(0, np.int64)
    follows = edge >= 0
    in_group = follows & model.commerce.groups.in_group(edge)
    wechat = model.commerce.wechat
    contacts = np.isin(users, wechat.user[wechat.merchant == merchant])
    return np.array([len(users), follows.sum(), in_group.sum(), contacts.sum()], np.int64)


# ---------------------------------------------------------------- charts


def _lines(runs, key, title, ylabel, parts, *, note="", ylim=None, percent=False, faint_smooth=False) -> Chart:
    """A line chart of ``parts`` = [(column, label, colour)] per run. One run: colour per
    part; two runs: colour per run, dash per part."""
    chart = Chart(key, title, "day", ylabel, note=note, ylim=ylim, percent=percent)
    days = 0
    for r, (run_label, model) in enumerate(runs):
        h = history(model)
        x = h["day"]
        days = max(days, model.steps)
        for k, (col, label, color) in enumerate(parts):
            y = column(h, col)
            c = color if len(runs) == 1 else RUN_COLORS[r]
            dash = "" if len(runs) == 1 else DASHES[k % len(DASHES)]
            run = "AB"[r]
            if faint_smooth:
                chart.series.append(Series(label, x, y, c, dash, faint=True, run=run, run_label=run_label))
                y = smooth(y)
            chart.series.append(Series(label, x, y, c, dash, run=run, run_label=run_label))
    chart.xlim, chart.last_day = (0, max(days, 1)), days
    return chart


def _bars(runs, key, title, ylabel, categories, values_of, *, colors=(), note="", xlabel="") -> Chart:
    chart = Chart(key, title, xlabel, ylabel, categories=tuple(categories), note=note, bar_colors=tuple(colors))
    for r, (run_label, model) in enumerate(runs):
        chart.bars.append((run_label, RUN_COLORS[r], np.asarray(values_of(model), float)))
    chart.last_day = max(m.steps for _, m in runs)  # the state of that day
    return chart


def traffic_charts(runs) -> list[Chart]:
    """The main charts of one run or two (side by side), in the page's order: where
    impressions come from, how concentrated exposure is, the Lorenz curve of creator
    exposure, fans by tier over time and today's fan-tier funnel, GMV by domain (7-day
    mean), the platform's revenue mix, fan-group members, then the year's mechanisms
    (merchants' channel mix, creators in and out) and, for a scenario with several
    platforms, one line per platform."""
    charts = [
        _lines(runs, "domains", "Where impressions come from", "share of impressions",
               [("public_share", "public (algorithm)", DOMAIN_COLORS["public"]),
                ("commercial_share", "commercial (ads)", DOMAIN_COLORS["commercial"]),
                ("private_share", "private (follow tab, fan groups)", DOMAIN_COLORS["private"])],
               note="Each day's impressions by where they came from (the three kinds of traffic: see "
                    "\"What am I looking at\" above).", ylim=(0, 1), percent=True),
        _lines(runs, "concentration", "How concentrated creator exposure is", "share of impressions; Gini",
               [("exposure_gini", "Gini of creator exposure (0 equal, 1 one creator)", "#8172B3"),
                ("top1_share", "share of the top 1% of creators", "#C44E52")],
               note="The day's impressions over the creators: a high Gini and top-1% share mean a few "
                    "creators get most of the traffic (centralized).", ylim=(0, 1)),
        lorenz_chart(runs),
        _lines(runs, "fans", "Fans by tier", "follow relationships",
               [("fans_passerby", "passerby fans", TIER_COLORS["passerby"]),
                ("fans_liking", "liking fans", TIER_COLORS["liking"]),
                ("fans_true", "true fans", TIER_COLORS["true"])],
               note="Counted as follow relationships, not people: a user who follows three creators "
                    "counts three times. A fan's tier rises with intimacy (watching, liking, buying)."),
        _bars(runs, "funnel", "Fan-tier funnel today", "follow relationships",
              ["potential", "passerby", "liking", "true fan"],
              lambda m: np.bincount(m.follows.tier.astype(np.int64), minlength=len(TIERS)),
              colors=[TIER_COLORS[t] for t in TIERS],
              note="Every follow relationship by its tier now: how many followers became close fans."),
        _lines(runs, "gmv", f"GMV by domain ({SMOOTH_DAYS}-day mean; daily values faint)", "model yuan per day",
               [(col, label, color) for col, label, color in GMV_SERIES], faint_smooth=True,
               note="Sales by where the order came from. With a handful of merchants a day's GMV jumps; "
                    f"the bold line is the mean of the last {SMOOTH_DAYS} days."),
        _bars(runs, "revenue", "The platform's revenue so far", "model yuan", ["ads", "commissions", "tips"],
              lambda m: [column(history(m), c).sum() if len(m._rows) else 0.0
                         for c in ("ad_revenue", "commission_revenue", "tip_revenue")],
              colors=("#DD8452", "#4C72B0", "#55A868"),
              note="Ad sales, the commission on orders and the platform's cut of tips, summed from day 1."),
        _lines(runs, "groups", "Fan-group members", "members", [("group_members", "members", "#8C8C8C")],
               note="Fans in creators' fan groups (private traffic a merchant can push to); hard selling "
                    "empties them."),
        _lines(runs, "mix", "Merchants' channel mix", "share of marketing effort",
               [("mix_ads_broad", "ads, broad", "#4C72B0"), ("mix_ads_fans", "ads to fans", "#DD8452"),
                ("mix_ads_lookalike", "ads, lookalike", "#937860"), ("mix_groups", "fan groups", "#55A868"),
                ("mix_wechat", "WeChat", "#2CA02C")], ylim=(0, 1), percent=True,
               note="Moves only when merchants learn their mix (year scenarios, e.g. douyin_year.toml). "
                    "Every merchant, those banned on a platform for diverting fans included (their "
                    "effort goes to WeChat)."),
        _lines(runs, "creators", "Creators active, entering, leaving", "creators",
               [("creators_active", "active", "#4C72B0"), ("creators_entered", "entered today", "#55A868"),
                ("creators_exited", "left today", "#C44E52")],
               note="Moves only with creator entry and exit on (year scenarios)."),
    ]
    platforms = max(len(m.platforms) for _, m in runs)
    if platforms > 1:
        charts.extend(platform_charts(runs))
    return charts


def lorenz_chart(runs) -> Chart:
    """The creator exposure Lorenz curve of each run (impressions so far), with the line
    of equal exposure."""
    chart = Chart("lorenz", "Creator exposure (Lorenz curve)", "share of creators, least exposed first",
                  "share of impressions", xlim=(0, 1), ylim=(0, 1), percent=True, percent_x=True, diagonal=True,
                  note="The further the curve sags below the diagonal, the more the traffic goes to a few "
                       "creators (impressions since day 1).")
    chart.last_day = max(m.steps for _, m in runs)
    for r, (label, model) in enumerate(runs):
        if model.steps == 0:
            continue
        x, y = lorenz(exposure(model))
        chart.series.append(Series("creators", x, y, RUN_COLORS[r] if len(runs) > 1 else "#8172B3", run="AB"[r],
                                   run_label=label))
    return chart


PLATFORM_PANELS = (("active_users", "Daily active users, by platform", "users"),
                   ("time_share", "Share of users' time, by platform", "share of all feed slots"),
                   ("private_share", "Private share of impressions, by platform", "share of impressions"))
PLATFORM_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#8172B3", "#C44E52")


def platform_charts(runs) -> list[Chart]:
    """One line per platform (e.g. ecosystem.toml's four): daily active users, share of
    users' time, private share of impressions. Two runs: colour per run, dash per platform."""
    out = []
    for col, title, ylabel in PLATFORM_PANELS:
        chart = Chart(f"platform_{col}", title, "day", ylabel, percent=col != "active_users")
        days = 0
        for r, (run_label, model) in enumerate(runs):
            days = max(days, model.steps)
            for k, name in enumerate(model.platforms):
                h = history(model, name)
                if len(runs) == 1:
                    color, dash, label = PLATFORM_COLORS[k % len(PLATFORM_COLORS)], "", name
                else:
                    color, dash, label = RUN_COLORS[r], DASHES[k % len(DASHES)], name
                chart.series.append(Series(label, h["day"], column(h, col), color, dash, run="AB"[r],
                                           run_label=run_label))
        chart.xlim, chart.last_day = (0, max(days, 1)), days
        out.append(chart)
    return out


def drill_charts(runs, creator: int, merchant: int | None) -> list[Chart]:
    """One creator's fans by tier and reach by domain, one merchant's customers by where
    they are; two runs side by side (the same population: the same creator and merchant)."""
    charts = [
        _bars(runs, "creator_fans", f"Creator #{creator}: fans by tier", "follow relationships",
              ["potential", "passerby", "liking", "true fan"], lambda m: creator_fans(m, creator),
              colors=[TIER_COLORS[t] for t in TIERS],
              note="This creator's followers by tier (each counted once: one follow relationship each)."),
        _bars(runs, "creator_reach", f"Creator #{creator}: reach by domain", "impressions so far",
              ["public", "commercial", "private"], lambda m: creator_reach(m, creator),
              colors=[DOMAIN_COLORS[d] for d in DOMAINS],
              note="Where this creator's impressions came from: the algorithm, ads, its own followers."),
    ]
    if merchant is not None:
        charts.append(_bars(runs, "merchant_customers", f"Merchant #{merchant}: its customers, by where they are",
                            "customers", list(CUSTOMER_PLACES), lambda m: merchant_customers(m, merchant),
                            colors=("#8C8C8C", "#4C72B0", "#55A868", "#8172B3"),
                            note="Users who bought from this merchant, and how many of them follow its own "
                                 "account, are in its fan group or are its WeChat contacts (one customer can "
                                 "be in several)."))
    return charts


# ---------------------------------------------------------------- drawing

W, H = 480, 290  # the SVG's coordinate box (it scales to its container's width)
LEFT, RIGHT, BOTTOM = 58, 24, 40
CHAR = 6.0  # mean width of a character at 11 px, for laying out legend entries


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> np.ndarray:
    """Round tick values from ``lo`` to ``hi`` (steps of 1, 2, 2.5 or 5 × 10^k; whole
    steps of at least 1 for ``integer``, such as days)."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in steps if m * mag >= raw * 0.999)
    if integer:
        step = max(1.0, round(step))
    start = math.ceil(lo / step - 1e-9) * step
    return np.round(np.arange(start, hi + step * 1e-6, step), 12)


def tick_label(v: float, percent: bool = False) -> str:
    if percent:
        return f"{100 * v:.0f}%"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:,.0f}" if a >= 10 or v == int(v) else f"{v:.2g}"


def _legend(entries: list[tuple[str, str, str, str]], width: float) -> tuple[list[str], float]:
    """Legend entries (label, colour, dash, kind) laid out in rows under the title;
    returns the SVG parts and the height they take."""
    parts, x, y = [], LEFT, 34.0
    for label, color, dash, kind in entries:
        w = 26 + CHAR * len(label)
        if x + w > width - RIGHT and x > LEFT:
            x, y = LEFT, y + 15
        if kind == "bar":
            parts.append(f'<rect x="{x:.0f}" y="{y - 8:.0f}" width="16" height="9" fill="{color}"/>')
        else:
            d = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<line x1="{x:.0f}" y1="{y - 4:.0f}" x2="{x + 18:.0f}" y2="{y - 4:.0f}" stroke="{color}" '
                         f'stroke-width="2.5"{d}/>')
        parts.append(f'<text x="{x + 22:.0f}" y="{y:.0f}" class="lg">{html.escape(label)}</text>')
        x += w + 10
    return parts, (y - 34.0 + 15) if entries else 0.0


def line_legend(series: list[Series]) -> list[tuple[str, str, str, str]]:
    """The legend of a line chart, as (label, colour, dash, "line") entries. One run: one
    entry per series, in its colour. Two runs: one entry per run (its colour, solid) and,
    when a chart draws several series, one per series (grey, its dash)."""
    shown = [s for s in series if not s.faint]
    runs = list(dict.fromkeys((s.run, s.run_label, s.color) for s in shown if s.run))
    if len({r for r, _, _ in runs}) < 2:
        return list(dict.fromkeys((s.label, s.color, s.dash, "line") for s in shown))
    out = [(label, color, "", "line") for _, label, color in dict.fromkeys((r, lb, c) for r, lb, c in runs)]
    parts = list(dict.fromkeys((s.label, s.dash) for s in shown))
    if len(parts) > 1:
        out += [(label, "#555555", dash, "line") for label, dash in parts]
    return out


def svg(chart: Chart) -> str:
    """The chart as an SVG element (title, legend, axes with their labels and units,
    grid, lines or bars). Each line is a ``<polyline class="series" data-run=...>``, each
    bar a ``<rect class="bar" data-run=...>``, so a test can count what is drawn."""
    if chart.kind == "bars":
        entries = ([(lb, c, "", "bar") for lb, c, _ in chart.bars] if len(chart.bars) > 1 else [])
    else:
        entries = line_legend(chart.series)
    legend, lh = _legend(entries, W)
    top = 30 + lh + 8
    x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, top
    day = f' data-day="{chart.last_day}"' if chart.last_day is not None else ""
    out = [f'<svg class="tsim-chart" data-key="{chart.key}"{day} viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="{html.escape(chart.title)}">',
           '<style>text{font-family:sans-serif;fill:#333}.t{font-size:14px;font-weight:600}.ax{font-size:11px}'
           '.tk{font-size:10px;fill:#555}.lg{font-size:11px}.grid{stroke:#e3e3e3}.bv{font-size:9px;fill:#444}</style>',
           f'<text x="{LEFT}" y="18" class="t">{html.escape(chart.title)}</text>', *legend]
    # y range
    if chart.kind == "bars":
        vals = np.concatenate([np.nan_to_num(v) for _, _, v in chart.bars]) if chart.bars else np.zeros(1)
        ylo, yhi = 0.0, float(vals.max()) if len(vals) and vals.max() > 0 else 1.0
    else:
        ys = [np.asarray(s.y, float) for s in chart.series]
        ys = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.zeros(0)
        ylo = min(0.0, float(ys.min())) if len(ys) else 0.0
        yhi = float(ys.max()) if len(ys) and ys.max() > ylo else ylo + 1.0
    if chart.ylim is not None:
        ylo, yhi = chart.ylim
    yt = nice_ticks(ylo, yhi)
    if chart.ylim is None:
        ylo, yhi = min(ylo, float(yt[0])), max(yhi, float(yt[-1]))
        yt = yt[(yt >= ylo - 1e-12) & (yt <= yhi + 1e-12)]

    def Y(v):
        return y0 - (np.asarray(v, float) - ylo) / (yhi - ylo) * (y0 - y1)

    for t in yt:
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{Y(t):.1f}" y2="{Y(t):.1f}" class="grid"/>'
                   f'<text x="{x0 - 5}" y="{Y(t) + 3:.1f}" text-anchor="end" class="tk">{tick_label(t, chart.percent)}</text>')
    out.append(f'<text transform="translate(13,{(y0 + y1) / 2:.0f}) rotate(-90)" text-anchor="middle" class="ax">'
               f'{html.escape(chart.ylabel)}</text>')
    if chart.xlabel:
        out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{H - 6}" text-anchor="middle" class="ax">{html.escape(chart.xlabel)}</text>')
    if chart.kind == "bars":
        out.extend(_draw_bars(chart, x0, x1, y0, Y))
    else:
        out.extend(_draw_lines(chart, x0, x1, y0, y1, Y))
    out.append(f'<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" stroke="#888"/>'
               f'<line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="#888"/></svg>')
    return "".join(out)


def _draw_lines(chart: Chart, x0, x1, y0, y1, Y) -> list[str]:
    xlo, xhi = chart.xlim or (0.0, 1.0)
    if xhi <= xlo:
        xhi = xlo + 1

    def X(v):
        return x0 + (np.asarray(v, float) - xlo) / (xhi - xlo) * (x1 - x0)

    out = []
    xt = nice_ticks(xlo, xhi, 6, integer=not chart.percent_x)
    xt = xt[(xt >= xlo) & (xt <= xhi + 1e-9)]
    if not chart.percent_x and xhi not in xt:  # the last day is always labelled: the step counter's number
        xt = np.append(xt[xt < xhi - 0.6 * (xt[1] - xt[0] if len(xt) > 1 else 1)], xhi)
    for t in xt:
        out.append(f'<line x1="{X(t):.1f}" x2="{X(t):.1f}" y1="{y0}" y2="{y0 + 4}" stroke="#888"/>'
                   f'<text x="{X(t):.1f}" y="{y0 + 15}" text-anchor="middle" class="tk">'
                   f'{tick_label(t, chart.percent_x)}</text>')
    if chart.diagonal:
        out.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(1):.1f}" y2="{Y(1):.1f}" stroke="#999" '
                   f'stroke-dasharray="4 3"/><text x="{X(0.55):.1f}" y="{Y(0.62):.1f}" class="tk" '
                   f'transform="rotate(-31 {X(0.55):.1f} {Y(0.62):.1f})">equal exposure</text>')
    if not any(len(s.x) for s in chart.series):
        out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{(y0 + y1) / 2:.0f}" text-anchor="middle" class="ax">'
                   'no day simulated yet: press Step</text>')
    for s in chart.series:
        ok = np.isfinite(np.asarray(s.y, float))
        if not ok.any():
            continue
        px, py = X(np.asarray(s.x, float)[ok]), Y(np.asarray(s.y, float)[ok])
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
        d = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        width, opacity = ("1", "0.3") if s.faint else ("2.2", "1")
        cls = "faint" if s.faint else "series"
        out.append(f'<polyline class="{cls}" data-run="{s.run}" data-label="{html.escape(s.label)}" points="{pts}" '
                   f'fill="none" stroke="{s.color}" stroke-width="{width}" stroke-opacity="{opacity}"{d}/>')
        if len(px) == 1 and not s.faint:  # one day: a dot, a line needs two
            out.append(f'<circle cx="{px[0]:.1f}" cy="{py[0]:.1f}" r="3" fill="{s.color}"/>')
    return out


def _draw_bars(chart: Chart, x0, x1, y0, Y) -> list[str]:
    out = []
    n, k = len(chart.categories), max(len(chart.bars), 1)
    slot = (x1 - x0) / max(n, 1)
    bw = slot * 0.7 / k
    for i, cat in enumerate(chart.categories):
        cx = x0 + slot * (i + 0.5)
        out.append(f'<text x="{cx:.1f}" y="{y0 + 15}" text-anchor="middle" class="tk">{html.escape(cat)}</text>')
        for j, (label, color, values) in enumerate(chart.bars):
            v = float(np.nan_to_num(values[i]))
            if len(chart.bars) == 1 and chart.bar_colors:
                color = chart.bar_colors[i % len(chart.bar_colors)]
            bx = cx - slot * 0.35 + j * bw
            top = float(Y(v))
            out.append(f'<rect class="bar" data-run="{"AB"[j]}" x="{bx:.1f}" y="{top:.1f}" width="{bw - 2:.1f}" '
                       f'height="{max(y0 - top, 0):.1f}" fill="{color}"><title>{html.escape(label)}: {cat}: '
                       f'{v:,.0f}</title></rect>'
                       f'<text x="{bx + (bw - 2) / 2:.1f}" y="{top - 3:.1f}" text-anchor="middle" class="bv">'
                       f'{tick_label(v)}</text>')
    return out
