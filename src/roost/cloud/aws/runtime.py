"""What one Lambda function runs on: its app's registry and the AWS adapters, built once per
container (cold start) from the environment the template sets.

| variable | meaning |
|---|---|
| `ROOST_FUNCTION` | the function this Lambda runs (`<app>.<name>`) |
| `ROOST_APPS` | the app module(s) to import (default: `roost.apps.<app of ROOST_FUNCTION>`) |
| `ROOST_TABLE_PREFIX` | DynamoDB table names are `<prefix><table>` |
| `ROOST_BUCKET` | the S3 bucket of blobs |
| `ROOST_MAIL_SENDER` | the verified SES sender |
| `ROOST_SECRET` | derives one-time codes (and, without Cognito, signs access tokens) |
| `ROOST_COGNITO_POOL_ID`, `ROOST_COGNITO_CLIENT_ID` | identity is that Cognito pool and client |
| `ROOST_COGNITO_JWKS_URL` | where the pool's keys are (default: the pool's own address) |
| `ROOST_ADMIN_EMAILS` | comma-separated addresses that are system admins |
| `ROOST_QUEUE_URLS` | JSON: handler name -> SQS queue URL (the outbox dispatcher's) |

Only the function's own app is imported, so a cold start pays for one app, not six.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roost.cloud.audit import AUDIT
from roost.cloud.clock import Clock, SystemClock
from roost.cloud.events import OUTBOX
from roost.cloud.functions import App, Function, Registry, Resources
from roost.cloud.table import TableSpec


class LazyClient:
    """A boto3 client made on first use: creating one loads its service model (tens to hundreds
    of milliseconds), which a function that never touches S3 or SES should not pay at start."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return getattr(self._client, name)


@dataclass
class AwsRuntime:
    registry: Registry
    resources: Resources
    queue_urls: Mapping[str, str] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    def function(self, name: str) -> Function:
        try:
            return self.registry.function(name)
        except KeyError:
            raise LookupError(f"no function {name!r} in apps "
                              f"{[a.name for a in self.registry.apps]}") from None


def core_tables(registry: Registry) -> list[TableSpec]:
    """Every table the deployment holds: the apps', the core's, the outbox, identity's."""
    from roost.cloud.aws.ses_mailer import MAIL_SENT
    from roost.cloud.local.identity_tables import TABLES as IDENTITY_TABLES

    out: dict[str, TableSpec] = {}
    for spec in (AUDIT, OUTBOX, MAIL_SENT, *IDENTITY_TABLES, *registry.table_specs()):
        out.setdefault(spec.name, spec)
    return list(out.values())


def _apps(env: Mapping[str, str]) -> list[App]:
    names = env.get("ROOST_APPS") or ""
    if not names:
        function = env.get("ROOST_FUNCTION", "")
        names = f"roost.apps.{function.split('.', 1)[0]}" if function else ""
    apps = []
    for name in filter(None, (n.strip() for n in names.split(","))):
        module = importlib.import_module(name if "." in name else f"roost.apps.{name}")
        apps.append(module.app)
    return apps


def _identity(env: Mapping[str, str], tables: Any, clock: Clock,
              client: Callable[[str], Any]) -> Any:
    """Cognito when the template names a user pool (`ROOST_COGNITO_POOL_ID`); otherwise
    Roost's own identity on the DynamoDB identity tables."""
    secret = env["ROOST_SECRET"].encode()
    admins = [e for e in env.get("ROOST_ADMIN_EMAILS", "").split(",") if e.strip()]
    pool = env.get("ROOST_COGNITO_POOL_ID")
    if pool:
        from roost.cloud.aws.clients import DEFAULT_REGION
        from roost.cloud.aws.cognito_identity import CognitoIdentity

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return CognitoIdentity(tables, clock=clock, cognito=client("cognito-idp"),
                               pool_id=pool, client_id=env["ROOST_COGNITO_CLIENT_ID"],
                               region=region, secret=secret,
                               jwks_url=env.get("ROOST_COGNITO_JWKS_URL") or None,
                               allowed_email_pattern=env.get("ROOST_ALLOWED_EMAIL_PATTERN"),
                               admin_emails=admins)
    from roost.cloud.local.identity import LocalIdentity

    return LocalIdentity(tables, clock=clock, secret=secret, admin_emails=admins)


def aws_runtime(
    *, apps: Sequence[App] | None = None, env: Mapping[str, str] | None = None,
    clock: Clock | None = None, clients: Mapping[str, Any] | None = None,
) -> AwsRuntime:
    """Build the runtime; tests pass `apps`, `clock` and boto3 `clients` (on moto)."""
    from roost.cloud.aws.clients import aws_client
    from roost.cloud.aws.dynamo_table import DynamoTables
    from roost.cloud.aws.s3_blobs import S3Blobs
    from roost.cloud.aws.ses_mailer import SesMailer

    env = os.environ if env is None else env
    clock = clock or SystemClock()
    made = dict(clients or {})

    def client(service: str) -> Any:
        if service not in made:
            made[service] = LazyClient(lambda: aws_client(service))
        return made[service]

    registry = Registry(apps if apps is not None else _apps(env))
    tables = DynamoTables(client("dynamodb"), core_tables(registry), clock=clock,
                          prefix=env.get("ROOST_TABLE_PREFIX", "roost_"))
    blobs = S3Blobs(client("s3"), env.get("ROOST_BUCKET", "roost-blobs"), clock=clock,
                    root=env.get("ROOST_BLOB_ROOT", ""))
    mailer = SesMailer(client("sesv2"), clock=clock, tables=tables,
                       sender=env.get("ROOST_MAIL_SENDER", "roost@localhost"))
    secret = env.get("ROOST_SECRET", "")
    identity = _identity(env, tables, clock, client) if secret else None
    resources = Resources(tables=tables, blobs=blobs, mailer=mailer, clock=clock,
                          identity=identity)
    queues = json.loads(env.get("ROOST_QUEUE_URLS") or "{}")
    return AwsRuntime(registry=registry, resources=resources, queue_urls=queues, clients=made)
