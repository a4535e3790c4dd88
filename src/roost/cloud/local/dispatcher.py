"""The in-process event dispatcher: outbox -> one delivery per handler -> at-least-once calls.

It works like SQS, built from nothing but conditional writes on the `Tables` port, so several
dispatchers (threads or processes on one database) can run at once without a lock server:

* fan-out moves an outbox event into one delivery item per subscribed handler in ONE transaction
  (delete the outbox item if it exists + put the deliveries if absent): a racing dispatcher's
  fan-out of the same event is cancelled whole, so each handler gets exactly one delivery;
* a delivery is claimed by a conditional update that pushes its due time `lease` seconds ahead
  (the visibility timeout) and counts the attempt; a process that dies mid-handler leaves the
  delivery to come due again when the lease runs out: at-least-once;
* success deletes it; failure makes it due again after exponential backoff with jitter; after
  `max_attempts` it moves (one transaction) to the dead-letter table, from which `replay` puts
  it back with its attempts reset.

The due queue is one index partition: right for an embedded dispatcher; on AWS the outbox
stream feeds SQS instead.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

from roost.cloud.audit import current_actor
from roost.cloud.clock import Clock
from roost.cloud.errors import ConditionFailed, Conflict, Invalid, NotFound, TransactionCanceled
from roost.cloud.events import OUTBOX, DeadLetter, Event, Handler
from roost.cloud.ids import new_id
from roost.cloud.local.scheduler import SCHEDULES
from roost.cloud.logs import get_logger
from roost.cloud.table import (
    MAX_TRANSACT_OPS,
    Delete,
    IndexSpec,
    Item,
    Op,
    Put,
    SortKey,
    Table,
    Tables,
    TableSpec,
    attr,
    query_all,
)

log = get_logger(__name__)

DELIVERIES = TableSpec(
    name="roost_deliveries", pk="event", sk="handler",
    indexes=(IndexSpec("by_due", pk="queue", sk="due"),),
)
"""One item per (event, handler) still to deliver. `due` = "<visible-at>#<event>#<handler>":
unique and time-ordered, so the due ones are one index range query."""

DEAD_LETTERS = TableSpec(
    name="roost_deadletters", pk="pk", sk="sk",
    indexes=(IndexSpec("by_handler", pk="handler", sk="sk"),),
)
"""Parked deliveries: pk = "dead", sk = "<event id>#<handler>" (event ids are ULIDs: no '#')."""

TABLES: list[TableSpec] = [OUTBOX, DELIVERIES, DEAD_LETTERS, SCHEDULES]
"""Every table the events machinery needs registered (the scheduler's included)."""

QUEUE = "due"
DEAD = "dead"
PAGE = 100
MAX_ERROR_CHARS = 2000
MAX_TRACE_CHARS = 8000


def stamp(when: datetime) -> str:
    """Fixed-width UTC text with microseconds, so string order is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def due_key(when: datetime, event_id: str, handler: str) -> str:
    return f"{stamp(when)}#{event_id}#{handler}"


def backoff(attempt: int, *, base: float, cap: float, jitter: float = 0.5,
            rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base * 2**(attempt-1),
    capped, then shortened by up to `jitter` of itself so retries of a burst spread out."""
    if attempt < 1:
        raise Invalid(f"attempt {attempt}: attempts count from 1", code="invalid_attempt")
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return delay * (1.0 - jitter * rand())


def _check_event_type(event_type: str) -> None:
    """The same rule `Event` enforces, so a typo'd subscription fails at start-up."""
    Event(type=event_type, data={}, id="-", at=datetime.min.replace(tzinfo=UTC))


class LocalDispatcher:
    """Implements `roost.cloud.events.Dispatcher`; `start()` runs it in background threads."""

    TABLES = TABLES

    def __init__(
        self,
        tables: Tables,
        *,
        clock: Clock,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        lease: float = 60.0,
        workers: int = 2,
        jitter: float = 0.5,
        poll: float = 1.0,
    ) -> None:
        if max_attempts < 1 or workers < 1 or lease <= 0 or poll <= 0:
            raise Invalid("the dispatcher needs max_attempts >= 1, workers >= 1, lease > 0 and "
                          "poll > 0", code="invalid_dispatcher_config")
        if not 0 <= base_delay <= max_delay or not 0 <= jitter <= 1:
            raise Invalid("the dispatcher needs 0 <= base_delay <= max_delay and "
                          "0 <= jitter <= 1", code="invalid_dispatcher_config")
        self._tables = tables
        self._outbox: Table = tables.table(OUTBOX.name)
        self._deliveries: Table = tables.table(DELIVERIES.name)
        self._dead: Table = tables.table(DEAD_LETTERS.name)
        self._clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.workers = workers
        self.jitter = jitter
        self.poll = poll
        self._subs: dict[str, dict[str, Handler]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(workers)
        self._inflight: set[Future[None]] = set()

    # ----------------------------------------------------------------------- subscriptions

    def subscribe(self, event_type: str, name: str, handler: Handler) -> None:
        _check_event_type(event_type)
        if not isinstance(name, str) or not name or len(name.encode()) > 512:
            raise Invalid(f"handler name {name!r}: give a non-empty name of at most 512 bytes",
                          code="invalid_handler_name")
        with self._lock:
            by_name = self._subs.setdefault(event_type, {})
            if name in by_name and by_name[name] is not handler:
                raise Conflict(f"handler {name!r} is already subscribed to {event_type!r}",
                               code="duplicate_handler")
            by_name[name] = handler

    def _handlers_for(self, event_type: str) -> dict[str, Handler]:
        with self._lock:
            return dict(self._subs.get(event_type, {}))

    # ----------------------------------------------------------------------- one pass

    def run_once(self) -> int:
        """Fan out the outbox, then deliver what is due now, one after another in this thread."""
        self.fan_out()
        count = 0
        for item in self._due(self._clock.now()):
            claimed = self._claim(item)
            if claimed is not None:
                self._attempt(claimed)
                count += 1
        return count

    def _pass_in_background(self) -> int:
        """As `run_once`, but each handler runs on the pool; a delivery is claimed only once a
        worker is free, so its lease does not run down while it waits in line."""
        self.fan_out()
        count = 0
        for item in self._due(self._clock.now()):
            while not self._slots.acquire(timeout=0.1):
                if self._stopping.is_set():
                    return count
            claimed = self._claim(item)
            if claimed is None:
                self._slots.release()
                continue
            self._submit(claimed)
            count += 1
        return count

    def _pages(self, table: Table, partition: str, **kwargs: Any) -> Iterator[Item]:
        return _pages(table, partition, **kwargs)

    def _due(self, now: datetime) -> Iterator[Item]:
        # '$' sorts right after '#': every due key stamped at or before `now`.
        upto = SortKey.lt(f"{stamp(now)}$")
        return self._pages(self._deliveries, QUEUE, index="by_due", sort=upto)

    # ----------------------------------------------------------------------- fan-out

    def fan_out(self) -> int:
        """Move outbox events into deliveries now; returns how many events were moved.

        Many events go in one transaction while nobody races; a cancelled batch is retried one
        event per transaction, where losing the race to another dispatcher is harmless."""
        batch: list[list[Op]] = []
        size = moved = 0
        for item in self._pages(self._outbox, "pending"):
            ops = self._fan_out_ops(item)
            if ops is None:
                continue
            if size + len(ops) > MAX_TRANSACT_OPS:
                moved += self._commit_fan_out(batch)
                batch, size = [], 0
            batch.append(ops)
            size += len(ops)
        if batch:
            moved += self._commit_fan_out(batch)
        return moved

    def _fan_out_ops(self, item: Item) -> list[Op] | None:
        event_id, event_type = item["sk"], item["type"]
        handlers = self._handlers_for(event_type)
        if len(handlers) + 1 > MAX_TRANSACT_OPS:
            log.error("too_many_handlers", event_type=event_type, handlers=len(handlers))
            return None
        if not handlers:
            log.debug("event_dropped_no_subscriber", event_id=event_id, event_type=event_type)
        now = self._clock.now()
        ops: list[Op] = [Delete(OUTBOX.name, {"pk": "pending", "sk": event_id},
                                condition=attr("sk").exists())]
        for name in sorted(handlers):
            delivery = {
                "event": event_id, "handler": name, "queue": QUEUE,
                "due": due_key(now, event_id, name), "attempts": 0,
                "type": event_type, "data": item["data"], "at": item["at"],
                "actor": item.get("actor"),
            }
            ops.append(Put(DELIVERIES.name, delivery, condition=attr("event").not_exists()))
        return ops

    def _commit_fan_out(self, batch: list[list[Op]]) -> int:
        try:
            self._tables.transact([op for ops in batch for op in ops])
            return len(batch)
        except TransactionCanceled:
            if len(batch) == 1:
                log.debug("fan_out_lost_race")
                return 0
        except Invalid:
            if len(batch) == 1:
                log.exception("fan_out_refused")
                return 0
        return sum(self._commit_fan_out([ops]) for ops in batch)

    # ----------------------------------------------------------------------- delivery

    def _claim(self, item: Item) -> Item | None:
        """Take the delivery for `lease` seconds; None if another worker took it first or this
        dispatcher does not serve its handler (another process, or a later version, does)."""
        if item["handler"] not in self._handlers_for(item["type"]):
            return None
        now = self._clock.now()
        until = now + timedelta(seconds=self.lease)
        try:
            return self._deliveries.update(
                {"event": item["event"], "handler": item["handler"]},
                set={"due": due_key(until, item["event"], item["handler"]),
                     "claim": new_id(now)},
                add={"attempts": 1},
                condition=attr("due").eq(item["due"]),
            )
        except ConditionFailed:
            return None

    def _attempt(self, delivery: Item) -> None:
        """Call the handler once, as actor `handler:<name>`, and settle the delivery."""
        name = delivery["handler"]
        handler = self._handlers_for(delivery["type"]).get(name)
        failure: Exception | None = None
        token = current_actor.set(f"handler:{name}")
        try:
            if handler is None:
                raise LookupError(f"handler {name!r} is no longer subscribed")
            handler(Event(type=delivery["type"], data=delivery["data"], id=delivery["event"],
                          at=datetime.fromisoformat(delivery["at"]), actor=delivery.get("actor")))
        except Exception as exc:
            failure = exc
        finally:
            current_actor.reset(token)
        if failure is not None:
            self._failed(delivery, failure)
            return
        try:
            self._deliveries.delete({"event": delivery["event"], "handler": name},
                                    condition=attr("claim").eq(delivery["claim"]))
        except ConditionFailed:
            log.debug("delivery_lease_lost", event_id=delivery["event"], handler=name)

    def _failed(self, delivery: Item, exc: Exception) -> None:
        name, event_id, attempt = delivery["handler"], delivery["event"], delivery["attempts"]
        key = {"event": event_id, "handler": name}
        mine = attr("claim").eq(delivery["claim"])
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        now = self._clock.now()
        if attempt >= self.max_attempts:
            log.error("delivery_dead", event_id=event_id, handler=name, attempt=attempt,
                      error=error)
            trace = "".join(traceback.format_exception(exc))[-MAX_TRACE_CHARS:]
            dead = {k: v for k, v in delivery.items() if k not in ("queue", "due", "claim")}
            dead.update(pk=DEAD, sk=f"{event_id}#{name}", error=error, traceback=trace,
                        failed_at=now.isoformat())
            try:
                self._tables.transact([Delete(DELIVERIES.name, key, condition=mine),
                                       Put(DEAD_LETTERS.name, dead)])
            except TransactionCanceled:
                log.debug("delivery_lease_lost", event_id=event_id, handler=name)
            return
        delay = backoff(attempt, base=self.base_delay, cap=self.max_delay, jitter=self.jitter)
        log.warning("delivery_failed", event_id=event_id, handler=name, attempt=attempt,
                    error=error, retry_in=round(delay, 3))
        try:
            self._deliveries.update(
                key, set={"due": due_key(now + timedelta(seconds=delay), event_id, name),
                          "error": error},
                remove=("claim",), condition=mine)
        except ConditionFailed:
            log.debug("delivery_lease_lost", event_id=event_id, handler=name)

    # ----------------------------------------------------------------------- dead letters

    def dead_letters(self, *, handler: str | None = None) -> list[DeadLetter]:
        """Oldest event first."""
        return DeadLetters(self._tables, clock=self._clock).list(handler=handler)

    def replay(self, event_id: str, handler: str) -> None:
        DeadLetters(self._tables, clock=self._clock).replay(event_id, handler)
        self.notify()

    def pending(self) -> int:
        """Events not yet fanned out plus deliveries not yet done (dead letters excluded)."""
        outbox = sum(1 for _ in self._pages(self._outbox, "pending"))
        return outbox + sum(1 for _ in self._pages(self._deliveries, QUEUE, index="by_due"))

    # ----------------------------------------------------------------------- background

    def notify(self) -> None:
        """Wake the background loop now (e.g. right after a transaction that published)."""
        self._wake.set()

    def start(self) -> None:
        """Poll in a background thread; handlers run on `workers` threads."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="roost-handler")
        self._thread = threading.Thread(target=self._loop, name="roost-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop polling and wait up to `timeout` seconds for running handlers; True if they all
        finished. A handler still running is left to its lease: its delivery comes due again."""
        thread, pool = self._thread, self._pool
        if thread is None or pool is None:
            return True
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        with self._lock:
            inflight = set(self._inflight)
        _, not_done = wait(inflight, timeout=timeout)
        pool.shutdown(wait=not not_done, cancel_futures=True)
        self._thread = self._pool = None
        return not thread.is_alive() and not not_done

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                busy = self._pass_in_background() > 0
            except Exception:  # a busy disk must not end delivery; try again shortly
                log.exception("dispatcher_pass_failed")
                busy = False
            if not busy:
                self._wake.wait(self.poll)

    def _submit(self, delivery: Item) -> None:
        pool = self._pool
        if pool is None:  # stopped under our feet: the lease brings the delivery back
            self._slots.release()
            return
        future = pool.submit(self._attempt_logged, delivery)
        with self._lock:
            self._inflight.add(future)
        future.add_done_callback(self._done)

    def _attempt_logged(self, delivery: Item) -> None:
        try:
            self._attempt(delivery)
        except Exception:  # settling failed (disk busy): the lease brings the delivery back
            log.exception("delivery_settle_failed", event_id=delivery["event"],
                          handler=delivery["handler"])

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._inflight.discard(future)
        self._slots.release()



def _pages(table: Table, partition: str, **kwargs: Any) -> Iterator[Item]:
    return query_all(table, partition, page_size=PAGE, **kwargs)


class DeadLetters:
    """The parked deliveries, on the two tables they move between. Separate from the dispatcher
    so an admin function can list and replay them through its own guarded tables (it declares
    `roost_deadletters` and `roost_deliveries`, nothing else)."""

    def __init__(self, tables: Tables, *, clock: Clock) -> None:
        self._tables = tables
        self._dead = tables.table(DEAD_LETTERS.name)
        self._clock = clock

    def list(self, *, handler: str | None = None) -> list[DeadLetter]:
        """Oldest event first."""
        items = (_pages(self._dead, handler, index="by_handler") if handler is not None
                 else _pages(self._dead, DEAD))
        return [_dead_letter(item) for item in items]

    def replay(self, event_id: str, handler: str) -> None:
        """Put a dead letter back in line, attempts reset. The caller wakes the dispatcher."""
        key = {"pk": DEAD, "sk": f"{event_id}#{handler}"}
        dead = self._dead.get(key)
        if dead is None:
            raise NotFound(f"no dead letter for event {event_id} and handler {handler!r}",
                           code="dead_letter_not_found")
        now = self._clock.now()
        delivery = {k: v for k, v in dead.items()
                    if k not in ("pk", "sk", "error", "traceback", "failed_at")}
        delivery.update(queue=QUEUE, due=due_key(now, event_id, handler), attempts=0)
        try:
            self._tables.transact([
                Delete(DEAD_LETTERS.name, key, condition=attr("sk").exists()),
                Put(DELIVERIES.name, delivery, condition=attr("event").not_exists()),
            ])
        except TransactionCanceled as exc:
            if 0 in exc.failed:
                raise NotFound(f"the dead letter for event {event_id} and handler {handler!r} "
                               "was replayed meanwhile", code="dead_letter_not_found") from exc
            raise Conflict(f"event {event_id} is already in line for {handler!r}",
                           code="delivery_pending") from exc
        log.info("dead_letter_replayed", event_id=event_id, handler=handler)


def _dead_letter(item: Item) -> DeadLetter:
    event = Event(type=item["type"], data=item["data"], id=item["event"],
                  at=datetime.fromisoformat(item["at"]), actor=item.get("actor"))
    return DeadLetter(event=event, handler=item["handler"], attempts=item["attempts"],
                      error=item["error"], failed_at=datetime.fromisoformat(item["failed_at"]),
                      extra={"traceback": item.get("traceback", "")})
