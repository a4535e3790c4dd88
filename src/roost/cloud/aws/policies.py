"""Each function's IAM policy, built only from what it declared (`Uses`) — the same declaration
the local guards enforce, so a function that would be refused on AWS fails locally first.

- `reads=[t]`: GetItem, Query, Scan, ConditionCheckItem on table t and each of its indexes.
- `writes=[t]`: the reads, plus PutItem, UpdateItem, DeleteItem on t; if t is audited, PutItem
  on the audit table (its records are written in the same transaction).
- `blobs=["p/"]`: Get/Put/DeleteObject and AbortMultipartUpload on `bucket/p*`, ListBucket
  limited to the prefix, GetLifecycleConfiguration (reads filter expired blobs).
- `mail=True`: ses:SendEmail from the sender identity; the mail idempotency table.
- `publishes=[...]`: PutItem on the outbox table, only in its `pending` partition.
- roles other than public: a query of the grant table (the caller's roles; the token itself is
  checked against the Cognito pool's keys, no table needed).
- the system apps that run sign-in and grants (auth, admin): the identity tables, and
  AdminGetUser/AdminCreateUser on the user pool (a first code sign-in or a grant ahead of one
  creates the pool user).
- an event handler or schedule: receive/delete on its own queue.

Resources are always exact ARNs (tables, indexes, the bucket's prefixes, queues); no `*`.
"""

from __future__ import annotations

import re
from typing import Any

from roost.cloud.audit import AUDIT
from roost.cloud.events import OUTBOX
from roost.cloud.functions import PUBLIC, Function
from roost.cloud.table import TableSpec

READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
OBJECTS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
QUEUE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
         "sqs:GetQueueAttributes"]
IDENTITY_READS = ("roost_grants",)
COGNITO_USERS = ["cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser"]
USER_POOL = "UserPool"  # the template's logical id of the Cognito user pool
IDENTITY_APPS = frozenset({"auth", "admin"})  # system apps that drive identity's own flows


def logical_id(kind: str, name: str) -> str:
    """A CloudFormation logical id: `Table` + `RoomsBookings` for "rooms_bookings"."""
    return kind + "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


def table_arn(spec: TableSpec) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id("Table", spec.name), "Arn"]}


def index_arn(spec: TableSpec, index: str) -> dict[str, Any]:
    return {"Fn::Sub": f"${{{logical_id('Table', spec.name)}.Arn}}/index/{index}"}


def _table_resources(spec: TableSpec) -> list[dict[str, Any]]:
    return [table_arn(spec), *(index_arn(spec, ix.name) for ix in spec.indexes)]


def statements(
    fn: Function, specs: dict[str, TableSpec], *, mail_table: TableSpec,
    identity_tables: list[TableSpec], queue: str | None = None,
) -> list[dict[str, Any]]:
    """The IAM statements of `fn` (without logging, which every function gets for its own log
    group)."""
    uses = fn.uses
    out: list[dict[str, Any]] = []
    reads = [specs[t] for t in uses.reads if t not in uses.writes]
    writes = [specs[t] for t in uses.writes]
    if reads:
        out.append({"Sid": "ReadTables", "Effect": "Allow", "Action": READ,
                    "Resource": [r for s in reads for r in _table_resources(s)]})
    if writes:
        out.append({"Sid": "WriteTables", "Effect": "Allow", "Action": READ + WRITE,
                    "Resource": [r for s in writes for r in _table_resources(s)]})
        if any(s.audit for s in writes):
            out.append({"Sid": "AuditTrail", "Effect": "Allow", "Action": ["dynamodb:PutItem"],
                        "Resource": [table_arn(specs[AUDIT.name])]})
    if uses.publishes:
        out.append({"Sid": "Publish", "Effect": "Allow", "Action": ["dynamodb:PutItem"],
                    "Resource": [table_arn(specs[OUTBOX.name])],
                    "Condition": {"ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": ["pending"]}}})
    if uses.blobs:
        out.append({"Sid": "Blobs", "Effect": "Allow", "Action": OBJECTS,
                    "Resource": [{"Fn::Sub": f"${{Blobs.Arn}}/{p}*"} for p in uses.blobs]})
        out.append({"Sid": "ListBlobs", "Effect": "Allow", "Action": ["s3:ListBucket"],
                    "Resource": [{"Fn::GetAtt": ["Blobs", "Arn"]}],
                    "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in uses.blobs]}}})
        out.append({"Sid": "BlobExpiry", "Effect": "Allow",
                    "Action": ["s3:GetLifecycleConfiguration"],
                    "Resource": [{"Fn::GetAtt": ["Blobs", "Arn"]}]})
    if uses.mail:
        out.append({"Sid": "SendMail", "Effect": "Allow", "Action": ["ses:SendEmail"],
                    "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:"
                                  "${AWS::AccountId}:identity/${MailIdentity}"}]})
        out.append({"Sid": "MailOnce", "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", *WRITE],
                    "Resource": [table_arn(mail_table)]})
    if fn.app in IDENTITY_APPS:
        out.append({"Sid": "Identity", "Effect": "Allow", "Action": READ + WRITE,
                    "Resource": [r for s in identity_tables for r in _table_resources(s)]})
        out.append({"Sid": "PoolUsers", "Effect": "Allow", "Action": COGNITO_USERS,
                    "Resource": [{"Fn::GetAtt": [USER_POOL, "Arn"]}]})
    elif fn.kind in ("route", "page") and any(r != PUBLIC for r in fn.roles):
        verify = [s for s in identity_tables if s.name in IDENTITY_READS]
        out.append({"Sid": "VerifyCaller", "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                    "Resource": [r for s in verify for r in _table_resources(s)]})
    if queue is not None:
        out.append({"Sid": "OwnQueue", "Effect": "Allow", "Action": QUEUE,
                    "Resource": [{"Fn::GetAtt": [queue, "Arn"]}]})
    return out
