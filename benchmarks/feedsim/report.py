"""The printed report (calibration gate first, then the tables and the goals) and the plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TextIO

import numpy as np

from .metrics import GATE_TOLERANCE, METRICS, Estimate, Metric, Summary, goals

ENGAGEMENT = ("watch_s", "depth", "valid", "long", "complete", "positive", "hate")
NEW_USERS = (
    "new_first_watch_s",
    "convergence",
    "closeness",
    "upload_hour",
    "upload_hour_goal",
    "upload_hour_audience",
    "creator_max",
    "fresh",
)
SYSTEM = ("explore_cost", "page_p50_ms", "page_p95_ms")
PLOTTED = (
    "watch_s",
    "depth",
    "valid",
    "new_first_watch_s",
    "convergence",
    "upload_hour",
    "creator_max",
    "hate",
)


def _cell(estimate: Estimate | None, metric: Metric) -> str:
    if estimate is None or math.isnan(estimate.mean):
        return "-"
    value = f"{estimate.mean * metric.scale:.{metric.digits}f}"
    if math.isnan(estimate.half_width):
        return value
    return f"{value} ±{estimate.half_width * metric.scale:.{metric.digits}f}"


def _table(summary: Summary, keys: tuple[str, ...], stream: TextIO) -> None:
    metrics = [metric for metric in METRICS if metric.key in keys]
    rows = [
        [policy, *(_cell(summary.estimates.get(policy, {}).get(m.key), m) for m in metrics)]
        for policy in summary.policies
    ]
    header = ["policy", *(metric.label for metric in metrics)]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *rows]:
        print(
            "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ),
            file=stream,
        )
    print(file=stream)


def print_report(summary: Summary, *, stream: TextIO) -> None:
    print(
        "\nCalibration gate: uniform-random exposure vs KuaiRand's random-exposure rates "
        f"({summary.gate_impressions:,} impressions over {len(summary.seeds)} seed(s))",
        file=stream,
    )
    for key, (measured, target, ok) in summary.gate.items():
        verdict = "ok" if ok else "OUT"
        print(
            f"  {key:<9} measured {measured * 100:6.2f} %  target {target * 100:5.2f} %"
            f"  ({measured / target - 1:+.0%})  {verdict}",
            file=stream,
        )
    verdict = "PASS" if summary.gate_passed else "FAIL: the results below do not count"
    print(f"  gate (±{GATE_TOLERANCE:.0%} relative): {verdict}\n", file=stream)
    size = summary.size
    print(
        f"Results: mean ±95 % CI over {len(summary.seeds)} seed(s); {size.users} users, "
        f"{size.videos} videos +{size.uploads_per_day}/day, {size.days} days\n",
        file=stream,
    )
    _table(summary, ENGAGEMENT, stream)
    _table(summary, NEW_USERS, stream)
    _table(summary, SYSTEM, stream)
    print(
        "Runtime per policy (all seeds, summed over processes): "
        + ", ".join(f"{p} {s:.0f} s" for p, s in summary.runtime_s.items()),
        file=stream,
    )
    for policy, messages in summary.errors.items():
        for message in messages:
            print(f"  ! {policy}: {message}", file=stream)
    for policy, stats in summary.real.items():
        line = f"  {policy}:"
        if stats.write_ms:
            p50, p95 = np.percentile(stats.write_ms, [50, 95])
            line += f" event writes p50 {p50:.1f} ms, p95 {p95:.1f} ms;"
        if stats.training_ms:
            line += f" {len(stats.training_ms)} vector trainings, max {max(stats.training_ms):.0f} ms;"
        dropped = ", ".join(f"{reason} {count}" for reason, count in stats.dropped.items()) or "none"
        print(
            f"{line} short pages {stats.short_pages}; events dropped by the validator: {dropped}", file=stream
        )
    if "molodets" in summary.estimates:
        print("\nGoals (molodets):", file=stream)
        for goal in goals(summary):
            mark = {True: "met", False: "MISSED", None: "n/a"}[goal.met]
            print(f"  {mark:<7} {goal.text}: {goal.measured}", file=stream)


def plot(summary: Summary, path: Path) -> None:
    """Bars with 95 % CI for the main metrics, and new users' utility by impression."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = {metric.key: metric for metric in METRICS}
    figure, axes = plt.subplots(3, 3, figsize=(15, 12))
    colours = plt.get_cmap("tab10")
    policies = summary.policies
    for axis, key in zip(axes.flat, PLOTTED, strict=False):
        metric = metrics[key]
        means, errors = [], []
        for policy in policies:
            estimate = summary.estimates.get(policy, {}).get(key)
            means.append(np.nan if estimate is None else estimate.mean * metric.scale)
            errors.append(
                0.0
                if estimate is None or math.isnan(estimate.half_width)
                else estimate.half_width * metric.scale
            )
        axis.bar(
            range(len(policies)),
            means,
            yerr=errors,
            capsize=3,
            color=[colours(i) for i in range(len(policies))],
        )
        axis.set_xticks(range(len(policies)), policies, rotation=35, ha="right", fontsize=8)
        axis.set_title(metric.label, fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    curve_axis = axes.flat[-1]
    for index, policy in enumerate(policies):
        curve = summary.curves.get(policy)
        if curve is not None:
            curve_axis.plot(np.arange(1, len(curve) + 1), curve, label=policy, color=colours(index))
    curve_axis.set_title("new users: mean true utility of the k-th impression", fontsize=10)
    curve_axis.set_xlabel("impression")
    curve_axis.legend(fontsize=7)
    curve_axis.grid(alpha=0.3)
    gate = "gate PASS" if summary.gate_passed else "gate FAIL: results do not count"
    figure.suptitle(
        f"feedsim: {summary.size.users} users, {summary.size.videos} videos, {summary.size.days} days, "
        f"{len(summary.seeds)} seed(s); {gate}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
