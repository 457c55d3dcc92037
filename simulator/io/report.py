"""How numbers are shown to people, and the one-page ``report.html`` of a run or comparison.

* :func:`fmt` is the one number format of the terminal tables of ``run`` and ``compare``,
  of ``comparison.md`` and of the reports: thousands separators, no e-notation.
* :data:`METRICS` gives each summary metric a readable label and its unit.
* :func:`html_report` builds a self-contained page (inline CSS, plots as base64 PNG, no
  external URL), viewable offline by opening the file.

Standard library only: the command line imports this before any heavy module.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from ..state.vocabulary import BUYER_TIERS, WINDOW_DAYS

# metric → (label, unit); "share" is a fraction in [0, 1]
METRICS: dict[str, tuple[str, str]] = {
    "impressions_total": ("impressions", "impressions"),
    "impressions_public": ("impressions, public domain", "impressions"),
    "impressions_commercial": ("impressions, commercial (ad slots)", "impressions"),
    "impressions_private": ("impressions, private domain", "impressions"),
    "private_share_impressions": ("private share of impressions", "share"),
    "exposure_gini": ("creator exposure Gini", "Gini, 0-1"),
    "top1_share": ("top-1% creators' share of exposure", "share"),
    "top10_share": ("top-10% creators' share of exposure", "share"),
    "visible_share": ("creators above the visibility threshold", "share"),
    "flywheel_ratio": ("flywheel: public reach, close- vs distant-fan creators", "ratio"),
    "followers_total": ("follow edges", "follow edges"),
    "fans_potential": ("potential fans", "follow edges"),
    "fans_passerby": ("passerby fans", "follow edges"),
    "fans_liking": ("liking fans", "follow edges"),
    "fans_true": ("true fans", "follow edges"),
    "mean_intimacy": ("mean fan intimacy", "intimacy, 0-1"),
    "gmv_total": ("GMV", "yuan"),
    "gmv_public": ("GMV, public domain", "yuan"),
    "gmv_commercial": ("GMV, commercial domain", "yuan"),
    "gmv_private_platform": ("GMV, private on the platform", "yuan"),
    "gmv_private_wechat": ("GMV, private on WeChat", "yuan"),
    "private_share_gmv": ("private share of GMV (platform + WeChat)", "share"),
    "private_share_tips": ("private share of tips", "share"),
    "private_share_comments": ("private share of comments", "share"),
    "orders": ("orders", "orders"),
    "new_buyers": ("new buyers", "buyers"),
    "new_buyers_ad": ("new buyers acquired by an ad", "buyers"),
    **{f"orders_{b}": (f"orders from {b.replace('_', '-')} buyers" if b == "non_fan" else f"orders from {b} fans", "orders")
       for b in BUYER_TIERS},
    **{f"gmv_buyer_{b}": (f"GMV from {b.replace('_', '-')} buyers" if b == "non_fan" else f"GMV from {b} fans", "yuan")
       for b in BUYER_TIERS},
    "tips_total": ("tips", "yuan"),
    "ad_revenue": ("platform ad revenue", "yuan"),
    "commission_revenue": ("platform commission revenue", "yuan"),
    "tip_revenue": ("platform revenue from tips", "yuan"),
    "platform_revenue": ("platform revenue", "yuan"),
    "ad_share_of_revenue": ("ads share of revenue", "share"),
    "commission_tips_share": ("commissions + tips share of revenue", "share"),
    "cpm_effective": ("effective ad price (CPM)", "yuan per 1,000 ad impressions"),
    "cac_ad": ("ad-attributed CAC (ad spend / buyers first acquired by an ad)", "yuan per new buyer"),
    "cac_blended": ("blended CAC (ad spend / all new buyers)", "yuan per new buyer"),
    "cac_ad_first_30d": ("ad-attributed CAC, first 30 days", "yuan per new buyer"),
    "cac_ad_last_30d": ("ad-attributed CAC, last 30 days", "yuan per new buyer"),
    "cac_blended_first_30d": ("blended CAC, first 30 days", "yuan per new buyer"),
    "cac_blended_last_30d": ("blended CAC, last 30 days", "yuan per new buyer"),
    "cac_ad_trend": ("ad-attributed CAC trend (last 30 days / first 30 days)", "ratio"),
    "new_buyers_ad_first_30d": ("new buyers acquired by ads, first 30 days", "buyers"),
    "new_buyers_ad_last_30d": ("new buyers acquired by ads, last 30 days", "buyers"),
    "new_creator_success": ("new-creator success (share of entrants reaching the follower or visibility bar within the success window, 30 days by default)", "share"),
    "creators_active": ("creators active (posting)", "creators"),
    "creators_entered": ("creators entered", "creators"),
    "creators_exited": ("creators exited", "creators"),
    "merchants_active": ("merchants active", "merchants"),
    "merchants_entered": ("merchants entered", "merchants"),
    "merchants_exited": ("merchants exited", "merchants"),
    "group_members": ("fan-group members", "members"),
    "group_members_start": ("fan-group members at the end of day 0", "members"),
    "group_members_end": ("fan-group members at the end", "members"),
    "group_churn_30d": ("fan-group churn within 30 days", "share"),
    "wechat_contacts": ("WeChat contacts", "contacts"),
    "bans": ("account bans (diversion to WeChat, over-marketing)", "bans"),
    "active_users": ("active users", "users"),
    "items_published": ("items published", "items"),
    "feed_fill": ("feed fill (impressions / slots offered)", "share"),
    "slots_per_active": ("slots per active user (session length)", "slots"),
    "lapsed_users": ("lapsed users (no open in 7 days)", "users"),
    "mean_satisfaction": ("mean user satisfaction (engaged share − ad and push aversion)", "satisfaction"),
}

# the run's terminal table and report, in this order
RUN_HEADLINE = ("impressions_total", "impressions_public", "impressions_commercial", "impressions_private",
                "exposure_gini", "top1_share", "top10_share", "visible_share", "fans_passerby", "fans_liking",
                "fans_true", "mean_intimacy", "flywheel_ratio", "gmv_total", "private_share_gmv", "private_share_tips",
                "private_share_comments", "ad_revenue", "commission_revenue", "tip_revenue", "cac_ad", "cac_blended",
                "cac_ad_first_30d", "cac_ad_last_30d", "group_members_end", "group_churn_30d", "wechat_contacts", "bans")

# fixed-window summary metrics: the run length they need (NaN in shorter runs). CAC over
# the first / last 30 days needs 30 simulated days; group churn needs a day t followed
# for 30 more days, so 31; the CAC trend compares two 30-day windows that do not overlap, so 60.
WINDOW_NEEDS = {**{f"cac_{k}_{e}_{WINDOW_DAYS}d": WINDOW_DAYS for k in ("ad", "blended") for e in ("first", "last")},
                **{f"new_buyers_ad_{e}_{WINDOW_DAYS}d": WINDOW_DAYS for e in ("first", "last")},
                f"group_churn_{WINDOW_DAYS}d": WINDOW_DAYS + 1, "group_churn_monthly": WINDOW_DAYS + 1,
                "cac_ad_trend": 2 * WINDOW_DAYS}

PLOT_CAPTIONS = {
    "lorenz.png": "Creator exposure: Lorenz curves (the further below the diagonal, the more concentrated)",
    "domain_shares.png": "Impressions by domain (public, commercial, private)",
    "fan_tiers.png": "Fans by tier",
    "top1_share.png": "Top-1% creators' share of the day's exposure over time",
    "gmv_domain_shares.png": "GMV by domain",
    "gmv_by_domain.png": "GMV by domain over time",
    "private_gmv_groups.png": "Private GMV per day and fan-group members over time",
    "revenue_mix.png": "Platform revenue mix (ads, commissions, tips)",
    "cac.png": "Customer-acquisition cost over time (ad-attributed, solid, and blended, dashed)",
    "group_size.png": "Fan-group members over time",
    "merchant_roi.png": "Merchants' return on ad spend",
    "dynamics.png": "The run over time: merchants' channel mix, creators and merchants in and out, acquisition cost and private share of GMV, daily active users and session length",
}


def label(metric: str) -> str:
    return METRICS.get(metric, (metric, ""))[0]


def unit(metric: str) -> str:
    return METRICS.get(metric, (metric, ""))[1]


def fmt(v) -> str:
    """The one number format: ``222,760`` for large or whole numbers, three decimals
    otherwise, enough decimals for two significant digits below 0.001, ``-`` for a
    missing value (None or NaN); never e-notation."""
    if v is None:
        return "-"
    v = float(v)
    if v != v:
        return "-"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if abs(v) >= 1000 or v.is_integer():
        return f"{v:,.0f}"
    if abs(v) >= 0.001:
        return f"{v:.3f}"
    return f"{v:.{1 - math.floor(math.log10(abs(v)))}f}"


def needs_days(metric: str) -> int | None:
    """The run length a fixed-window metric (``*_30d``) needs, None for the others."""
    return WINDOW_NEEDS.get(metric)


def fmt_metric(metric: str, v) -> str:
    """:func:`fmt`, except that a missing fixed-window value says the run length it needs
    (``needs ≥ 31 days``) rather than ``-``."""
    if (v is None or v != v) and metric in WINDOW_NEEDS:
        return f"needs ≥ {WINDOW_NEEDS[metric]} days"
    return fmt(v)


def fmt_ci(mean, low, high, metric: str | None = None) -> str:
    """``mean ± half-width`` of a symmetric 95% CI; just the mean when there is no CI;
    for a fixed-window ``metric`` with no value, the run length it needs."""
    if low is None or high is None or low != low or high != high:
        return fmt_metric(metric, mean) if metric else fmt(mean)
    return f"{fmt(mean)} ± {fmt((high - low) / 2)}"


def text_table(header: list[str], rows: list[list[str]], left: int = 2) -> str:
    """An aligned plain-text table: the first ``left`` columns (label, unit) left-aligned,
    the numbers right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def flatten(data: dict, prefix: str = "") -> dict:
    """A nested scenario dict as ``{dotted.key: value}``."""
    out = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def scenario_differences(scenarios: dict[str, dict]) -> list[tuple[str, list]]:
    """The dotted keys whose resolved values differ between the scenarios (``name`` and
    ``seed`` left out: labels and replicate seeds say those), each with its value per
    scenario (None where a scenario does not have the key)."""
    names = [list(sc.get("platforms") or {}) for sc in scenarios.values()]
    if any(n != names[0] for n in names[1:]):
        # platforms named differently (douyin vs kuaishou): compare them by position,
        # platforms.#1.beta, with a platforms.#1.name row saying which is which
        scenarios = {lb: {**sc, "platforms": {f"#{i + 1}": {"name": name, **cfg}
                                              for i, (name, cfg) in enumerate((sc.get("platforms") or {}).items())}}
                     for lb, sc in scenarios.items()}
    flat = {lb: flatten(sc) for lb, sc in scenarios.items()}
    keys = sorted(set().union(*flat.values()) - {"name", "seed"})
    rows = []
    for k in keys:
        vals = [f.get(k) for f in flat.values()]
        if any(v != vals[0] for v in vals[1:]):
            rows.append((k, vals))
    return rows


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1180px;
     padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
p.intro{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:.92em}
th,td{padding:.28em .7em;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th:first-child,td:first-child,th.unit{text-align:left}td.unit{color:#777;text-align:left}
tr:hover td{background:#f6f8fb}
ul.readings li{margin:.25em 0}
.plots{display:flex;flex-wrap:wrap;gap:1.2em}
figure{margin:0;border:1px solid #eee;padding:.5em;background:#fff}
figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#555;max-width:560px}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.85em}
"""


def _table_html(header: list[str], rows: list[list[str]], unit_col: int | None = None) -> str:
    e = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f'<th class="unit">{e(h)}</th>' if i == unit_col else f"<th>{e(h)}</th>"
                                              for i, h in enumerate(header)) + "</tr></thead>", "<tbody>"]
    for r in rows:
        cells = [f'<td class="unit">{e(c)}</td>' if i == unit_col else f"<td>{e(c)}</td>" for i, c in enumerate(r)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _value(v) -> str:
    if isinstance(v, float):
        return fmt(v) if v != v or abs(v) >= 1000 else repr(v)
    return "-" if v is None else json.dumps(v) if isinstance(v, (list, str)) else str(v)


def html_report(*, title: str, intro: str, header: list[str], rows: list[list[str]], readings: list[str],
                plots: list[Path], manifest: dict, differences: tuple[list[str], list[tuple[str, list]]] | None = None,
                scenario_toml: dict[str, str] | None = None) -> str:
    """The report page. ``header``/``rows``: the headline table (second column the unit);
    ``plots``: PNG files, embedded as base64; ``differences``: (scenario labels, rows of
    :func:`scenario_differences`); ``scenario_toml``: resolved scenarios, shown folded."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>", f'<p class="intro">{e(intro)}</p>',
             "<h2>Headline</h2>", _table_html(header, rows, unit_col=1)]
    if readings:
        parts += ["<h2>Reading</h2>", '<ul class="readings">', *(f"<li>{e(r)}</li>" for r in readings), "</ul>"]
    if plots:
        parts += ["<h2>Plots</h2>", '<div class="plots">']
        for p in plots:
            data = base64.b64encode(Path(p).read_bytes()).decode("ascii")
            caption = PLOT_CAPTIONS.get(Path(p).name, Path(p).stem.replace("_", " "))
            parts.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{e(caption)} <code>({e(Path(p).name)})</code></figcaption></figure>")
        parts.append("</div>")
    if differences is not None:
        labels, diff_rows = differences
        parts.append("<h2>How the scenarios differ</h2>")
        if diff_rows:
            parts += ["<p>Every key whose resolved value (defaults included) differs between the scenarios.</p>",
                      _table_html(["key", *labels], [[k, *(_value(v) for v in vals)] for k, vals in diff_rows])]
        else:
            parts.append("<p>The resolved scenarios are identical (apart from their names).</p>")
    for name, text in (scenario_toml or {}).items():
        parts.append(f"<details><summary>resolved scenario: {e(name)}</summary><pre>{e(text)}</pre></details>")
    parts += ["<h2>Manifest</h2>", f"<pre>{e(json.dumps(manifest, indent=2, default=str))}</pre>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _pct(v) -> str:
    return "-" if v is None or v != v else f"{100 * v:.1f}%"


def run_readings(summary: dict) -> list[str]:
    """A few plain sentences per platform of a run's summary."""
    lines = []
    for name, s in summary["platforms"].items():
        imps = s.get("impressions_total") or 0
        if imps > 0:
            lines.append(f"{name}: of {fmt(imps)} impressions, {_pct(s['impressions_private'] / imps)} reached followers "
                         f"(private), {_pct(s['impressions_commercial'] / imps)} filled ad slots and "
                         f"{_pct(s['impressions_public'] / imps)} went to strangers (public).")
        lines.append(f"{name}: the top 1% of creators got {_pct(s.get('top1_share'))} of the exposure "
                     f"(exposure Gini {fmt(s.get('exposure_gini'))}).")
        rev = s.get("platform_revenue") or 0
        money = f"{name}: GMV {fmt(s.get('gmv_total'))} yuan, {_pct(s.get('private_share_gmv'))} of it private (platform + WeChat)"
        if rev > 0:
            money += f"; platform revenue {fmt(rev)} yuan, {_pct(s['ad_revenue'] / rev)} of it from ads"
        lines.append(money + ".")
    return lines


def run_report(summary: dict, manifest: dict, plots: list[Path], scenario_toml: dict[str, str]) -> str:
    """``report.html`` of ``trafficsim run``: the headline values per platform with units."""
    names = list(summary["platforms"])
    rows = [[label(k), unit(k), *(fmt_metric(k, summary["platforms"][n].get(k)) for n in names)] for k in RUN_HEADLINE]
    return html_report(
        title=f"Run: {manifest.get('scenario')}",
        intro=f"{manifest.get('steps')} simulated days, seed {manifest.get('seed')}; totals over the run per platform.",
        header=["metric", "unit", *names], rows=rows, readings=run_readings(summary), plots=plots,
        manifest=manifest, scenario_toml=scenario_toml)
