"""The reports' images: PNG bytes drawn with matplotlib's object interface (no pyplot state,
no display), each with a title, labelled axes and units. The numbers behind each image are
printed beside it by the page that shows it.

Titles and axis labels carry both languages ("Vietnamese / English").
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from needs_model.modelling.promotion import gap_is_own

WIDTH, HEIGHT, DPI = 6.4, 4.0, 100


def _figure(height: float = HEIGHT) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    return fig


def _title(ax: Any, text: str) -> None:
    ax.set_title(text, fontsize=9)


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    # No software or date stamp: the same data draws the same bytes.
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def calibration(curve: Sequence[dict[str, Any]]) -> bytes:
    """Observed rate against mean predicted probability per decile, with the diagonal."""
    fig = _figure()
    ax = fig.add_subplot()
    predicted = [c["predicted"] for c in curve]
    observed = [c["observed"] for c in curve]
    top = max([*predicted, *observed, 0.01]) * 1.05
    ax.plot([0, top], [0, top], color="#999", linestyle="--", label="hiệu chuẩn hoàn hảo / perfect")
    ax.plot(predicted, observed, marker="o", color="#1f5fa8", label="mô hình / model")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Xác suất dự báo trung bình / mean predicted probability")
    ax.set_ylabel("Tỷ lệ thực tế / observed rate")
    _title(ax, "Hiệu chuẩn theo thập phân vị / calibration by decile")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def fairness(groups: Sequence[dict[str, Any]], max_gap: float) -> bytes:
    """Each judged group's calibration gap (mean predicted − observed) with its 95 % interval,
    and the gate's band of ± `max_gap`; hollow where the gap is not beyond doubt the group's
    own (`promotion.gap_is_own`)."""
    judged = [g for g in groups if g.get("calibration_gap_ci") and not g["too_small_to_judge"]]
    fig = _figure(max(2.4, 0.32 * len(judged) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(judged))
    gaps = np.array([g["mean_predicted"] - g["observed_rate"] for g in judged])
    low = np.array([g["calibration_gap_ci"][0] for g in judged])
    high = np.array([g["calibration_gap_ci"][1] for g in judged])
    own = np.array([gap_is_own(g) for g in judged], bool)
    ax.axvspan(-max_gap, max_gap, color="#e8f1e4", label=f"± {max_gap} (cổng / gate)")
    ax.axvline(0, color="#777", linewidth=0.8)
    ax.errorbar(gaps, y, xerr=[gaps - low, high - gaps], fmt="none", ecolor="#1f5fa8", capsize=3)
    ax.plot(gaps[own], y[own], "o", color="#1f5fa8", label="riêng nhóm / the group's own")
    ax.plot(gaps[~own], y[~own], "o", mfc="white", color="#1f5fa8", label="chung / shared")
    ax.set_yticks(y, [f"{g['attribute']}={g['group']}" for g in judged], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Chênh lệch hiệu chuẩn / calibration gap (predicted − observed)")
    _title(ax, "Công bằng theo nhóm, KTC 95% / fairness by group, 95% CI")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def importance(names: Sequence[str], mean_abs: Sequence[float]) -> bytes:
    """Mean |SHAP| per feature, largest on top."""
    fig = _figure(max(2.4, 0.3 * len(names) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, mean_abs, color="#1f5fa8")
    ax.set_yticks(y, list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Trung bình |SHAP| (đơn vị log-odds) / mean |SHAP| (log-odds)")
    _title(ax, "Mức ảnh hưởng của đặc trưng / feature importance")
    return _png(fig)


def beeswarm(
    names: Sequence[str], contributions: np.ndarray, values: np.ndarray, seed: int = 0
) -> bytes:
    """One row per feature: each person's contribution (x), coloured by the feature's value
    (its rank among the shown rows: low blue, high red; missing grey)."""
    from matplotlib import colormaps

    fig = _figure(max(2.8, 0.42 * len(names) + 1.4))
    ax = fig.add_subplot()
    rng = np.random.default_rng(seed)
    cmap = colormaps["coolwarm"]
    for row, _ in enumerate(names):
        x = contributions[:, row]
        v = values[:, row].astype(float)
        known = ~np.isnan(v)
        colour = np.full((len(v), 4), (0.6, 0.6, 0.6, 0.6))
        if known.any():
            ranks = np.argsort(np.argsort(v[known])) / max(known.sum() - 1, 1)
            colour[known] = cmap(ranks)
        jitter = rng.uniform(-0.3, 0.3, len(x))
        ax.scatter(x, row + jitter, c=colour, s=6, linewidths=0)
    ax.axvline(0, color="#777", linewidth=0.8)
    ax.set_yticks(np.arange(len(names)), list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Đóng góp SHAP (log-odds) / SHAP contribution (log-odds)")
    _title(ax, "Tóm tắt SHAP: xanh = giá trị thấp, đỏ = cao / blue low, red high")
    return _png(fig)


def dependence(name: str, unit: str, values: np.ndarray, contributions: np.ndarray) -> bytes:
    """A feature's value (x) against its contribution (y), one dot per person."""
    fig = _figure()
    ax = fig.add_subplot()
    known = ~np.isnan(values.astype(float))
    ax.scatter(values[known], contributions[known], s=6, color="#1f5fa8", alpha=0.5)
    ax.axhline(0, color="#777", linewidth=0.8)
    ax.set_xlabel(f"{name} ({unit})" if unit else name)
    ax.set_ylabel("Đóng góp SHAP (log-odds) / SHAP (log-odds)")
    _title(ax, f"Phụ thuộc / dependence: {name}")
    return _png(fig)


def waterfall(
    base: float, steps: Sequence[tuple[str, float]], probability_of: Any, rest: float = 0.0
) -> bytes:
    """From the model's base value through each contribution (and the rest together) to
    this person's margin; `probability_of(margin)` labels the ends with probabilities."""
    labels = ["giá trị nền / base", *[s[0] for s in steps]]
    deltas = [s[1] for s in steps]
    if rest:
        labels.append("các đặc trưng khác / other features")
        deltas.append(rest)
    fig = _figure(max(3.0, 0.38 * len(labels) + 1.4))
    ax = fig.add_subplot()
    position = base
    ax.barh(0, base, color="#bbbbbb")
    for i, delta in enumerate(deltas, start=1):
        ax.barh(i, delta, left=position, color="#c0392b" if delta > 0 else "#1f5fa8")
        position += delta
    ax.axvline(position, color="#333", linestyle="--", linewidth=0.8)
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Log-odds (đơn vị của mô hình / the model's margin)")
    _title(
        ax,
        f"Từ {probability_of(base):.1%} đến {probability_of(position):.1%} / "
        f"from {probability_of(base):.1%} to {probability_of(position):.1%}",
    )
    return _png(fig)
