"""The realistic shop: users in sessions that browse one category, cart some products, buy some.

A session views a few products of one category (popular ones more often), in a carting session
some viewed products go into the cart right after their view, and in a buying session some of those
are bought at the end, so a purchase always follows its cart and its view. A few percent of
sessions buy, as real shops report. Sessions are drawn in blocks with numpy (the producer sends
hundreds of thousands of events a second) and interleaved, about `concurrent` at a time, so that a
session's events stay minutes apart at most even at a low rate (within the 20-minute funnel window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SESSIONS_PER_BLOCK = 1024
VIEW, CART, BUY = 0, 1, 2  # the generator's event-type order: page_view, add_to_cart, purchase


@dataclass(frozen=True)
class Sessions:
    views: float = 5.0  # mean product views per session (at least one)
    cart_share: float = 0.10  # sessions that add something to the cart
    buy_share: float = 0.35  # of the carting sessions, those that buy: 3.5 % of all sessions
    cart_pick: float = 0.4  # in a carting session, each viewed product's chance to be carted (>= 1 is)
    buy_pick: float = 0.6  # in a buying session, each carted product's chance to be bought (>= 1 is)
    concurrent: int = 16  # sessions interleaved at a time

    def __post_init__(self) -> None:
        shares = (self.cart_share, self.buy_share, self.cart_pick, self.buy_pick)
        if self.views < 1 or self.concurrent < 1 or not all(0 <= s <= 1 for s in shares):
            raise ValueError("invalid sessions: views and concurrent must be >= 1, shares within 0..1")


def catalog_prices(products: int, min_cents: int, max_cents: int) -> np.ndarray:
    """One price per product (log-uniform), the same for every seed: the shop's price list."""
    draw = np.random.default_rng(0).random(products)
    return np.round(np.exp(np.log(min_cents) + draw * np.log(max_cents / min_cents))).astype(np.int64)


def session_block(s: Sessions, users: int, categories: int, products: int, stores: int, locations: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The events of SESSIONS_PER_BLOCK sessions, interleaved: user, product (catalog index),
    etype, store, loc. Product i belongs to category i % categories."""
    n = SESSIONS_PER_BLOCK
    user = rng.integers(1, users + 1, n)
    category = rng.integers(0, categories, n)
    store = rng.integers(0, stores, n)
    loc = rng.integers(0, locations, n)
    length = 1 + rng.poisson(s.views - 1, n)
    carting = rng.random(n) < s.cart_share
    buying = carting & (rng.random(n) < s.buy_share)

    session = np.repeat(np.arange(n), length)  # one row per view
    pos = np.arange(len(session)) - np.repeat(np.cumsum(length) - length, length)
    last = pos == length[session] - 1
    in_category = (products - category[session] + categories - 1) // categories  # products of the category
    rank = (in_category * rng.random(len(session)) ** 2).astype(np.int64)  # popular (low rank) first
    product = category[session] + categories * rank
    carted = carting[session] & ((rng.random(len(session)) < s.cart_pick) | last)
    bought = buying[session] & carted & ((rng.random(len(session)) < s.buy_pick) | last)

    # each session in order: view, its cart if carted, ..., then the purchases (order key within it)
    sess = np.concatenate([session, session[carted], session[bought]])
    key = np.concatenate([2 * pos, 2 * pos[carted] + 1, 2 * length[session[bought]] + pos[bought]])
    etype = np.concatenate([np.full(len(session), VIEW), np.full(carted.sum(), CART), np.full(bought.sum(), BUY)])
    prod = np.concatenate([product, product[carted], product[bought]])
    order = np.lexsort((key, sess))
    sess, etype, prod = sess[order], etype[order], prod[order]
    size = np.bincount(sess, minlength=n)
    step = np.arange(len(sess)) - np.repeat(np.cumsum(size) - size, size)  # index within the session
    # session k starts when the sessions before it have had 1/concurrent of their events: about
    # `concurrent` sessions run at once, each event one step after the one before in its session
    start = (np.cumsum(size) - size) / s.concurrent
    clock = start[sess] + step + rng.random(len(sess)) * 0.5
    mixed = np.argsort(clock, kind="stable")
    return {"user": user[sess][mixed], "product": prod[mixed], "etype": etype[mixed],
            "store": store[sess][mixed], "loc": loc[sess][mixed]}
