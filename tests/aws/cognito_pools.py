"""Cognito user pools on the session's moto server, for the identity and web-page tests: a pool
made as the template makes it (email usernames, the app client's three flows) and accounts as an
administrator makes them."""

from __future__ import annotations

import uuid

from support.moto_server import REGION, client, endpoint

PASSWORD = "Correct-horse-battery-7"


def cognito_pool() -> tuple[str, str]:
    """(pool id, app client id) of a new pool."""
    idp = client("cognito-idp")
    pool = idp.create_user_pool(PoolName=f"p{uuid.uuid4().hex[:8]}",
                                UsernameAttributes=["email"])["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="roost", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    return pool, app


def cognito_env(pool: str, app: str) -> dict[str, str]:
    """What the template tells a function about the pool, with its keys on moto."""
    return {"AWS_REGION": REGION, "ROOST_COGNITO_POOL_ID": pool, "ROOST_COGNITO_CLIENT_ID": app,
            "ROOST_COGNITO_JWKS_URL": f"{endpoint()}/{pool}/.well-known/jwks.json"}


def pool_user(pool: str, email: str, password: str = PASSWORD) -> None:
    """An account as an administrator makes one: verified email, permanent password."""
    idp = client("cognito-idp")
    idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": email},
                                          {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=password,
                                Permanent=True)
