"""The Table port on DynamoDB: one DynamoDB table per `TableSpec`, named `<prefix><spec.name>`.

A thin translation: conditions become `ConditionExpression`s, updates `UpdateExpression`s
(SET/ADD/REMOVE, `ReturnValues=ALL_NEW`), transactions `TransactWriteItems` whose
`CancellationReasons` name the failed operations, queries `KeyConditionExpression` with
`ScanIndexForward`, `Limit` and `ExclusiveStartKey` (the cursor is that key, opaque to callers).
The shared validators run first, so bad input is `Invalid` before anything is sent.

Reads are strongly consistent, except index queries: DynamoDB's global secondary indexes are
eventually consistent, so an index query may miss a write of the last moments.

TTL, as in the SQLite adapter: an item whose TTL attribute is at or before the clock's now is
absent for every read, query, scan and condition (DynamoDB deletes such items lazily, up to 48 h
late). Conditions say so in the expression: "cond, or the item has expired" when `cond` holds for
an absent item, else "cond, and it has not expired". An update of an expired item starts afresh:
it is written as a new item, guarded on the old one still being expired.

Audited tables: every write is one `TransactWriteItems` holding the write and its audit record.
The item is read first (consistent read), the condition evaluated on it, the new item computed,
and the write guarded by a condition that the item is still the one read — a hidden revision
attribute (`_roost_rev`, never returned) changes on every audited write — so a concurrent change
cancels the write and it is retried on the new item, instead of the trail recording a `before`
that was not. Each audited write therefore counts two of a transaction's 100 operations.

Index key attributes holding None are not written (DynamoDB refuses NULL index keys); the port
treats them as absent from the index already.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from roost.cloud.audit import AUDIT, audit_item
from roost.cloud.aws.dynamo_errors import cancellation_codes, error_code, invalid, translate
from roost.cloud.aws.dynamo_expressions import (
    Expression,
    Folded,
    both,
    condition_params,
    equals_item,
    fold,
    key_condition,
    negate,
    on_visible,
    update_expression,
)
from roost.cloud.aws.dynamo_schema import physical_name, table_definition
from roost.cloud.aws.dynamo_values import from_item, to_attr, to_item
from roost.cloud.clock import Clock
from roost.cloud.errors import (
    ConditionFailed,
    Invalid,
    NotFound,
    TransactionCanceled,
    Unavailable,
)
from roost.cloud.table import (
    MAX_TRANSACT_OPS,
    Check,
    Cond,
    Delete,
    Item,
    Key,
    KeyType,
    Op,
    Page,
    Put,
    SortKey,
    TableSpec,
    Update,
    Value,
    apply_update,
    check_item,
    check_key,
    check_ops,
    check_value,
    decode_cursor,
    dumps,
    encode_cursor,
    evaluate,
    loads,
)

REV = "_roost_rev"
MAX_ATTEMPTS = 10  # tries of a write whose guard lost a race before giving up (Unavailable)


def _is_number(v: Value) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _type_ok(v: Value, kind: KeyType) -> bool:
    return {"S": isinstance(v, str), "B": isinstance(v, bytes), "N": _is_number(v)}[kind]


def validate_update(spec: TableSpec, op: Update) -> None:
    """Everything `apply_update` refuses that is known without the item, as `Invalid`."""
    check_key(spec, op.key)
    touched = list(op.set) + list(op.add) + list(op.remove)
    if set(op.key) & set(touched):
        raise Invalid(f"table {spec.name}: an update cannot change key attributes",
                      code="invalid_update")
    if len(set(touched)) != len(touched):
        raise Invalid(f"table {spec.name}: an update names an attribute twice",
                      code="invalid_update")
    for name in touched:
        if not isinstance(name, str) or not name:
            raise Invalid(f"table {spec.name}: attribute names must be non-empty strings",
                          code="invalid_update")
    check_item(spec, {**op.key, **op.set})  # values, index key types, size of what is set
    for name, delta in op.add.items():
        if isinstance(delta, (set, frozenset)):
            check_value(name, delta)
        elif not _is_number(delta):
            raise Invalid(f"add {name!r}: the amount must be a number or a set",
                          code="invalid_update")
        else:
            check_value(name, delta)


@dataclass
class _Prepared:
    """One operation of a transaction as a `TransactItems` entry, with what was learnt."""

    op: Op
    request: dict[str, Any]
    guarded: bool = False  # the request also guards on a read: a failure may be a lost race
    known_failed: bool = False  # the condition failed on the item read: the entry always fails
    audit: dict[str, Any] | None = None  # the audit record's Put entry
    visible: Item | None = None
    new: Item | None = None


class DynamoTables:
    """The tables of one deployment in DynamoDB, through a boto3 `client("dynamodb")`."""

    def __init__(
        self, client: Any, specs: Iterable[TableSpec], *, clock: Clock, prefix: str = "roost_",
    ) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self._specs: dict[str, TableSpec] = {}
        self._tables: dict[str, DynamoTable] = {}
        self._lock = threading.Lock()
        for spec in (AUDIT, *specs):
            self.register(spec)

    def __repr__(self) -> str:
        return f"DynamoTables(prefix={self.prefix!r})"

    # ------------------------------------------------------------------ tables

    def register(self, spec: TableSpec) -> None:
        """Add a table (idempotent); `create_tables` or the stack creates it in DynamoDB."""
        table_definition(spec)  # refuses layouts DynamoDB cannot hold
        with self._lock:
            if self._specs.get(spec.name) != spec:
                self._specs[spec.name] = spec
                self._tables[spec.name] = DynamoTable(self, spec)

    def spec(self, name: str) -> TableSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise NotFound(f"there is no table {name!r}; declare it first",
                           code="unknown_table") from None

    def table(self, name: str) -> DynamoTable:
        self.spec(name)
        return self._tables[name]

    def physical(self, name: str) -> str:
        return physical_name(self.prefix, self.spec(name))

    def specs(self) -> list[TableSpec]:
        return list(self._specs.values())

    def create_tables(self) -> None:
        """Create every registered table that does not exist yet, with its TTL (for tests and
        local DynamoDB-API servers; on AWS the stack's template creates them)."""
        from botocore.exceptions import ClientError

        for spec in self.specs():
            name = physical_name(self.prefix, spec)
            try:
                made = self.client.create_table(TableName=name, **table_definition(spec))
            except ClientError as exc:
                if error_code(exc) == "ResourceInUseException":
                    continue  # there already
                raise translate(exc, spec.name) from exc
            if made["TableDescription"].get("TableStatus") != "ACTIVE":
                self.client.get_waiter("table_exists").wait(
                    TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            if spec.ttl:
                self.client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": spec.ttl})

    def delete_tables(self) -> None:
        """Delete every registered table (tests)."""
        from botocore.exceptions import ClientError

        for spec in self.specs():
            try:
                self.client.delete_table(TableName=physical_name(self.prefix, spec))
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise translate(exc, spec.name) from exc

    def close(self) -> None:
        """Nothing to release: the boto3 client belongs to the caller, who may share it."""

    # ------------------------------------------------------------------ calls

    def call(self, method: str, table: str, **params: Any) -> dict[str, Any]:
        """One DynamoDB call with its failures translated (ConditionalCheckFailed excepted)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**params)
        except ClientError as exc:
            if error_code(exc) in ("ConditionalCheckFailedException",
                                   "TransactionCanceledException"):
                raise
            raise translate(exc, table) from exc
        except BotoCoreError as exc:
            raise translate(exc, table) from exc

    def read_raw(self, spec: TableSpec, key: Key) -> Item | None:
        """The item as stored (expired or not, revision included)."""
        resp = self.call("get_item", spec.name, TableName=physical_name(self.prefix, spec),
                         Key=to_item(key), ConsistentRead=True)
        raw = resp.get("Item")
        return from_item(raw) if raw is not None else None

    def now(self) -> datetime:
        return self.clock.now()

    @staticmethod
    def expired(spec: TableSpec, item: Mapping[str, Value] | None, now: float) -> bool:
        if item is None or spec.ttl is None:
            return False
        v = item.get(spec.ttl)
        if not _is_number(v):
            return False
        f = float(v)
        return math.isfinite(f) and f <= now

    def visible(self, spec: TableSpec, stored: Item | None, now: float) -> Item | None:
        """The item as readers see it: None when expired, the revision hidden."""
        if stored is None or self.expired(spec, stored, now):
            return None
        out = dict(stored)
        out.pop(REV, None)
        return out

    @staticmethod
    def stored_form(spec: TableSpec, item: Mapping[str, Value]) -> Item:
        """What is written: index key attributes holding None are left out."""
        out = dict(item)
        for ix in spec.indexes:
            for name in (ix.pk, ix.sk):
                if name and name in out and out[name] is None:
                    del out[name]
        return out

    # ------------------------------------------------------------------ transactions

    def transact(self, ops: Sequence[Op]) -> None:
        """All or nothing. Raises `TransactionCanceled` (reasons per operation) when a condition
        fails, `Invalid` when the operations break a rule; nothing is written in either case."""
        self.run_transaction(list(ops))

    def validate(self, ops: list[Op]) -> None:
        for op in ops:
            if not isinstance(op, (Put, Update, Delete, Check)):
                raise Invalid(f"a transaction holds Put, Update, Delete and Check operations, "
                              f"not {type(op).__name__}", code="invalid_transaction")
        check_ops(ops, self.spec)
        for op in ops:
            spec = self.spec(op.table)
            if isinstance(op, Put):
                check_item(spec, op.item)
                if spec.audit:
                    check_item(spec, {**op.item, REV: "0" * 16})
            elif isinstance(op, Update):
                validate_update(spec, op)
        audited = sum(1 for op in ops if self.spec(op.table).audit and not isinstance(op, Check))
        if len(ops) + audited > MAX_TRANSACT_OPS:
            raise Invalid(f"a transaction holds at most {MAX_TRANSACT_OPS} operations on "
                          f"DynamoDB, where each write to an audited table adds its audit record "
                          f"(got {len(ops)} operations and {audited} audit records)",
                          code="too_many_operations")

    def run_transaction(self, ops: list[Op], *, single: bool = False) -> list[_Prepared]:
        """Validate, prepare, write; retry when a guard lost a race. Returns the prepared
        operations of the attempt that committed."""
        self.validate(ops)
        for attempt in range(MAX_ATTEMPTS):
            now = self.now()
            prepared = [self.prepare(op, now) for op in ops]
            if single and prepared[0].known_failed:
                raise TransactionCanceled("the condition did not hold",
                                          reasons=["condition_failed"])
            entries = [p.request for p in prepared] + [p.audit for p in prepared if p.audit]
            try:
                self.call("transact_write_items", ops[0].table, TransactItems=entries)
                return prepared
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons, stale = self.reasons(exc, prepared, now)
            if not stale:
                failed = [i for i, r in enumerate(reasons) if r]
                raise TransactionCanceled(
                    f"transaction canceled: the condition of operation(s) {failed} did not hold "
                    f"({', '.join(f'{type(ops[i]).__name__} on {ops[i].table}' for i in failed)})",
                    reasons=reasons)
            time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))
        raise Unavailable("the transaction kept meeting concurrent writes to the same items; "
                          "retry", code="busy")

    def reasons(
        self, exc: Any, prepared: list[_Prepared], now: datetime
    ) -> tuple[list[str | None], bool]:
        """(the port's reason per operation, whether a guard lost a race and a retry is due)."""
        codes = cancellation_codes(exc)
        reasons: list[str | None] = []
        stale = False
        for i, p in enumerate(prepared):
            code = codes[i] if i < len(codes) else None
            if code is None:
                reasons.append(None)
            elif code == "ConditionalCheckFailed":
                if p.guarded and not p.known_failed and self.holds_now(p.op, now):
                    stale = True
                reasons.append("condition_failed")
            elif code == "ValidationError":
                detail = (exc.response.get("CancellationReasons") or [{}] * (i + 1))[i]
                raise invalid(str(detail.get("Message", "")), p.op.table)
            else:  # TransactionConflict, throttling: the same request may well pass next time
                stale = True
                reasons.append(code)
        if any(code is not None for code in codes[len(prepared):]):
            stale = True  # an audit record was throttled: retry the whole
        return reasons, stale

    def holds_now(self, op: Op, now: datetime) -> bool:
        """Whether `op`'s condition holds on the item as it is now (read again)."""
        spec = self.spec(op.table)
        key = spec.key_of(op.item) if isinstance(op, Put) else op.key
        visible = self.visible(spec, self.read_raw(spec, key), now.timestamp())
        return evaluate(op.condition, visible)

    # ------------------------------------------------------------------ preparing

    def prepare(self, op: Op, now: datetime) -> _Prepared:
        spec = self.spec(op.table)
        if spec.audit or (isinstance(op, Update) and spec.ttl):
            return self._prepare_read(spec, op, now)
        ts = now.timestamp()
        ex = Expression()
        name = physical_name(self.prefix, spec)
        if isinstance(op, Put):
            body = {"TableName": name, "Item": to_item(self.stored_form(spec, op.item))}
            body.update(condition_params(on_visible(spec, op.condition, ts), spec, ex))
            kind = "Put"
        elif isinstance(op, Delete):
            body = {"TableName": name, "Key": to_item(op.key)}
            body.update(condition_params(on_visible(spec, op.condition, ts), spec, ex))
            kind = "Delete"
        elif isinstance(op, Check):
            body = {"TableName": name, "Key": to_item(op.key)}
            body.update(self._check_condition(spec, on_visible(spec, op.condition, ts), ex))
            kind = "ConditionCheck"
        else:
            body = {"TableName": name, "Key": to_item(op.key), "UpdateExpression":
                    update_expression(spec, op.set, op.add, op.remove, ex)}
            body.update(condition_params(fold(op.condition), spec, ex))
            kind = "Update"
        body.update(ex.params())
        return _Prepared(op, {kind: body})

    @staticmethod
    def _check_condition(spec: TableSpec, folded: Folded, ex: Expression) -> dict[str, Any]:
        from roost.cloud.aws.dynamo_expressions import always

        if isinstance(folded, bool):
            return {"ConditionExpression": always(folded, spec, ex)}
        return condition_params(folded, spec, ex)

    def _failing(self, spec: TableSpec, op: Op, key: Key, visible: Item | None) -> _Prepared:
        """An entry that always fails: the condition was false on the item read."""
        from roost.cloud.aws.dynamo_expressions import always

        ex = Expression()
        body = {"TableName": physical_name(self.prefix, spec), "Key": to_item(key),
                "ConditionExpression": always(False, spec, ex), **ex.params()}
        return _Prepared(op, {"ConditionCheck": body}, known_failed=True, visible=visible)

    def _prepare_read(self, spec: TableSpec, op: Op, now: datetime) -> _Prepared:
        """Operations that depend on the item as it is: every write to an audited table, and
        updates on TTL tables (an expired item is replaced, not updated)."""
        ts = now.timestamp()
        key = spec.key_of(op.item) if isinstance(op, Put) else dict(op.key)
        stored = self.read_raw(spec, key)
        visible = self.visible(spec, stored, ts)
        if not evaluate(op.condition, visible):
            return self._failing(spec, op, key, visible)
        if isinstance(op, Put):
            new: Item | None = dict(op.item)
        elif isinstance(op, Update):
            new = apply_update(spec, visible, op)
        else:
            new = None
        name = physical_name(self.prefix, spec)
        ex = Expression()
        if not spec.audit:  # an update on a TTL table
            assert isinstance(op, Update)
            if stored is not None and visible is None:
                guard: Folded = Cond("le", (spec.ttl, ts))  # still expired
                body = {"TableName": name, "Item": to_item(self.stored_form(spec, new or {}))}
                body.update(condition_params(guard, spec, ex))
                kind = "Put"
            else:
                cond = both(fold(op.condition), negate(Cond("le", (spec.ttl, ts))))
                body = {"TableName": name, "Key": to_item(key), "UpdateExpression":
                        update_expression(spec, op.set, op.add, op.remove, ex)}
                body.update(condition_params(cond, spec, ex))
                kind = "Update"
            body.update(ex.params())
            return _Prepared(op, {kind: body}, guarded=True, visible=visible, new=new)
        guard = self._guard(spec, stored)
        after = loads(dumps(new)) if new is not None else None
        changed = visible != after
        expired_stored = stored is not None and visible is None
        if isinstance(op, Check) or (not changed and not expired_stored):
            body = {"TableName": name, "Key": to_item(key)}
            body.update(self._check_condition(spec, guard, ex))
            kind = "ConditionCheck"
        elif new is None:
            body = {"TableName": name, "Key": to_item(key)}
            body.update(condition_params(guard, spec, ex))
            kind = "Delete"
        else:
            stored_new = {**self.stored_form(spec, new), REV: secrets.token_hex(8)}
            body = {"TableName": name, "Item": to_item(stored_new)}
            body.update(condition_params(guard, spec, ex))
            kind = "Put"
        body.update(ex.params())
        audit = None
        if changed and not isinstance(op, Check):
            audit = self._audit_entry(spec, op, key, visible, after, now)
        return _Prepared(op, {kind: body}, guarded=True, audit=audit, visible=visible, new=new)

    @staticmethod
    def _guard(spec: TableSpec, stored: Item | None) -> Folded:
        """A condition true only while the item is still `stored`."""
        if stored is None:
            return Cond("not_exists", (spec.pk,))
        if REV in stored:
            return Cond("eq", (REV, stored[REV]))
        return both(Cond("not_exists", (REV,)), equals_item(stored))

    def _audit_entry(
        self, spec: TableSpec, op: Op, key: Key, before: Item | None, after: Item | None,
        now: datetime,
    ) -> dict[str, Any]:
        kind = "put" if isinstance(op, Put) else "update" if isinstance(op, Update) else "delete"
        record = audit_item(table=spec, key=dict(key), op=kind, before=before, after=after,
                            at=now)
        return {"Put": {"TableName": physical_name(self.prefix, AUDIT), "Item": to_item(record)}}

    # ------------------------------------------------------------------ TTL

    def purge_expired(self) -> int:
        """Delete every item whose TTL has passed now; returns how many. (DynamoDB's own TTL
        deletes them too, within 48 h; this makes it happen now.)"""
        now = self.now().timestamp()
        total = 0
        for spec in self.specs():
            if not spec.ttl:
                continue
            name = physical_name(self.prefix, spec)
            keys = [spec.pk] + ([spec.sk] if spec.sk else [])
            start: dict[str, Any] | None = None
            while True:
                ex = Expression()
                params: dict[str, Any] = {
                    "TableName": name, "ConsistentRead": True,
                    "FilterExpression": f"{ex.name(spec.ttl)} <= {ex.value(now)}",
                    "ProjectionExpression": ", ".join(ex.name(k) for k in keys)}
                params.update(ex.params())
                if start:
                    params["ExclusiveStartKey"] = start
                resp = self.call("scan", spec.name, **params)
                for raw in resp.get("Items", []):
                    total += self._delete_if_expired(spec, raw, now)
                start = resp.get("LastEvaluatedKey")
                if not start:
                    break
        return total

    def _delete_if_expired(self, spec: TableSpec, raw_key: dict[str, Any], now: float) -> int:
        from botocore.exceptions import ClientError

        ex = Expression()
        try:
            self.call("delete_item", spec.name, TableName=physical_name(self.prefix, spec),
                      Key=raw_key, ConditionExpression=f"{ex.name(spec.ttl or '')} <= "
                      f"{ex.value(now)}", **ex.params())
            return 1
        except ClientError:  # changed meanwhile: no longer expired
            return 0


class DynamoTable:
    """One table of a `DynamoTables`; obtain it with `DynamoTables.table(name)`."""

    def __init__(self, tables: DynamoTables, spec: TableSpec) -> None:
        self._t = tables
        self.spec = spec

    def __repr__(self) -> str:
        return f"DynamoTable({self.spec.name!r}, prefix={self._t.prefix!r})"

    @property
    def physical(self) -> str:
        return physical_name(self._t.prefix, self.spec)

    def _refuse(self, key: Key) -> ConditionFailed:
        return ConditionFailed(f"table {self.spec.name}: the condition on item {dict(key)} did "
                               "not hold; nothing was changed")

    def _single(self, op: Op, key: Key) -> _Prepared:
        try:
            return self._t.run_transaction([op], single=True)[0]
        except TransactionCanceled:
            raise self._refuse(key) from None

    # ------------------------------------------------------------------ single items

    def get(self, key: Key) -> Item | None:
        check_key(self.spec, key)
        return self._t.visible(self.spec, self._t.read_raw(self.spec, key),
                               self._t.now().timestamp())

    def put(self, item: Item, *, condition: Cond | None = None) -> None:
        spec = self.spec
        check_item(spec, item)
        if spec.audit:
            self._single(Put(spec.name, dict(item), condition), spec.key_of(item))
            return
        ex = Expression()
        params = condition_params(on_visible(spec, condition, self._t.now().timestamp()), spec, ex)
        try:
            self._t.call("put_item", spec.name, TableName=self.physical,
                         Item=to_item(self._t.stored_form(spec, item)), **params, **ex.params())
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise self._refuse(spec.key_of(item)) from None
            raise

    def update(
        self,
        key: Key,
        *,
        set: Mapping[str, Value] | None = None,
        add: Mapping[str, Value] | None = None,
        remove: Sequence[str] = (),
        condition: Cond | None = None,
    ) -> Item:
        spec = self.spec
        op = Update(spec.name, dict(key), dict(set or {}), dict(add or {}), tuple(remove),
                    condition)
        validate_update(spec, op)
        if spec.audit:
            done = self._single(op, key)
            return dict(done.new or {})
        for _ in range(MAX_ATTEMPTS):
            done, result = self._update_once(op)
            if done:
                return result
        raise Unavailable(f"table {spec.name}: the item kept changing under the update; retry",
                          code="busy")

    def _update_once(self, op: Update) -> tuple[bool, Item]:
        """One try: update in place; on a TTL table whose item turns out expired, replace it
        (guarded on its still being expired). (False, {}) means try again."""
        spec = self.spec
        now = self._t.now().timestamp()
        ex = Expression()
        cond = fold(op.condition)
        if spec.ttl:
            cond = both(cond, negate(Cond("le", (spec.ttl, now))))
        params = condition_params(cond, spec, ex)
        if spec.ttl:
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        upd = update_expression(spec, op.set, op.add, op.remove, ex)
        try:
            resp = self._t.call("update_item", spec.name, TableName=self.physical,
                                Key=to_item(op.key), UpdateExpression=upd, ReturnValues="ALL_NEW",
                                **params, **ex.params())
            return True, from_item(resp["Attributes"])
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old_raw = getattr(exc, "response", {}).get("Item")
        old = from_item(old_raw) if old_raw else None
        if not spec.ttl or not self._t.expired(spec, old, now) or \
                not evaluate(op.condition, None):
            raise self._refuse(op.key)
        new = apply_update(spec, None, op)
        guard = Expression()
        try:
            self._t.call("put_item", spec.name, TableName=self.physical,
                         Item=to_item(self._t.stored_form(spec, new)),
                         **condition_params(Cond("le", (spec.ttl, now)), spec, guard),
                         **guard.params())
            return True, new
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False, {}

    def delete(self, key: Key, *, condition: Cond | None = None) -> Item | None:
        spec = self.spec
        check_key(spec, key)
        if spec.audit:
            return self._single(Delete(spec.name, dict(key), condition), key).visible
        now = self._t.now().timestamp()
        ex = Expression()
        params = condition_params(on_visible(spec, condition, now), spec, ex)
        try:
            resp = self._t.call("delete_item", spec.name, TableName=self.physical,
                                Key=to_item(key), ReturnValues="ALL_OLD", **params, **ex.params())
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise self._refuse(key) from None
            raise
        old = resp.get("Attributes")
        return self._t.visible(spec, from_item(old), now) if old else None

    # ------------------------------------------------------------------ reads of many

    @staticmethod
    def _check_limit(limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise Invalid(f"limit must be a positive whole number (got {limit!r})",
                          code="invalid_limit")

    def _position_attrs(self, index: str | None) -> list[tuple[str, KeyType]]:
        spec = self.spec
        out: list[tuple[str, KeyType]] = [(spec.pk, spec.pk_type)]
        if spec.sk:
            out.append((spec.sk, spec.sk_type))
        if index is not None:
            ix = spec.index(index)
            for name, kind in ((ix.pk, ix.pk_type), (ix.sk, ix.sk_type)):
                if name and name not in dict(out):
                    out.append((name, kind))
        return out

    def _start_key(
        self, cursor: str, on: str, partition: Value, attrs: list[tuple[str, KeyType]]
    ) -> dict[str, Any]:
        pos = decode_cursor(cursor)
        k = pos.get("k")
        ok = (pos.get("t") == self.spec.name and pos.get("on") == on and "p" in pos
              and type(pos["p"]) is type(partition) and pos["p"] == partition
              and isinstance(k, dict) and set(k) == {a for a, _ in attrs}
              and all(_type_ok(k[a], kind) for a, kind in attrs))
        if not ok:
            raise Invalid(f"the cursor was not given out by this query on table "
                          f"{self.spec.name}", code="invalid_cursor")
        return to_item(k)

    def _read_pages(
        self, method: str, params: dict[str, Any], limit: int | None, on: str,
        partition: Value, attrs: list[tuple[str, KeyType]],
    ) -> Page:
        """Follow DynamoDB's pages until `limit` visible items and one more are seen (so the
        cursor is None exactly when nothing is left), or the end."""
        now = self._t.now().timestamp()
        items: list[Item] = []
        while True:
            request = dict(params)
            if limit is not None:
                request["Limit"] = limit + 1 - len(items)
            resp = self._t.call(method, self.spec.name, **request)
            for raw in resp.get("Items", []):
                item = self._t.visible(self.spec, from_item(raw), now)
                if item is not None:
                    items.append(item)
            last = resp.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) > limit):
                break
            params = {**params, "ExclusiveStartKey": last}
        cursor = None
        if limit is not None and len(items) > limit:
            items = items[:limit]
            cursor = encode_cursor({"t": self.spec.name, "on": on, "p": partition,
                                    "k": {a: items[-1][a] for a, _ in attrs}})
        return Page(items, cursor)

    def query(
        self,
        partition: Value,
        *,
        sort: SortKey | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        spec = self.spec
        self._check_limit(limit)
        if index is None:
            pk_attr, pk_type, sk_attr, sk_type, on = spec.pk, spec.pk_type, spec.sk, \
                spec.sk_type, ""
        else:
            ix = spec.index(index)
            pk_attr, pk_type, sk_attr, sk_type, on = ix.pk, ix.pk_type, ix.sk, ix.sk_type, \
                ix.name
        self._check_partition(partition, pk_type)
        sort = self._check_sort(sort, sk_attr, sk_type, on)
        attrs = self._position_attrs(index)
        start = self._start_key(cursor, on, partition, attrs) if cursor is not None else None
        if sort is False or partition in ("", b""):
            return Page([], None)
        ex = Expression()
        params: dict[str, Any] = {
            "TableName": self.physical,
            "KeyConditionExpression": key_condition(pk_attr, partition, sk_attr,
                                                    sort or None, ex),
            "ScanIndexForward": forward, **ex.params()}
        if index is None:
            params["ConsistentRead"] = True
        else:
            params["IndexName"] = index
        if start is not None:
            params["ExclusiveStartKey"] = start
        return self._read_pages("query", params, limit, on, partition, attrs)

    def _check_partition(self, v: Value, kind: KeyType) -> None:
        if not _type_ok(v, kind):
            want = {"S": "a string", "N": "a number", "B": "bytes"}[kind]
            raise Invalid(f"table {self.spec.name}: the partition must be {want} "
                          f"(got {type(v).__name__})", code="invalid_key")
        if isinstance(v, float) and not math.isfinite(v):
            raise Invalid(f"table {self.spec.name}: the partition must be finite",
                          code="invalid_key")

    def _check_sort(
        self, sort: SortKey | None, sk_attr: str | None, kind: KeyType, on: str
    ) -> SortKey | bool | None:
        """The sort condition to send; False when it can match nothing, None for none."""
        if sort is None:
            return None
        if sk_attr is None:
            raise Invalid(f"table {self.spec.name}: {'index ' + on if on else 'the table'} has "
                          "no sort key to put a condition on", code="invalid_query")
        for v in sort.args:
            if not _type_ok(v, kind):
                want = {"S": "a string", "N": "a number", "B": "bytes"}[kind]
                raise Invalid(f"table {self.spec.name}: the sort-key condition needs {want} "
                              f"(got {type(v).__name__})", code="invalid_key")
        if sort.op == "begins_with":
            if kind == "N":
                raise Invalid(f"table {self.spec.name}: begins_with works on string or bytes "
                              "sort keys only", code="invalid_key")
            if not sort.args[0]:
                return None  # every key begins with nothing
        if sort.op == "between" and sort.args[0] > sort.args[1]:
            return False
        if any(v in ("", b"") for v in sort.args):
            return self._empty_bound(sort)
        return sort

    @staticmethod
    def _empty_bound(sort: SortKey) -> SortKey | bool | None:
        """DynamoDB refuses an empty string in a key condition; keys are never empty, so an
        empty bound is below every key."""
        if sort.op in ("eq", "lt", "le"):
            return False
        if sort.op in ("gt", "ge"):
            return None
        if sort.args[1] in ("", b""):  # between "" and "": no key is that small
            return False
        return SortKey.le(sort.args[1])  # between "" and high

    def scan(self, *, limit: int | None = None, cursor: str | None = None) -> Page:
        self._check_limit(limit)
        attrs = self._position_attrs(None)
        params: dict[str, Any] = {"TableName": self.physical, "ConsistentRead": True}
        if cursor is not None:
            params["ExclusiveStartKey"] = self._start_key(cursor, "*", None, attrs)
        return self._read_pages("scan", params, limit, "*", None, attrs)


__all__ = ["REV", "DynamoTable", "DynamoTables", "to_attr"]
