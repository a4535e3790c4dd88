"""`roost deploy cost`: the monthly bill of a load, line by line, from unit prices shown beside it.

The prices are parameters, not facts of this code: the defaults are AWS's published on-demand list
prices in USD (Lambda: the same in Frankfurt as in N. Virginia; HTTP API and DynamoDB: N. Virginia,
Frankfurt's are a little higher) — check the pricing pages for your region before relying on a
figure. Free tiers are applied for Lambda (1 M requests, 400,000 GB-seconds a month) and Cognito
(10,000 monthly active users; every user is counted active, the worst case; Lite tier, which has
the custom-auth triggers code sign-in needs).

The Office Booker design estimate (10,000 users x 1,000 requests a day at 100 ms, "about $494 a
month") is Lambda compute alone at 1,024 MB on x86 after the free tier; the estimate here shows
what requests, the HTTP API and DynamoDB add to it.
"""

from __future__ import annotations

from dataclasses import dataclass

DAYS_PER_MONTH = 30
DESIGN_ESTIMATE = 494.0  # USD a month, from the Office Booker design document


@dataclass(frozen=True)
class Prices:
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second_x86: float = 0.0000166667
    lambda_per_gb_second_arm: float = 0.0000133334
    http_api_per_million: float = 1.00
    dynamodb_per_million_reads: float = 0.125  # on demand, read request units
    dynamodb_per_million_writes: float = 0.625  # on demand, write request units
    cognito_per_mau: float = 0.0055  # Lite tier, past the free 10,000
    free_mau: float = 10_000
    free_requests: float = 1_000_000
    free_gb_seconds: float = 400_000


@dataclass(frozen=True)
class Load:
    users: int
    requests_per_user_per_day: float
    duration_ms: float = 100.0
    memory_mb: int = 1024
    arm: bool = False
    reads_per_request: float = 0.0
    writes_per_request: float = 0.0

    @property
    def requests(self) -> float:
        """Requests a month."""
        return self.users * self.requests_per_user_per_day * DAYS_PER_MONTH


def estimate(load: Load, prices: Prices | None = None) -> dict[str, float]:
    """USD a month per line, and the total."""
    p = prices or Prices()
    n = load.requests
    gb_seconds = n * load.duration_ms / 1000 * load.memory_mb / 1024
    rate = p.lambda_per_gb_second_arm if load.arm else p.lambda_per_gb_second_x86
    lines = {
        "lambda compute": max(gb_seconds - p.free_gb_seconds, 0) * rate,
        "lambda requests": max(n - p.free_requests, 0) / 1e6 * p.lambda_per_million_requests,
        "http api": n / 1e6 * p.http_api_per_million,
        "dynamodb reads": n * load.reads_per_request / 1e6 * p.dynamodb_per_million_reads,
        "dynamodb writes": n * load.writes_per_request / 1e6 * p.dynamodb_per_million_writes,
        "cognito users": max(load.users - p.free_mau, 0) * p.cognito_per_mau,
    }
    lines["total"] = sum(lines.values())
    return lines
