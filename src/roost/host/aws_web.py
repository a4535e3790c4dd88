"""The web pages on AWS: the same host application `roost serve` runs, as one Lambda.

API routes are each their own Lambda (`roost.cloud.aws.lambda_entry.http`); everything else a
browser asks for — the apps' pages and their form posts, the sign-in pages, `/static`, the home
page — is the HTTP API's default route, served by this one function: the host's FastAPI app on
the AWS adapters, behind Mangum (API Gateway events in, ASGI out). Pages authenticate by the
`roost_access` cookie (the Cognito ID token), refuse cross-site posts and render exactly as they
do locally, so there is one implementation of every page.

Differences from `roost serve`: no dispatcher or scheduler here (the outbox stream delivers
events), no dev pages (`/dev/mail`), and the site's address is the request's own host unless
`ROOST_BASE_URL` names one (a custom domain).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from roost.host.bootstrap import Runtime, installed_apps
from roost.host.settings import Settings


class StreamDelivers:
    """The host wakes its dispatcher after a write; on AWS the outbox stream delivers."""

    def notify(self) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self, timeout: float = 10.0) -> None:
        return None


def web_runtime(aws: Any, settings: Settings) -> Runtime:
    """The host's Runtime on an `AwsRuntime`'s adapters (`roost.cloud.aws.runtime`)."""
    r = aws.resources
    return Runtime(settings=settings, clock=r.clock, registry=aws.registry, tables=r.tables,
                   blobs=r.blobs, mailer=r.mailer, identity=r.identity,
                   dispatcher=StreamDelivers(), scheduler=StreamDelivers())


def make_handler(aws: Any, settings: Settings | None = None) -> Any:
    """A Lambda handler serving the host app on `aws`; tests pass a runtime built on moto."""
    from mangum import Mangum

    from roost.host.app import build_api

    settings = settings or Settings(dev_mode=False, run_worker=False)
    api = build_api(aws.registry, settings)
    api.state.runtime = web_runtime(aws, settings)
    serve = Mangum(api, lifespan="off")
    fixed_base = "ROOST_BASE_URL" in os.environ or settings.base_url.startswith("https://")

    def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        if not fixed_base:  # the API's own address: cookies Secure, links absolute
            host = (event.get("requestContext") or {}).get("domainName")
            if host:
                settings.base_url = f"https://{host}"
        return serve(dict(event), context)  # type: ignore[no-any-return]

    return handler


_handler: Any = None


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """The web Lambda's entry: built on the first request, kept while the container lives."""
    global _handler
    if _handler is None:
        from roost.cloud.aws.runtime import aws_runtime

        names = [n.strip() for n in os.environ.get("ROOST_APPS", "").split(",") if n.strip()]
        apps = installed_apps(names or None)  # module paths; the system apps are added
        _handler = make_handler(aws_runtime(apps=apps))
    return _handler(event, context)  # type: ignore[no-any-return]
