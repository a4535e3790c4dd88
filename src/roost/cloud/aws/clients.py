"""boto3 clients configured once for every adapter: the region (Frankfurt unless told), standard
retries, a connection pool wide enough for threaded callers, and an optional endpoint (moto,
DynamoDB Local) for tests and local runs."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_REGION = "eu-central-1"


def aws_client(
    service: str, *, endpoint_url: str | None = None, region: str | None = None,
    max_pool: int = 32,
) -> Any:
    """A boto3 client. boto3 is imported here, not at module import, so modules that only
    declare things (the template generator, the registry) stay cheap to import."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=max_pool,
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, config=config)
