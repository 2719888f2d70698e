"""`chart_views.ChartShaper`: the charts' data, shaped file by file across versions, equals an
independent pandas computation over the whole current aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pytest

from ecomdesk.data import chart_views, contract
from ecomdesk.testing.contract_data import publish, publish_next, sample_frames


def reference(frames: dict[str, pd.DataFrame], top_n: int, user_sort: str) -> dict:
    """What each chart should draw, computed with plain pandas from whole frames."""
    spm = frames["sales_per_minute"].sort_values("window_start")
    sbp = frames["sales_by_product_per_minute"]
    totals = sbp.groupby("product_id")["revenue"].sum()
    best = sorted(totals.index, key=lambda p: (-totals[p], p))[:chart_views.PRODUCT_LINES]
    wide = sbp.pivot_table(index="window_start", columns="product_id", values="revenue", aggfunc="sum",
                           fill_value=0.0).sort_index()[best]
    users = frames["avg_ticket_per_user"].sort_values([user_sort, "user_id"], ascending=[False, True])
    overall = frames["conversion_overall"].iloc[0]
    return {
        "sales_t": (spm["window_start"].astype("int64") // 10**9).to_numpy(),
        "sales": spm["total_sales"].to_numpy(),
        "orders": spm["total_orders"].to_numpy(),
        "product_t": (pd.DatetimeIndex(wide.index).astype("int64") // 10**9).to_numpy(),
        "product_columns": best,
        "product_values": wide.to_numpy(),
        "users": users["user_id"].head(top_n).tolist(),
        "categories": frames["views_by_category"].sort_values(["views", "category"], ascending=[False, True])[
            "category"].tolist(),
        "products": frames["top_products"].sort_values(["views", "product_id"], ascending=[False, True])[
            "product_id"].head(top_n).tolist(),
        "funnel": [int(overall.viewed), int(overall.carted), int(overall.bought)],
        "step": [1.0, overall.carted / overall.viewed, overall.bought / overall.carted],
        "cart_rate": float(overall.converted / overall.carts),
    }


def assert_views(views: dict, want: dict) -> None:
    sales = views["sales_per_minute"]
    np.testing.assert_array_equal(sales["t"].to_numpy(), want["sales_t"])
    np.testing.assert_allclose(sales["total_sales"], want["sales"])
    np.testing.assert_array_equal(sales["total_orders"], want["orders"])
    wide = views["sales_by_product_per_minute"]
    assert [c for c in wide.columns if c not in ("t", "window_start")] == want["product_columns"]
    np.testing.assert_array_equal(wide["t"].to_numpy(), want["product_t"])
    np.testing.assert_allclose(wide[want["product_columns"]].to_numpy(), want["product_values"])
    assert views["avg_ticket_per_user"]["user_id"].tolist() == want["users"]
    assert views["views_by_category"]["category"].tolist() == want["categories"]
    assert views["top_products"]["product_id"].tolist() == want["products"]
    funnel = views["conversion_funnel"]
    assert funnel["stage"].tolist() == ["Viewed", "Added to cart", "Bought"]
    assert funnel["count"].tolist() == want["funnel"]
    assert funnel["step"].tolist() == pytest.approx(want["step"])
    assert funnel["of_viewed"].tolist() == pytest.approx([1.0, want["step"][1], want["step"][1] * want["step"][2]])
    assert views["cart_conversion_rate"] == pytest.approx(want["cart_rate"])


def _sparse(frames: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Drop most per-product rows: products missing in some minutes and some days."""
    out = dict(frames)
    sbp = frames["sales_by_product_per_minute"]
    out["sales_by_product_per_minute"] = sbp.sample(frac=0.3, random_state=seed).reset_index(drop=True)
    return out


def test_each_version_shaped_file_by_file_equals_the_reference(tmp_path):
    fs = pafs.LocalFileSystem()
    base = str(tmp_path / "ecommerce")
    pub = publish(fs, base, _sparse(sample_frames(days=3, products=9, users=60), seed=1))
    frames = pub.frames
    shaper = chart_views.ChartShaper()
    with contract.CurrentReader(fs, base) as reader:
        for batch_id in range(2, 6):
            parts = reader.read_parts()
            assert_views(shaper.shape(parts, 4, "total_spent").views, reference(frames, 4, "total_spent"))
            # a kept piece per current per-minute file, nothing for files no longer listed
            listed = {f for f, _ in parts["sales_by_product_per_minute"]}
            assert set(shaper._pieces["sales_by_product_per_minute"]) == listed
            kept = dict(shaper._pieces["sales_by_product_per_minute"])
            pub = publish_next(pub, step=batch_id)  # today's parts and the whole tables rewritten
            assert pub.manifest["batch_id"] == batch_id
            frames = pub.frames
            parts = reader.read_parts()
            shaper.shape(parts, 4, "total_spent")
            for path, piece in shaper._pieces["sales_by_product_per_minute"].items():
                if path in kept:  # older days: derived once, reused
                    assert piece is kept[path]
            assert_views(shaper.shape(parts, 4, "total_spent").views, reference(frames, 4, "total_spent"))


def test_whole_frames_and_empty_data(tmp_path):
    frames = _sparse(sample_frames(days=2, products=7, users=25), seed=2)
    assert_views(chart_views.business(frames, 5, "orders").views, reference(frames, 5, "orders"))
    with contract.CurrentReader(pafs.LocalFileSystem(), str(tmp_path / "nothing")) as reader:
        views = chart_views.ChartShaper().shape(reader.read_parts(), 5).views
    assert views["sales_per_minute"].empty and views["sales_by_product_per_minute"].empty
    assert views["conversion_funnel"]["count"].tolist() == [0, 0, 0] and views["cart_conversion_rate"] is None
