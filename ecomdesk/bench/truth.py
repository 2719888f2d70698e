"""The truth of a run with faults: the producer ledgers' events, settled against the Kafka topics,
and the job's output (through the data contract) checked against it event by event.

Truth (see `ecomdesk.producer.ledger` for why there is an in-doubt tail):
- an event whose broker acknowledgement is in its ledger is *acknowledged*: it is in Kafka at the
  journaled (topic, partition, offset);
- an event journaled as sent but without an acknowledgement (its producer was killed before the
  ack was journaled, or the delivery report was a failure) is *in doubt*. It is settled by reading
  the topics from the beginning with an independent consumer: it was delivered when its exact
  message bytes are in its topic at an offset no acknowledged event holds (identical copies are
  matched one for one), and was not otherwise;
- events recorded but never handed to the client cannot be in Kafka.

The figure `in Kafka, not in any ledger` (messages of the topics that no truth event accounts for)
must be 0: it would reveal duplicates written by producer retries, or a ledger that missed events.

Then every event of the truth has its Kafka coordinates, and so does every record the job wrote
(raw events and quarantine carry topic, partition, offset), so `compare_events` counts exactly
which were lost (in the truth, not in the job's output), doubled (the same coordinates twice) or
unexpected (output the truth does not have, or valid/invalid on the wrong side).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ecomdesk.data.contract import TOPICS
from ecomdesk.producer.ledger import ACKED, UNSENT, journal_stems, read_journal

KEY = ["topic", "partition", "offset"]


@dataclass
class Truth:
    valid: pd.DataFrame  # ledger columns + partition, offset; event_time, ids as strings (reference.aggregates)
    invalid: pd.DataFrame  # topic, partition, offset, invalid (kind)
    figures: dict = field(default_factory=dict)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_ledgers(ledger: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(acknowledged events, in-doubt events with their message bytes, figures) of every journal."""
    acked_parts, doubt_parts = [], []
    fig: defaultdict[str, int] = defaultdict(int)
    for stem in journal_stems(ledger):
        j = read_journal(stem)
        fig["producer processes"] += 1
        fig["processes killed (no summary)"] += j.summary is None
        ev, acks = j.events, j.acks
        fig["events journaled"] += ev.num_rows
        ok = acks.filter(pc.equal(acks["status"], ACKED))
        unsent = acks.filter(pc.equal(acks["status"], UNSENT))["seq"]
        acked = ev.drop_columns(["value"]).to_pandas().merge(
            ok.select(["seq", "partition", "offset"]).to_pandas(), on="seq", how="inner")
        acked_parts.append(acked.assign(process=j.name))
        rest = ev.filter(pc.invert(pc.or_(pc.is_in(ev["seq"], value_set=ok["seq"]),
                                          pc.is_in(ev["seq"], value_set=unsent))))
        fig["never handed to the client"] += len(unsent)
        doubt_parts.append(rest.to_pandas().assign(process=j.name))
    acked = pd.concat(acked_parts, ignore_index=True) if acked_parts else pd.DataFrame()
    doubt = pd.concat(doubt_parts, ignore_index=True) if doubt_parts else pd.DataFrame()
    return acked, doubt, dict(fig)


def topic_counts(bootstrap: str, prefix: str = "", security: dict | None = None) -> dict[str, int]:
    """Messages in each topic (high - low watermark of every partition).
    `security`: ecomdesk.kafka_client.security_conf of an external cluster."""
    c = Consumer({**(security or {}), "bootstrap.servers": bootstrap, "group.id": f"ecomdesk-truth-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "log_level": 3})
    try:
        md = c.list_topics(timeout=30)
        counts = {}
        for t in TOPICS:
            counts[t] = 0
            for p in md.topics[prefix + t].partitions:
                low, high = c.get_watermark_offsets(TopicPartition(prefix + t, p), timeout=30)
                counts[t] += high - low
        return counts
    finally:
        c.close()


def scan_topics(bootstrap: str, wanted: dict[str, set[bytes]], prefix: str = "", timeout: float = 300.0,
                security: dict | None = None
                ) -> tuple[dict[tuple[str, bytes], list[tuple[int, int]]], dict[str, int]]:
    """Read every message of the topics once: where each wanted message value is, and how many
    messages each topic holds."""
    c = Consumer({**(security or {}), "bootstrap.servers": bootstrap, "group.id": f"ecomdesk-truth-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
    try:
        md = c.list_topics(timeout=30)
        parts, ends, counts = [], {}, {}
        for t in TOPICS:
            counts[t] = 0
            for p in md.topics[prefix + t].partitions:
                tp = TopicPartition(prefix + t, p)
                low, high = c.get_watermark_offsets(tp, timeout=30)
                counts[t] += high - low
                if high > low:
                    ends[(prefix + t, p)] = high
                    parts.append(TopicPartition(prefix + t, p, OFFSET_BEGINNING))
        found: dict[tuple[str, bytes], list[tuple[int, int]]] = defaultdict(list)
        if parts:
            c.assign(parts)
        left = dict(ends)
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            for m in c.consume(10000, timeout=1.0):
                if m.error():
                    continue
                full, part, off, v = m.topic(), m.partition(), m.offset(), m.value()
                assert full is not None and part is not None and off is not None  # set when no error
                topic = full[len(prefix):]
                if v is not None and v in wanted.get(topic, ()):
                    found[(topic, v)].append((part, off))
                key = (full, part)
                if key in left and off >= left[key] - 1:
                    del left[key]
        if left:
            raise RuntimeError(f"could not read the topics to their end in {timeout:.0f} s: {sorted(left)}")
        return dict(found), counts
    finally:
        c.close()


def build_truth(ledger: Path, bootstrap: str, prefix: str = "", security: dict | None = None) -> Truth:
    t0 = time.monotonic()
    acked, doubt, fig = read_ledgers(ledger)
    _log(f"ledger: {fig.get('producer processes', 0)} journals, {len(acked):,d} acknowledged, "
         f"{len(doubt):,d} in doubt ({time.monotonic() - t0:.1f} s)")
    wanted: dict[str, set[bytes]] = defaultdict(set)
    for topic, value in zip(doubt.get("topic", []), doubt.get("value", []), strict=True):
        wanted[topic].add(value)
    found, counts = scan_topics(bootstrap, wanted, prefix, security=security)
    taken = set(zip(acked["topic"], acked["partition"], acked["offset"], strict=True)) if len(acked) else set()
    fig["acknowledged twice at one offset"] = len(acked) - len(taken)
    settled = []
    if len(doubt):
        doubt = doubt.sort_values(["process", "seq"]).reset_index(drop=True)
        # pandas-stubs type the group keys as Hashable; with two columns each is a pair
        for (topic, value), rows in doubt.groupby(["topic", "value"], sort=False).groups.items():  # type: ignore[misc]
            copies = [(p, o) for p, o in found.get((topic, value), []) if (topic, p, o) not in taken]
            for idx, (p, o) in zip(rows, copies, strict=False):
                settled.append((idx, p, o))
                taken.add((topic, p, o))
    fig["in doubt"] = len(doubt)
    fig["in doubt, found in Kafka"] = len(settled)
    fig["in doubt, not in Kafka"] = len(doubt) - len(settled)
    if settled:
        rows_at, partitions, offsets = zip(*settled, strict=True)
        got = doubt.loc[list(rows_at)].drop(columns=["value"]).assign(partition=list(partitions),
                                                                      offset=list(offsets))
        events = pd.concat([acked, got], ignore_index=True)
    else:
        events = acked
    fig["in Kafka"] = sum(counts.values())
    fig["in Kafka, not in any ledger"] = fig["in Kafka"] - len(events)
    is_bad = events["invalid"].notna() if len(events) else pd.Series([], dtype=bool)
    valid = events[~is_bad].reset_index(drop=True)
    invalid = events[is_bad].reset_index(drop=True)
    fig["acknowledged valid"] = int(acked["invalid"].isna().sum()) if len(acked) else 0
    fig["acknowledged invalid"] = len(acked) - fig["acknowledged valid"]
    fig["truth valid"] = len(valid)
    fig["truth invalid"] = len(invalid)
    valid = valid.assign(user_id=valid.user_id.astype(str), product_id=valid.product_id.astype(str),
                         event_time=pd.to_datetime(valid.timestamp, utc=True))
    _log(f"truth settled against Kafka in {time.monotonic() - t0:.1f} s: {fig}")
    return Truth(valid, invalid[[*KEY, "invalid"]], fig)


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"topic": df["topic"].astype(str), "partition": df["partition"].astype("int64"),
                         "offset": df["offset"].astype("int64")})


def compare_events(truth: Truth, raw: pd.DataFrame, quarantine: pd.DataFrame, prefix: str = "") -> dict:
    """Per Kafka coordinates: what the job wrote against the truth (see the module doc)."""
    out_valid, out_bad = _keys(raw), _keys(quarantine)
    if prefix:
        out_valid["topic"] = out_valid.topic.str.removeprefix(prefix)
        out_bad["topic"] = out_bad.topic.str.removeprefix(prefix)
    out = pd.concat([out_valid.assign(side="valid"), out_bad.assign(side="invalid")], ignore_index=True)
    want = pd.concat([_keys(truth.valid).assign(want="valid"), _keys(truth.invalid).assign(want="invalid")],
                     ignore_index=True)
    copies = out.groupby(KEY).size()
    doubled = int((copies - 1).sum())
    first = out.drop_duplicates(KEY)
    m = want.merge(first, on=KEY, how="outer", indicator=True)
    lost = m[m["_merge"] == "left_only"]
    unexpected = m[m["_merge"] == "right_only"]
    wrong_side = m[(m["_merge"] == "both") & (m["want"] != m["side"])]
    return {
        "counted valid": len(out_valid), "counted invalid": len(out_bad),
        "lost": len(lost), "lost valid": int((lost["want"] == "valid").sum()),
        "doubled": doubled, "unexpected": len(unexpected), "wrong side": len(wrong_side),
        "lost sample": lost[KEY].head(5).to_dict("records"),
        "unexpected sample": unexpected[KEY].head(5).to_dict("records"),
    }
