"""Run plots (PNG). Each function takes the run's tables and a path, draws one figure.

A table is a pandas DataFrame (a notebook's ``model.metrics_frame()``) or its columns as
a dict (the run record's plot processes, io/plot_workers.py: they never import pandas,
~0.4 s of CPU that made ``trafficsim run`` wait for its plots; issue #17). The plots read
numpy columns either way (:func:`_columns`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..observation.inequality import lorenz  # noqa: E402
from ..state.vocabulary import DOMAINS  # noqa: E402

DOMAIN_COLORS = {"public": "#4C72B0", "commercial": "#DD8452", "private": "#55A868"}


DPI = 110
# zlib's fastest level for the PNGs: the same pixels as the default level 6 in ~0.7x of
# the encoding time (~15% of a record plot's drawing), files ~2-6% larger
PNG = {"compress_level": 1}


def save(fig, path: Path) -> None:
    """Write a finished figure and free it: as PNG (zlib level ``PNG``), or in the format
    ``path``'s suffix names (matplotlib's: .pdf, .svg, ...). A figure from
    :func:`_new_figure` keeps its fixed margins and is drawn once; any other is laid out
    by ``tight_layout`` first."""
    if getattr(fig, "_fixed_layout", False):
        for ax in fig.axes:  # the title sits at the top of its axes (no search for what is above)
            if ax.get_title():
                ax.set_title(ax.get_title(), y=1.0)
    else:
        fig.tight_layout()
    # no layout engine left on the figure: else savefig lays it out (draws it) once more first
    fig.set_layout_engine(None)
    # (the encoder's settings only for PNG: matplotlib's PDF and SVG writers refuse pil_kwargs)
    fig.savefig(path, dpi=DPI, **({"pil_kwargs": PNG} if Path(path).suffix.lower() in ("", ".png") else {}))
    plt.close(fig)


# The run record's figures: size (inches), panels and fixed margins (inches; see _figure),
# by plot; ``n``: the number of per-platform panels.
FIGURES = {
    "domain_shares": lambda n: dict(width=5.0 * n, height=3.6, cols=n, left=0.8),
    "gmv_by_domain": lambda n: dict(width=5.0 * n, height=3.6, cols=n),
    "lorenz_curves": lambda n: dict(width=4.8, height=4.4, left=0.8),
    "fan_tiers": lambda n: dict(width=6, height=3.6),
    "cac_over_time": lambda n: dict(width=6, height=3.6, right=0.9),
    "group_size": lambda n: dict(width=6, height=3.6),
    "merchant_roi": lambda n: dict(width=6, height=3.6, left=0.85, bottom=0.8),
    "year_dynamics": lambda n: dict(width=11, height=7, rows=2, cols=2, left=0.95, right=0.9, wgap=1.5, hgap=0.8),
    "ecosystem": lambda n: dict(width=12, height=10, rows=3, cols=2, left=0.95, right=0.9, wgap=1.5, hgap=0.8),
}
# the panels (index in the figure's axes, row by row) that always get a second y axis
TWINS = {"cac_over_time": (0,), "year_dynamics": (2, 3), "ecosystem": (0, 5)}
_PREPARED: dict[tuple, tuple] = {}  # figures made ahead by prepare(), taken by _figure(); key: name, shape
TICKS_AHEAD = 10  # tick marks made ahead on each axis (a run's plots use 6-9)


def _new_figure(width: float, height: float, rows: int = 1, cols: int = 1, *, left: float = 1.0,
                right: float = 0.2, bottom: float = 0.6, top: float = 0.36, wgap: float | None = None,
                hgap: float = 0.95):
    """A figure of ``rows`` x ``cols`` panels whose margins and gaps are fixed in inches
    (room for tick labels of up to 6 digits and the axis labels), so that drawing it takes
    one pass instead of ``tight_layout``'s measuring pass and savefig's two (issue 17:
    the plots were the longest part of ``trafficsim run``). ``wgap``: the horizontal gap
    between panels (default: ``left + right``). Returns ``(fig, axes)``, axes 2-D."""
    wgap = left + right if wgap is None else wgap
    panel_w = (width - left - right - wgap * (cols - 1)) / cols
    panel_h = (height - bottom - top - hgap * (rows - 1)) / rows
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
        wspace=wgap / panel_w, hspace=hgap / panel_h))
    fig._fixed_layout = True
    return fig, axes


def _figure(name: str, n: int = 1):
    """The figure of plot ``name`` (``n`` per-platform panels): the one :func:`prepare`
    made for it, if any, else a new one."""
    shape = FIGURES[name](n)
    made = _PREPARED.pop((name, *shape.items()), None)
    return made if made is not None else _new_figure(**shape)


def prepare(names, n: int = 1) -> None:
    """Make the figures of plots ``names`` ahead, with their axes, second y axes (``TWINS``)
    and tick marks (a third of a plot's drawing time), for the next call of each plot: the plot process does this
    while the run simulates (io/plot_workers.py). The PNGs are the same byte for byte."""
    for name in names:
        shape = FIGURES[name](n)
        fig, axes = _new_figure(**shape)
        for ax in axes.flat:
            ax.xaxis.get_major_ticks(TICKS_AHEAD)
            ax.yaxis.get_major_ticks(TICKS_AHEAD)
        for k in TWINS.get(name, ()):
            ax = axes.flat[k]
            ax._prepared_twin = ax.twinx()
            ax._prepared_twin.yaxis.get_major_ticks(TICKS_AHEAD)
        _PREPARED[(name, *shape.items())] = (fig, axes)


def _columns(table) -> dict[str, np.ndarray]:
    """A plot's table as numpy columns: a DataFrame's, a dict of columns' (each made an
    array) or a list of rows' (a key a row lacks is NaN there, as in ``pd.DataFrame(rows)``)."""
    if isinstance(table, dict):
        return {k: np.asarray(v) for k, v in table.items()}
    if isinstance(table, list):
        names = dict.fromkeys(k for row in table for k in row)
        return {k: np.array([row.get(k, np.nan) for row in table]) for k in names}
    return {k: table[k].to_numpy() for k in table.columns}


class _Rows:
    """The rows of a table (:func:`_columns`) where ``mask`` holds: each column taken
    when first read; ``in`` tells whether the table has a column."""

    def __init__(self, columns: dict, mask: np.ndarray):
        self._columns, self._mask, self._taken = columns, mask, {}

    def __contains__(self, name) -> bool:
        return name in self._columns

    def __getitem__(self, name) -> np.ndarray:
        if name not in self._taken:
            self._taken[name] = self._columns[name][self._mask]
        return self._taken[name]


def _platform(columns: dict, name: str) -> _Rows:
    """The rows of platform ``name`` (``"all"``: the totals)."""
    return _Rows(columns, columns["platform"] == name)


def _platforms(columns: dict) -> list[str]:
    """The platforms of a metrics table in order of first appearance, ``"all"`` left out."""
    return [p for p in dict.fromkeys(columns["platform"].tolist()) if p != "all"]


def _no_zero(x: np.ndarray) -> np.ndarray:
    """``x`` as floats with its zeros NaN (a ratio's denominator: no value where it is 0)."""
    return np.where(x == 0, np.nan, x.astype(np.float64))


def _window_sums(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The sum of the known (not NaN) values among the last ``window`` up to each row, and
    how many there are (float64, int64)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x, np.zeros(0, dtype=np.int64)
    known = ~np.isnan(x)
    view = np.lib.stride_tricks.sliding_window_view
    sums = view(np.concatenate([np.zeros(window - 1), np.where(known, x, 0.0)]), window).sum(axis=1)
    n = view(np.concatenate([np.zeros(window - 1, dtype=np.int64), known.astype(np.int64)]), window).sum(axis=1)
    return sums, n


def _rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """The sum of the last ``window`` values up to each row, NaN left out, NaN where all
    are (pandas' ``rolling(window, min_periods=1).sum()``)."""
    sums, n = _window_sums(x, window)
    return np.where(n > 0, sums, np.nan)


def _rolling(x: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values up to each row, NaN left out (pandas'
    ``rolling(window, min_periods=1).mean()``)."""
    sums, n = _window_sums(x, window)
    return np.where(n > 0, sums / np.maximum(n, 1), np.nan)


def _positive_sum(x: np.ndarray) -> bool:
    """Whether the column's values (NaN left out) add up to more than 0."""
    return bool(np.nansum(x) > 0)


def _twin(ax):
    """``ax.twinx()``, or the twin :func:`prepare` made for ``ax``."""
    twin = ax.__dict__.pop("_prepared_twin", None)
    return twin if twin is not None else ax.twinx()


def _platform_panels(metrics: dict, name: str):
    """One panel per platform (or the ``all`` rows when there is none): (fig, [(ax, name)])."""
    names = _platforms(metrics) or ["all"]
    fig, axes = _figure(name, len(names))
    return fig, list(zip(axes[0], names))


def domain_shares(metrics, path: Path) -> None:
    """Share of impressions by domain over time, one panel per platform."""
    metrics = _columns(metrics)
    fig, panels = _platform_panels(metrics, "domain_shares")
    for ax, name in panels:
        df = _platform(metrics, name)
        total = _no_zero(df["impressions_total"])
        shares = [df[f"impressions_{d}"] / total for d in DOMAINS]
        ax.stackplot(df["step"], *shares, labels=DOMAINS, colors=[DOMAIN_COLORS[d] for d in DOMAINS])
        ax.set(title=f"{name}: impressions by domain", xlabel="day", ylabel="share", ylim=(0, 1))
    panels[0][0].legend(loc="lower left", fontsize=8)
    save(fig, path)


def lorenz_curves(exposure: dict[str, np.ndarray], path: Path) -> None:
    """Lorenz curves of creator exposure, one line per platform (or scenario)."""
    fig, ((ax,),) = _figure("lorenz_curves")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for name, x in exposure.items():
        px, py = lorenz(x)
        ax.plot(px, py, label=name)
    ax.set(title="Creator exposure (Lorenz)", xlabel="share of creators (least exposed first)", ylabel="share of impressions")
    ax.legend(loc="upper left", fontsize=8)  # a Lorenz curve stays below the diagonal: that corner is always free
    # (loc="best" scanned every point of every curve: one a creator, 10,000+ at 1 M users)
    save(fig, path)


def fan_tiers(metrics, path: Path) -> None:
    """Follow edges by fan tier over time."""
    df = _platform(_columns(metrics), "all")
    fig, ((ax,),) = _figure("fan_tiers")
    for tier in ("potential", "passerby", "liking", "true"):
        ax.plot(df["step"], df[f"fans_{tier}"], label=tier)
    ax.set(title="Fans by tier", xlabel="day", ylabel="follow edges")
    ax.legend(fontsize=8)
    save(fig, path)


GMV_COLORS = {"gmv_public": "#4C72B0", "gmv_commercial": "#DD8452", "gmv_private_platform": "#55A868",
              "gmv_private_wechat": "#8172B3"}


def gmv_by_domain(metrics, path: Path) -> None:
    """Daily GMV by domain (public, commercial, private on the platform, private on WeChat)."""
    metrics = _columns(metrics)
    fig, panels = _platform_panels(metrics, "gmv_by_domain")
    for ax, name in panels:
        df = _platform(metrics, name)
        ax.stackplot(df["step"], *[df[c] for c in GMV_COLORS], labels=[c[4:] for c in GMV_COLORS],
                     colors=list(GMV_COLORS.values()))
        ax.set(title=f"{name}: GMV by domain", xlabel="day", ylabel="yuan per day")
    panels[0][0].legend(loc="upper left", fontsize=7)
    save(fig, path)


def cac_over_time(metrics, path: Path, window: int = 7) -> None:
    """Customer-acquisition cost over a rolling window: ad-attributed (ad spend / new buyers
    whose first order came from an ad; solid) and blended (ad spend / all new buyers;
    dashed), with the effective CPM (dotted)."""
    metrics = _columns(metrics)
    fig, ((ax,),) = _figure("cac_over_time")
    ax2 = _twin(ax)
    for k, name in enumerate(_platforms(metrics)):
        df, color = _platform(metrics, name), f"C{k}"
        spend = _rolling_sum(df["ad_revenue"], window)
        for column, ls, kind in (("new_buyers_ad", "-", "ad-attributed"), ("new_buyers", "--", "blended")):
            new = _no_zero(_rolling_sum(df[column], window))
            ax.plot(df["step"], spend / new, ls=ls, color=color, label=f"{name} CAC, {kind}")
        ax2.plot(df["step"], df["cpm_effective"], ls=":", color=color, label=f"{name} CPM")
    ax.set(title=f"Customer-acquisition cost ({window}-day window)", xlabel="day", ylabel="yuan per new buyer")
    ax2.set_ylabel("effective CPM (dotted)")
    ax.legend(fontsize=7, loc="upper left")
    save(fig, path)


def group_size(metrics, path: Path) -> None:
    """Fan-group members and WeChat contacts over time."""
    metrics = _columns(metrics)
    fig, ((ax,),) = _figure("group_size")
    for name in _platforms(metrics):
        df = _platform(metrics, name)
        ax.plot(df["step"], df["group_members"], label=f"{name} group members")
        if len(df["wechat_contacts"]) and np.nanmax(df["wechat_contacts"]) > 0:
            ax.plot(df["step"], df["wechat_contacts"], ls="--", label=f"{name} → WeChat contacts")
    ax.set(title="Private channels", xlabel="day", ylabel="people")
    ax.legend(fontsize=7)
    save(fig, path)


def merchant_roi(merchants, path: Path) -> None:
    """Merchant ROI (profit / (ad spend + commission + creator cut)) by strategy: one dot per merchant, bar = mean."""
    merchants = _columns(merchants)
    fig, ((ax,),) = _figure("merchant_roi")
    strategy = merchants.get("strategy", np.zeros(0, dtype=object))
    strategies = sorted(set(strategy.tolist()))
    for k, s in enumerate(strategies):
        roi = merchants["roi"][strategy == s].astype(np.float64)
        roi = roi[~np.isnan(roi)]
        if len(roi):
            ax.bar(k, roi.mean(), color="#cccccc")
            ax.scatter(np.full(len(roi), k) + np.linspace(-0.15, 0.15, len(roi)), roi, s=12, color="#4C72B0", zorder=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(strategies)), strategies, rotation=20, fontsize=8)
    ax.set(title="Merchant ROI by strategy", ylabel="profit / cost")
    save(fig, path)


MIX_CHANNELS = ("ads_broad", "ads_fans", "ads_lookalike", "groups", "wechat")


def year_dynamics(metrics, path: Path | None, window: int = 7):
    """A run over time, four panels (``window``-day rolling means): the merchants' channel
    mix (effort shares, the ``all`` row: every merchant, those banned on a platform for
    diverting included, whose effort is mostly WeChat; a platform's row has only the
    merchants still selling there), creators and merchants active / entering /
    leaving, ad-attributed CAC with the private share of GMV, and daily active users with
    slots per active user, per platform. A panel whose columns the run does not have says
    so instead of drawing. With ``path`` None the figure is returned (for a notebook)
    instead of saved."""
    metrics = _columns(metrics)
    fig, axes = _figure("year_dynamics")
    (ax_mix, ax_pop), (ax_cac, ax_dau) = axes
    every = _platform(metrics, "all")
    names = _platforms(metrics)
    day = every["step"]

    mix = [f"mix_{c}" for c in MIX_CHANNELS]
    if all(c in every for c in mix):
        ax_mix.stackplot(day, *[_rolling(every[c], window) for c in mix], labels=list(MIX_CHANNELS))
        ax_mix.legend(loc="lower left", fontsize=7)
        ax_mix.set(ylim=(0, 1))
    else:
        _missing(ax_mix, "channel mix")
    ax_mix.set(title="Merchants' channel mix (every merchant, banned ones included)", xlabel="day",
               ylabel="share of effort (yuan)")

    if "creators_active" in every:
        ax_pop.plot(day, every["creators_active"], color="C0", label="creators active")
        ax_pop.set_ylabel("creators active")
        ax2 = ax_pop.twinx()
        for column, color, label in (("creators_entered", "C2", "creators entering / day"),
                                     ("creators_exited", "C3", "creators leaving / day"),
                                     ("merchants_entered", "C4", "merchants entering / day"),
                                     ("merchants_exited", "C5", "merchants leaving / day")):
            if column in every:
                ax2.plot(day, _rolling(every[column], window), color=color, ls="--", label=label)
        ax2.set_ylabel(f"per day ({window}-day mean, dashed)")
        handles = ax_pop.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax_pop.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=7)
    else:
        _missing(ax_pop, "creators active / entering / leaving")
    ax_pop.set(title="Creators and merchants in and out", xlabel="day")

    ax_share = _twin(ax_cac)
    for k, name in enumerate(names):
        df, color = _platform(metrics, name), f"C{k}"
        spend = _rolling_sum(df["ad_revenue"], window)
        new = _no_zero(_rolling_sum(df["new_buyers_ad"], window))
        ax_cac.plot(df["step"], spend / new, color=color, label=f"{name} CAC (ad-attributed)")
        ax_share.plot(df["step"], _rolling(df["private_share_gmv"], window), color=color, ls="--",
                      label=f"{name} private share of GMV")
    ax_cac.set(title="Acquisition cost and the private domain", xlabel="day", ylabel="yuan per new buyer (solid)")
    ax_share.set(ylabel="private share of GMV (dashed)", ylim=(0, 1))
    handles = ax_cac.get_legend_handles_labels()[0] + ax_share.get_legend_handles_labels()[0]
    ax_cac.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=7)

    ax_slots = _twin(ax_dau)
    for k, name in enumerate(names):
        df, color = _platform(metrics, name), f"C{k}"
        ax_dau.plot(df["step"], df["active_users"], color=color, label=f"{name} DAU")
        if "slots_per_active" in df:
            ax_slots.plot(df["step"], df["slots_per_active"], color=color, ls="--", label=f"{name} slots per active user")
    ax_dau.set(title="Daily active users and session length", xlabel="day", ylabel="users (solid)")
    ax_slots.set_ylabel("slots per active user (dashed)")
    handles = ax_dau.get_legend_handles_labels()[0] + ax_slots.get_legend_handles_labels()[0]
    ax_dau.legend(handles, [h.get_label() for h in handles], loc="lower left", fontsize=7)
    if path is None:
        return fig
    save(fig, path)
    return None


def _missing(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}: not in this run's metrics", ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


# the adapting knobs a platform may revise (platform/adaptation.py), as metric columns
KNOB_COLUMNS = (("knob_ad_load", "ad load"), ("knob_commission_scale", "commission scale"),
                ("knob_centralization", "centralization"))


def ecosystem(metrics, path: Path | None, window: int = 7):
    """The platforms side by side over a run, six panels, one colour per platform
    (``window``-day rolling means): daily active users with each platform's share of the
    users' time; users and creators on each platform; merchants' ad spend by platform;
    private GMV on each platform against WeChat's (orders from the platform's buyers);
    SMS recalls of shelf platforms with the share that leaks to another shop; the knobs
    adapting platforms revise. A panel whose columns the run does not have, or that no
    platform of the run uses, says so instead of drawing. With ``path`` None the figure
    is returned (for a notebook) instead of saved."""
    metrics = _columns(metrics)
    fig, axes = _figure("ecosystem")
    (ax_dau, ax_pop), (ax_spend, ax_gmv), (ax_recall, ax_knob) = axes
    names = _platforms(metrics)
    per = {name: _platform(metrics, name) for name in names}
    color = {name: f"C{k}" for k, name in enumerate(names)}

    ax_time = _twin(ax_dau)
    for name, df in per.items():
        ax_dau.plot(df["step"], df["active_users"], color=color[name], label=f"{name} DAU")
        if "time_share" in df and _positive_sum(np.abs(df["time_share"])):  # a shelf platform has no feed time
            ax_time.plot(df["step"], _rolling(df["time_share"], window), color=color[name], ls="--",
                         label=f"{name} share of time")
    ax_dau.set(title="Daily active users and share of users' time", xlabel="day", ylabel="users (solid)")
    ax_time.set(ylabel="share of all slots (dashed)", ylim=(0, 1))
    _legend(ax_dau, ax_time, "upper left")

    if all("users_of" in df and "creators_present" in df for df in per.values()) and per:
        ax_c = ax_pop.twinx()
        for name, df in per.items():
            ax_pop.plot(df["step"], df["users_of"], color=color[name], label=f"{name} users")
            if _positive_sum(np.abs(df["creators_present"])):  # a shelf platform has no creator feed
                ax_c.plot(df["step"], df["creators_present"], color=color[name], ls="--", label=f"{name} creators")
        ax_pop.set_ylabel("users of the platform (solid)")
        ax_c.set_ylabel("active creators posting there (dashed)")
        _legend(ax_pop, ax_c, "lower left")
    else:
        _missing(ax_pop, "users and creators per platform")
    ax_pop.set(title="Who is on each platform", xlabel="day")

    for name, df in per.items():
        ax_spend.plot(df["step"], _rolling(df["ad_revenue"], window), color=color[name], label=f"{name} ads")
    every = _platform(metrics, "all")
    if "operating_cost" in every and _positive_sum(np.abs(every["operating_cost"])):
        ax_spend.plot(every["step"], _rolling(every["operating_cost"], window), color="grey", ls=":",
                      label="group pushes, WeChat cards, SMS (all platforms)")
    ax_spend.set(title="Merchants' spend by platform", xlabel="day", ylabel="model yuan per day")
    ax_spend.legend(loc="upper left", fontsize=7)

    for name, df in per.items():
        ax_gmv.plot(df["step"], _rolling(df["gmv_private_platform"], window), color=color[name],
                    label=f"{name} private, on the platform")
        ax_gmv.plot(df["step"], _rolling(df["gmv_private_wechat"], window), color=color[name], ls="--",
                    label=f"{name}'s buyers on WeChat")
    ax_gmv.set(title="Private GMV: on the platform vs WeChat", xlabel="day", ylabel="model yuan per day")
    ax_gmv.legend(loc="upper left", fontsize=7)

    shelves = [name for name, df in per.items() if "recalls" in df and _positive_sum(df["recalls"])]
    if shelves:
        ax_leak = ax_recall.twinx()
        for name in shelves:
            df = per[name]
            ax_recall.plot(df["step"], _rolling(df["recalls"], window), color=color[name], label=f"{name} recalls")
            ax_recall.plot(df["step"], _rolling(df["recall_orders"], window), color=color[name], ls=":",
                           label=f"{name} recall orders")
            leak = _rolling_sum(df["recall_leaks"], window) / _no_zero(_rolling_sum(df["recalls"], window))
            ax_leak.plot(df["step"], leak, color=color[name], ls="--", label=f"{name} share that leaks")
        ax_recall.set_ylabel("per day")
        ax_leak.set(ylabel="share of recalls bought elsewhere (dashed)", ylim=(0, None))
        _legend(ax_recall, ax_leak, "upper left")
    else:
        _missing(ax_recall, "SMS recalls (no shelf platform recalls)")
    ax_recall.set(title="Shelf platform: recalls and their leak", xlabel="day")

    drawn = False
    ax_load = _twin(ax_knob)  # ad load (a share of slots, ~0.1) apart from the scales (~1)
    for name, df in per.items():
        for (column, label), ls in zip(KNOB_COLUMNS, ("-", "--", ":")):
            if column in df and _varies(df[column]):
                ax = ax_load if column == "knob_ad_load" else ax_knob
                ax.plot(df["step"], df[column], color=color[name], ls=ls, label=f"{name} {label}")
                drawn = True
    if drawn:
        ax_knob.set(ylabel="commission scale (dashed), centralization (dotted)")
        ax_load.set(ylabel="ad load (solid)")
        _legend(ax_knob, ax_load, "lower left")
    else:
        _missing(ax_knob, "adapting knobs (no platform revised one)")
    ax_knob.set(title="Knobs the platforms revise", xlabel="day")
    if path is None:
        return fig
    save(fig, path)
    return None


def _varies(x: np.ndarray) -> bool:
    """Whether the column takes two or more values (NaN left out)."""
    x = np.asarray(x, dtype=np.float64)
    return len(np.unique(x[~np.isnan(x)])) > 1


def _legend(ax, twin, loc: str) -> None:
    """One legend for a panel and its twin axis."""
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles, [h.get_label() for h in handles], loc=loc, fontsize=7)
