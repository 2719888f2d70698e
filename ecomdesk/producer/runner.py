"""The producer's main loop: generate, send, pace, obey control commands, report telemetry.

Delivery reports are served by confluent-kafka in C; only failures reach Python
(`delivery.report.only.error`), so counting costs nothing per event:
in_flight = len(producer) and delivered = sent - failed - in_flight. len() also counts client
error events not yet served, so while the broker is unreachable in_flight may be a few too
high (delivered a few too low, never too high); with the broker up it is exact.

With a ledger every event is journaled before it is handed to the client and every delivery
report reaches Python (a per-message callback carrying the event's number), so the ledger
records the broker's acknowledgement itself (see `ecomdesk.producer.ledger`). To keep the
journal's batches few at low rates, events are then handed over at most every LEDGER_CHUNK
seconds (or once LEDGER_CHUNK_EVENTS are due), i.e. sends are grouped the way linger.ms
groups them anyway.
"""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from confluent_kafka import KafkaError, Producer

from ecomdesk.producer.control import Command
from ecomdesk.producer.events import EVENT_TYPES, Encoder, EventGenerator, EventModel
from ecomdesk.producer.invalid import chosen, corrupt, kind_of
from ecomdesk.producer.ledger import Ledger
from ecomdesk.producer.pacer import Pacer
from ecomdesk.producer.topics import TOPIC_BY_EVENT_TYPE
from ecomdesk.producer.traffic import Traffic
from ecomdesk.telemetry import ProducerReport

# Throughput settings measured with `scripts/bench producer` (docs/BENCHMARKS.md): zstd makes
# the broker's validation cheap, big batches keep requests few; idempotence keeps retries exact.
KAFKA_DEFAULTS = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "zstd",
    "linger.ms": 20,
    "batch.size": 4_000_000,
    "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 1_000_000,
    "client.id": "ecomdesk-producer",
}
POLL_SLICE = 0.05  # longest sleep between looks at commands and the stop flag
LEDGER_CHUNK = 0.05  # with a ledger: seconds between hand-overs of due events (one journal batch each)
LEDGER_CHUNK_EVENTS = 4096  # ... unless this many are due
LOG_EVERY = 5.0  # at most one line per kind of broker trouble in this many seconds


@dataclass
class Settings:
    bootstrap: str
    rate: float = 1000.0  # events/s (the daily average when `daily`); 0 = as fast as possible
    count: int | None = None  # stop after this many events
    duration: float | None = None  # stop after this many seconds
    seed: int | None = None
    invalid_fraction: float = 0.0
    ledger: Path | None = None
    topic_prefix: str = ""
    model: EventModel = field(default_factory=EventModel)
    daily: bool = False  # shape the rate by the hour of day (`ecomdesk.producer.traffic`)
    telemetry_interval: float = 1.0
    flush_timeout: float = 10.0  # on stop: how long to wait for acknowledgements
    kafka: dict = field(default_factory=dict)  # overrides of KAFKA_DEFAULTS


@dataclass
class Totals:
    sent: int = 0
    failed: int = 0
    invalid: int = 0
    per_topic: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TOPIC_BY_EVENT_TYPE.values()})


class ProducerRunner:
    # telemetry: when the last snapshot was taken and the total sent then (set by run)
    _tick_at: float
    _tick_sent: int

    def __init__(
        self,
        settings: Settings,
        emit: Callable[[ProducerReport], None],
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ):
        self.s = settings
        self.emit = emit
        self.log = log
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.totals = Totals()
        self.paused = False
        self.fatal: str | None = None
        self._stop_reason: str | None = None
        self._hurry = False
        self._last_log: dict[str, float] = {}
        self.traffic = Traffic(settings.daily)
        self.clock = time.time  # wall clock for the hour of day and campaigns (tests replace it)
        self.generator = EventGenerator(settings.model, settings.seed)
        self.encoder = Encoder(self.generator)
        self.ledger = Ledger(settings.ledger, self.generator) if settings.ledger else None
        self.topics = [settings.topic_prefix + TOPIC_BY_EVENT_TYPE[e] for e in EVENT_TYPES]
        self._topic_names = [TOPIC_BY_EVENT_TYPE[e] for e in EVENT_TYPES]
        self._seq = 0  # number of the next event in this process (the ledger's seq)
        self._handed_at = float("-inf")
        conf = {**KAFKA_DEFAULTS, **settings.kafka, "bootstrap.servers": settings.bootstrap,
                "delivery.report.only.error": self.ledger is None, "on_delivery": self._on_failure,
                "error_cb": self._on_error, "log.connection.close": False}
        self.producer = Producer(conf)

    # ----- callbacks from librdkafka (run inside poll/flush on this thread) --------------
    def _on_failure(self, err: KafkaError, msg) -> None:
        self.totals.failed += 1
        self._log_limited("delivery", f"delivery failed ({self.totals.failed} so far): {err.str()}")

    def _on_delivery(self, seq: int, err: KafkaError | None, msg) -> None:
        """Every delivery report of an event `seq` when there is a ledger."""
        assert self.ledger is not None  # registered only with a ledger
        if err is None:
            self.ledger.acked(seq, msg.partition(), msg.offset())
            return
        self.ledger.failed(seq, err.str())
        self._on_failure(err, msg)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err.str()
            self.request_stop(f"fatal producer error: {err.str()}")
        self._log_limited(f"error-{err.code()}", f"kafka: {err.str()}")

    def _log_limited(self, key: str, line: str) -> None:
        now = time.monotonic()
        if now - self._last_log.get(key, -LOG_EVERY) >= LOG_EVERY:
            self._last_log[key] = now
            self.log(line)

    # ----- control -----------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Safe from signal handlers and other threads: the loop exits at its next look."""
        if self._stop_reason is None:
            self._stop_reason = reason

    @property
    def stopping(self) -> bool:
        return self._stop_reason is not None

    def _apply(self, cmd: Command, pacer: Pacer, now: float) -> None:
        if cmd.verb == "rate":
            assert cmd.value is not None  # parse gives "rate", "invalid" and "campaign" a number
            self.s.rate = cmd.value
            pacer.reset(self.target_rate(), now)
        elif cmd.verb == "pause":
            self.paused = True
        elif cmd.verb == "resume":
            if self.paused:
                pacer.reset(self.target_rate(), now)
            self.paused = False
        elif cmd.verb == "campaign":
            assert cmd.value is not None and cmd.minutes is not None
            self.traffic.campaign(cmd.value, cmd.minutes, self.clock())  # the loop steers to it
        elif cmd.verb == "invalid":
            assert cmd.value is not None
            self.s.invalid_fraction = cmd.value
        elif cmd.verb == "stop":
            self.request_stop("stop command")
        args = "".join(f" {v:g}" for v in (cmd.value, cmd.minutes) if v is not None)
        self.log(f"control: {cmd.verb}{args}")
        self._tick(now, force=True)

    def target_rate(self) -> float:
        """The rate to keep now: the configured one shaped by the hour of day and a campaign."""
        return self.s.rate * self.traffic.multiplier(self.clock())

    def _steer(self, pacer: Pacer, now: float) -> None:
        """Follow the target as it moves (hours, a campaign's start and end): a new schedule once it
        is more than 1 % off."""
        target = self.target_rate()
        if abs(target - pacer.rate) > 0.01 * pacer.rate:
            pacer.reset(target, now)

    # ----- telemetry ---------------------------------------------------------------------
    def snapshot(self, rate: float, final: bool = False) -> ProducerReport:
        t = self.totals
        in_flight = len(self.producer)
        return ProducerReport(
            sent=t.sent,
            delivered=max(0, t.sent - t.failed - in_flight),
            failed=t.failed,
            in_flight=in_flight,
            rate=round(rate, 1),
            target_rate=float(self.target_rate()),
            paused=self.paused,
            invalid_fraction=float(self.s.invalid_fraction),
            per_topic=dict(t.per_topic),
            invalid=t.invalid,
            final=final,
        )

    def _tick(self, now: float, force: bool = False) -> None:
        elapsed = now - self._tick_at
        if force or elapsed >= self.s.telemetry_interval:
            rate = (self.totals.sent - self._tick_sent) / elapsed if elapsed > 0 else 0.0
            if not force:
                self._tick_at, self._tick_sent = now, self.totals.sent
            self.emit(self.snapshot(rate))

    # ----- main loop ---------------------------------------------------------------------
    def run(self) -> int:
        """Produce until count, duration, a stop command or request_stop; 0 when all acknowledged."""
        start = self._tick_at = time.monotonic()
        self._tick_sent = 0
        pacer = Pacer(self.target_rate(), start)
        try:
            while self._stop_reason is None:
                now = time.monotonic()
                while not self.commands.empty():
                    self._apply(self.commands.get(), pacer, now)
                self._steer(pacer, now)
                if self._finished(now - start):
                    break
                n = 0 if self.paused else pacer.due(now)
                if self.s.count is not None:
                    n = min(n, self.s.count - self.totals.sent)
                held = self._held(n, now)
                if n > 0 and not held:
                    self._handed_at = now
                    pacer.sent(self._send(n))
                    self.producer.poll(0)
                else:
                    wait = POLL_SLICE if self.paused else pacer.wait(now)
                    if held:
                        wait = self._handed_at + LEDGER_CHUNK - now
                    self.producer.poll(min(max(wait, 0.001), POLL_SLICE))
                if self.ledger:
                    self.ledger.maybe_flush(time.monotonic())
                self._tick(time.monotonic())
        finally:
            code = self._finish(time.monotonic() - start)
        return code

    def _held(self, n: int, now: float) -> bool:
        """With a ledger, due events wait to be handed over together (see the module doc)."""
        if self.ledger is None or n <= 0 or n >= LEDGER_CHUNK_EVENTS:
            return False
        return now - self._handed_at < LEDGER_CHUNK

    def _finished(self, elapsed: float) -> bool:
        if self.s.count is not None and self.totals.sent >= self.s.count:
            return True
        return self.s.duration is not None and elapsed >= self.s.duration

    def _send(self, n: int) -> int:
        """Generate and produce up to n events; returns how many were handed to the client."""
        batch = self.generator.take(n)
        ts_ms = time.time_ns() // 1_000_000
        values = self.encoder.values(batch, ts_ms)
        bad = chosen(batch.chance, self.s.invalid_fraction)
        for i in bad:
            values[i] = corrupt(self.encoder.event(batch, int(i), ts_ms), int(batch.kind[i]))
        seq0 = self._seq
        if self.ledger:
            self._seq += n
            self.ledger.record(seq0, batch, ts_ms, values, {int(i): kind_of(int(batch.kind[i])) for i in bad})
        done = self._produce_all(values, self.encoder.keys(batch), batch.etype.tolist(),
                                 seq0 if self.ledger else None)
        if done < n:
            batch, bad = batch.take(slice(0, done)), bad[bad < done]
        if self.ledger:
            if done < n:
                self.ledger.unsent(seq0 + done, seq0 + n)
            self.ledger.handed(done - len(bad), [kind_of(int(batch.kind[i])) for i in bad])
        t = self.totals
        t.sent += done
        t.invalid += len(bad)
        counts = np.bincount(batch.etype, minlength=len(EVENT_TYPES)).tolist()
        for name, c in zip(self._topic_names, counts, strict=True):
            t.per_topic[name] += c
        return done

    def _produce_all(self, values: list[bytes], keys: list[bytes], etypes: list[int], seq0: int | None) -> int:
        """produce() the messages in order; while the local queue is full, serve reports and retry.
        With seq0 (a ledger) message i reports its delivery as event seq0 + i.
        Returns how many were produced: all, unless a stop was requested while waiting."""
        produce, topics, n = self.producer.produce, self.topics, len(values)
        report = self._on_delivery
        i = 0
        while i < n:
            try:
                if seq0 is None:
                    for i in range(i, n):  # noqa: B020 - resumes at the message that did not fit
                        produce(topics[etypes[i]], values[i], keys[i])
                else:
                    for i in range(i, n):  # noqa: B020
                        produce(topics[etypes[i]], values[i], keys[i], on_delivery=partial(report, seq0 + i))
                i = n
            except BufferError:
                self.producer.poll(POLL_SLICE)
                self._tick(time.monotonic())
                if self.stopping:
                    return i
        return n

    def hurry(self) -> None:
        """Give up waiting for acknowledgements (a second interrupt)."""
        self._hurry = True

    def _finish(self, elapsed: float) -> int:
        """Flush (bounded when stopped early), close the ledger, emit the final totals.

        Messages still queued when the bound runs out are purged, so they count as failed
        (and leave the ledger); only those already on the wire stay "unconfirmed".
        """
        bounded = self._stop_reason is not None
        deadline = time.monotonic() + self.s.flush_timeout
        while len(self.producer) > 0 and not self.fatal and not self._hurry:
            left = deadline - time.monotonic()
            if bounded and left <= 0:
                break
            self.producer.flush(min(0.5, left) if bounded else 0.5)
            self._tick(time.monotonic())
        if len(self.producer) > 0:
            self.producer.purge(in_queue=True, in_flight=False, blocking=False)
            self.producer.poll(0.5)
        self.producer.poll(0)
        final = self.snapshot(self.totals.sent / elapsed if elapsed > 0 else 0.0, final=True)
        if self.ledger:
            self.ledger.close()
        self.emit(final)
        if final.in_flight or final.failed or self.fatal:
            self.log(f"not all events acknowledged: {final.failed} failed, "
                     f"{final.in_flight} unconfirmed" + (f"; {self.fatal}" if self.fatal else ""))
            return 1
        if self._stop_reason:
            self.log(f"stopped ({self._stop_reason}); all {final.sent} events acknowledged")
        return 0
