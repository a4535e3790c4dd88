"""Lambda events as AWS sends them (API Gateway HTTP API v2, DynamoDB stream, SQS), and a
caller signed in for real, for the Lambda entry tests."""

from __future__ import annotations

import json
from typing import Any

from roost.cloud.aws.dynamo_values import to_item
from roost.cloud.aws.runtime import AwsRuntime
from roost.cloud.identity import Grant
from support.tokens import access_token


def http_event(method: str, path: str, *, route: str, body: Any = None, token: str | None = None,
               path_params: dict[str, str] | None = None, query: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, cookies: list[str] | None = None
               ) -> dict[str, Any]:
    """An API Gateway HTTP API request, payload format 2.0, as Lambda receives it."""
    hdrs = {"host": "abc123.execute-api.eu-central-1.amazonaws.com",
            "content-type": "application/json", "user-agent": "curl/8.5.0", **(headers or {})}
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": hdrs, "queryStringParameters": query, "pathParameters": path_params,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": hdrs["host"],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": f"{method} {route}", "stage": "$default",
            "time": "05/Jan/2026:09:00:00 +0000", "timeEpoch": 1767603600000},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
        **({"cookies": cookies} if cookies else {}),
    }


def sign_in(rt: AwsRuntime, email: str, *grants: Grant) -> str:
    identity = rt.resources.identity
    for g in grants:
        identity.grant(email, g, by="test")
    return access_token(identity, email)


def stream_event(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The outbox table's DynamoDB stream (NEW_IMAGE) as Lambda receives it."""
    return {"Records": [{
        "eventID": f"ev{i}", "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "eu-central-1",
        "dynamodb": {"Keys": to_item({"pk": it["pk"], "sk": it["sk"]}),
                     "NewImage": to_item(it), "SequenceNumber": str(100 + i),
                     "SizeBytes": 200, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/x/stream/2026"}
        for i, it in enumerate(items)]}


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767603600000"},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:q", "awsRegion": "eu-central-1",
    } for m in messages]}
