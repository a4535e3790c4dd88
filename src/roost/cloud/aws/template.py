"""`roost deploy template`: a SAM (CloudFormation) template generated from the registry.

One Lambda per route and per event handler or schedule, each with its own role holding only
what it declared (`roost.cloud.aws.policies`); the tables (point-in-time recovery, encryption,
TTL, the outbox's stream); the blob bucket (public access blocked, encryption, lifecycle rules);
a queue and a dead-letter queue per handler, with an alarm on the dead letters; the HTTP API;
an alarm on each function's errors; the outbox dispatcher, fed by the outbox stream.

Identity is a Cognito user pool: sign-in by emailed code runs through the custom-auth triggers
(`cognito_triggers`, three small Lambdas of their own), and the HTTP API's JWT authorizer checks
the pool's ID token before any non-public route's Lambda runs — which checks it again, with the
caller's roles, so a function is safe however it is invoked.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from roost.cloud.aws.cognito_triggers import TRIGGERS
from roost.cloud.aws.dynamo_schema import table_definition
from roost.cloud.aws.policies import USER_POOL, logical_id, statements, table_arn
from roost.cloud.aws.runtime import core_tables
from roost.cloud.aws.s3_blobs import RULE_ID
from roost.cloud.events import OUTBOX
from roost.cloud.functions import PUBLIC, Function, Registry

DEFAULT_LIFECYCLE: dict[str, int] = {"images/": 7}  # the image pipeline keeps nothing longer
ENTRY = "roost.cloud.aws.lambda_entry"
MAX_RECEIVES = 5  # deliveries of one event before it is parked in the dead-letter queue
LAMBDA_RUNTIME = "python3.13"  # the code needs 3.11+; 3.11 itself is past its Lambda end of life
TRIGGER_MODULE = "roost.cloud.aws.cognito_triggers"
TOKEN_MINUTES = 15  # ID and access tokens; a signed-out token lapses within this
REFRESH_DAYS = 30


def _app_module(fn: Function) -> str:
    """The module holding the function's `app`, which its Lambda imports (and nothing else)."""
    module = sys.modules.get(fn.func.__module__)
    if module is not None and getattr(module, "app", None) is not None:
        return fn.func.__module__
    return fn.func.__module__.rsplit(".", 1)[0]


def _app_package(fn: Function) -> str:
    """The outermost module holding the same `app` as the function's module: the app's
    package, which imports all of it."""
    module = _app_module(fn)
    app = getattr(sys.modules.get(module), "app", None)
    while "." in module:
        parent = module.rsplit(".", 1)[0]
        if app is None or getattr(sys.modules.get(parent), "app", None) is not app:
            break
        module = parent
    return module


def _function_name(fn: Function) -> dict[str, Any]:
    """`<stack>-<app>-<name>`; long names are cut and kept unique by a hash (64 characters)."""
    short = fn.name.replace(".", "-").replace("_", "-")
    if len(short) > 36:
        short = short[:27] + "-" + hashlib.sha256(fn.name.encode()).hexdigest()[:8]
    return {"Fn::Sub": f"${{AWS::StackName}}-{short}"}


def eventbridge_cron(cron: str) -> str:
    """A five-field cron as EventBridge Scheduler writes it: `cron(min hour dom month dow year)`,
    one of day-of-month and day-of-week being `?`, weekdays numbered from 1 (Sunday)."""
    minute, hour, dom, month, dow = cron.split()
    if dow != "*":
        dow = ",".join(str(int(d) % 7 + 1) if d.isdigit() else d.upper() for d in dow.split(","))
        dom = "?"
    else:
        dow = "?"
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def _role(stmts: list[dict[str, Any]], name: dict[str, Any]) -> dict[str, Any]:
    logs = {"Sid": "OwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [{"Fn::Sub": ["arn:${AWS::Partition}:logs:${AWS::Region}:"
                                      "${AWS::AccountId}:log-group:/aws/lambda/${Name}:*",
                                      {"Name": name}]}]}
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "declared-uses", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [*stmts, logs]}}]}}


def _lambda(key: str, name: dict[str, Any], handler: str, stmts: list[dict[str, Any]],
            **properties: Any) -> dict[str, Any]:
    """A function with a role of its own (`stmts`, and writing to its own logs) and its log
    group (kept 30 days; made first, so Lambda never creates one that is kept forever):
    `Fn<key>`, `Role<key>`, `Logs<key>`."""
    role, logs = f"Role{key}", f"Logs{key}"
    return {
        role: _role(stmts, name),
        logs: {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": ["/aws/lambda/${Name}", {"Name": name}]},
            "RetentionInDays": 30}},
        f"Fn{key}": {"Type": "AWS::Serverless::Function", "DependsOn": [logs], "Properties": {
            "FunctionName": name, "Handler": handler, "Role": {"Fn::GetAtt": [role, "Arn"]},
            **properties}},
    }


def _alarm(description: str, namespace: str, metric: str, dimension: dict[str, Any],
           threshold: int = 1) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [dimension], "Statistic": "Maximum",
        "Period": 300, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "Alarms"}]}}


def build_template(
    registry: Registry, *, lifecycle: Mapping[str, int] | None = None,
    code_uri: str = "dist/roost-lambda.zip", memory: int = 512, timeout: int = 10,
) -> dict[str, Any]:
    """The template as a dict (write it with `json.dumps`)."""
    from roost.cloud.aws.ses_mailer import MAIL_SENT
    from roost.cloud.local.identity_tables import TABLES as IDENTITY_TABLES

    specs = {s.name: s for s in core_tables(registry)}
    identity = [specs[s.name] for s in IDENTITY_TABLES]
    blob_prefixes = {p for f in registry.functions() for p in f.uses.blobs}
    rules = {p: d for p, d in (DEFAULT_LIFECYCLE if lifecycle is None else lifecycle).items()
             if lifecycle is not None or any(b.startswith(p) for b in blob_prefixes)}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {
        "ApiUrl": {"Value": {"Fn::Sub": "https://${Api}.execute-api."
                                        "${AWS::Region}.amazonaws.com"}},
        "UserPoolId": {"Value": {"Ref": USER_POOL}},
        "UserPoolClientId": {"Value": {"Ref": "UserPoolClient"}}}

    for spec in specs.values():
        props: dict[str, Any] = {
            "TableName": {"Fn::Sub": f"${{TablePrefix}}{spec.name}"}, **table_definition(spec),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True}}
        if spec.ttl:
            props["TimeToLiveSpecification"] = {"AttributeName": spec.ttl, "Enabled": True}
        if spec.name == OUTBOX.name:
            props["StreamSpecification"] = {"StreamViewType": "NEW_IMAGE"}
        resources[logical_id("Table", spec.name)] = {
            "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain", "Properties": props}

    resources["Blobs"] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                          "UpdateReplacePolicy": "Retain", "Properties": {
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "LifecycleConfiguration": {"Rules": [
            {"Id": "roost-abort-uploads", "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            *({"Id": RULE_ID + p, "Status": "Enabled", "Prefix": p, "ExpirationInDays": d}
              for p, d in sorted(rules.items()))]}}}
    resources["Api"] = {"Type": "AWS::Serverless::HttpApi", "Properties": {"Auth": {
        "Authorizers": {"Cognito": {
            "IdentitySource": "$request.header.Authorization",
            "JwtConfiguration": {
                "issuer": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/"
                                      f"${{{USER_POOL}}}"},
                "audience": [{"Ref": "UserPoolClient"}]}}},
        "DefaultAuthorizer": "Cognito"}}}
    resources.update(_cognito(specs))
    resources["Alarms"] = {"Type": "AWS::SNS::Topic", "Properties": {}}

    queues: dict[str, str] = {}
    for fn in registry.functions():
        if fn.kind not in ("route", "handler", "schedule"):
            continue  # pages are the web Lambda's (`_web`); demos run locally
        name = _function_name(fn)
        queue = None
        events: dict[str, Any] = {}
        if fn.kind == "route":
            handler = f"{ENTRY}.http"
            events["Api"] = {"Type": "HttpApi", "Properties": {
                "ApiId": {"Ref": "Api"}, "Method": fn.method, "Path": fn.path}}
            if PUBLIC in fn.roles:  # the function still reads a token when one is sent
                events["Api"]["Properties"]["Auth"] = {"Authorizer": "NONE"}
        else:
            handler = f"{ENTRY}.sqs"
            queue, dead = logical_id("Queue", fn.name), logical_id("Dead", fn.name)
            queues[fn.name] = queue
            resources[dead] = {"Type": "AWS::SQS::Queue", "Properties": {
                "MessageRetentionPeriod": 14 * 86400, "SqsManagedSseEnabled": True}}
            resources[queue] = {"Type": "AWS::SQS::Queue", "Properties": {
                "VisibilityTimeout": timeout * 6, "SqsManagedSseEnabled": True,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dead, "Arn"]},
                                  "maxReceiveCount": MAX_RECEIVES}}}
            resources[logical_id("DeadAlarm", fn.name)] = _alarm(
                f"{fn.name}: events parked in its dead-letter queue", "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead, "QueueName"]}})
            events["Queue"] = {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": [queue, "Arn"]}, "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]}}
            if fn.kind == "schedule" and fn.cron:
                resources.update(_schedule(fn, queue))
        stmts = statements(fn, specs, mail_table=specs[MAIL_SENT.name],
                           identity_tables=identity, queue=queue)
        resources.update(_lambda(
            logical_id("", fn.name), name, handler, stmts, Events=events,
            Environment={"Variables": {"ROOST_FUNCTION": fn.name, "ROOST_APPS": _app_module(fn),
                                       **POOL_ENV}}))

    resources.update(_dispatcher(registry, specs, queues))
    resources.update(_web(registry, specs, identity, memory=max(memory, 1024), timeout=timeout))
    # One alarm on every function's errors: a CloudFormation stack holds at most 500 resources
    # (after SAM adds a permission or an event source mapping per function), so an alarm per
    # function does not fit six apps. The metric without dimensions sums the region's functions.
    resources["FunctionErrors"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": "Lambda functions raised errors (see each function's log group)",
        "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": 300,
        "EvaluationPeriods": 1, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": [{"Ref": "Alarms"}]}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "Roost: every registered function as its own Lambda, least privilege "
                       "from its declaration (generated by `roost deploy template`).",
        "Parameters": {
            "TablePrefix": {"Type": "String", "Default": "roost_",
                            "AllowedPattern": "[A-Za-z0-9_.-]*"},
            "MailSender": {"Type": "String", "Default": "roost@example.com",
                           "Description": "the From address; verify it in SES first"},
            "MailIdentity": {"Type": "String", "Default": "example.com",
                             "Description": "the SES identity (domain or address) it belongs to"},
            "Secret": {"Type": "String", "NoEcho": True, "MinLength": 32,
                       "Description": "signs access tokens (32 characters or more)"},
        },
        "Globals": {"Function": {
            "Runtime": LAMBDA_RUNTIME, "Architectures": ["arm64"], "MemorySize": memory,
            "Timeout": timeout, "CodeUri": code_uri,
            "Environment": {"Variables": {
                "ROOST_TABLE_PREFIX": {"Ref": "TablePrefix"}, "ROOST_BUCKET": {"Ref": "Blobs"},
                "ROOST_MAIL_SENDER": {"Ref": "MailSender"}, "ROOST_SECRET": {"Ref": "Secret"},
                "POWERTOOLS_SERVICE_NAME": "roost"}}}},
        "Resources": resources,
        "Outputs": outputs,
    }


POOL_ENV = {"ROOST_COGNITO_POOL_ID": {"Ref": USER_POOL},
            "ROOST_COGNITO_CLIENT_ID": {"Ref": "UserPoolClient"}}
"""Per function, not in Globals: the pool names the triggers, so the triggers cannot name it."""


def _cognito(specs: Mapping[str, Any]) -> dict[str, Any]:
    """The user pool, its app client, and the custom-auth triggers that sign in by code."""
    out: dict[str, Any] = {}
    lambda_config: dict[str, Any] = {}
    for hook, entry in TRIGGERS.items():
        key = logical_id("", f"cognito_{hook}")
        fid = f"Fn{key}"
        name = {"Fn::Sub": f"${{AWS::StackName}}-{hook}"}
        stmts: list[dict[str, Any]] = []
        if entry == "create_auth_challenge":  # writes the code's mail event to the outbox
            stmts.append({"Sid": "Publish", "Effect": "Allow", "Action": ["dynamodb:PutItem"],
                          "Resource": [table_arn(specs[OUTBOX.name])],
                          "Condition": {"ForAllValues:StringEquals": {
                              "dynamodb:LeadingKeys": ["pending"]}}})
        out.update(_lambda(key, name, f"{TRIGGER_MODULE}.{entry}", stmts))
        out[logical_id("Invoke", f"cognito_{hook}")] = {
            "Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [fid, "Arn"]},
                "Principal": "cognito-idp.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [USER_POOL, "Arn"]}}}
        lambda_config[hook] = {"Fn::GetAtt": [fid, "Arn"]}
    out[USER_POOL] = {"Type": "AWS::Cognito::UserPool", "DeletionPolicy": "Retain",
                      "UpdateReplacePolicy": "Retain", "Properties": {
        "UserPoolName": {"Fn::Sub": "${AWS::StackName}-users"},
        "UsernameAttributes": ["email"], "UsernameConfiguration": {"CaseSensitive": False},
        "AutoVerifiedAttributes": ["email"],
        # Accounts begin at a first code sign-in (the auth routes create them) or a grant.
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": False,
                                        "RequireUppercase": False, "RequireNumbers": False,
                                        "RequireSymbols": False,
                                        "TemporaryPasswordValidityDays": 3}},
        "AccountRecoverySetting": {"RecoveryMechanisms": [
            {"Name": "verified_email", "Priority": 1}]},
        "DeletionProtection": "ACTIVE", "LambdaConfig": lambda_config}}
    out["UserPoolClient"] = {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
        "UserPoolId": {"Ref": USER_POOL}, "ClientName": "roost", "GenerateSecret": False,
        "ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                              "ALLOW_REFRESH_TOKEN_AUTH"],
        "PreventUserExistenceErrors": "ENABLED", "EnableTokenRevocation": True,
        "AuthSessionValidity": 10,  # minutes to answer the emailed code
        "IdTokenValidity": TOKEN_MINUTES, "AccessTokenValidity": TOKEN_MINUTES,
        "RefreshTokenValidity": REFRESH_DAYS,
        "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes",
                               "RefreshToken": "days"},
        # Users may not change their own email: the ID token's email names the account.
        "ReadAttributes": ["email", "email_verified"], "WriteAttributes": ["name"]}}
    return out


WEB_ENTRY = "roost.host.aws_web.handler"
SYSTEM_MODULES = ("roost.host.auth", "roost.host.admin")  # the web Lambda adds them itself


def merged_statements(groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One policy for several functions' statements: the same Sid once, its actions and
    resources (and a listing's prefixes) united, so the policy stays under IAM's size limit."""
    out: dict[str, dict[str, Any]] = {}
    for st in (s for group in groups for s in group):
        have = out.get(st["Sid"])
        if have is None:
            out[st["Sid"]] = json.loads(json.dumps(st))
            continue
        for key in ("Action", "Resource"):
            have[key] += [x for x in st[key] if x not in have[key]]
        if st["Sid"] == "ListBlobs":
            prefixes = have["Condition"]["StringLike"]["s3:prefix"]
            prefixes += [p for p in st["Condition"]["StringLike"]["s3:prefix"]
                         if p not in prefixes]
        elif st.get("Condition") != have.get("Condition"):
            raise ValueError(f"statements {st['Sid']} differ in their conditions")
    return list(out.values())


def _web(registry: Registry, specs: Mapping[str, Any], identity: list[Any], *,
         memory: int, timeout: int) -> dict[str, Any]:
    """The pages' Lambda: the host app on the HTTP API's default route (every path no API route
    takes), its role the union of what its pages declared."""
    from roost.cloud.aws.ses_mailer import MAIL_SENT

    pages = registry.functions("page")
    if not pages:
        return {}
    name = {"Fn::Sub": "${AWS::StackName}-web"}
    stmts = merged_statements([
        statements(fn, dict(specs), mail_table=specs[MAIL_SENT.name], identity_tables=identity)
        for fn in pages])
    apps = sorted({_app_package(f) for f in registry.functions()} - set(SYSTEM_MODULES))
    return _lambda(
        "Web", name, WEB_ENTRY, stmts, MemorySize=memory, Timeout=timeout,
        Environment={"Variables": {"ROOST_APPS": ",".join(apps), "ROOST_DEV_MODE": "false",
                                   **POOL_ENV}},
        # No Path and Method: the API's $default route. Pages read the session cookie
        # themselves; the JWT authorizer (bearer header only) would refuse every browser.
        Events={"Web": {"Type": "HttpApi", "Properties": {
            "ApiId": {"Ref": "Api"}, "Auth": {"Authorizer": "NONE"}}}})


def _schedule(fn: Function, queue: str) -> dict[str, Any]:
    """An EventBridge Scheduler schedule that puts the schedule's event on its queue."""
    role = logical_id("ScheduleRole", fn.name)
    body = json.dumps({"type": fn.event_type, "data": {}, "id": "<aws.scheduler.execution-id>",
                       "at": "<aws.scheduler.scheduled-time>", "actor": "scheduler"})
    return {
        role: {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "send", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["sqs:SendMessage"],
                    "Resource": [{"Fn::GetAtt": [queue, "Arn"]}]}]}}]}},
        logical_id("Schedule", fn.name): {"Type": "AWS::Scheduler::Schedule", "Properties": {
            "ScheduleExpression": eventbridge_cron(fn.cron or "* * * * *"),
            "ScheduleExpressionTimezone": fn.tz, "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": {"Fn::GetAtt": [queue, "Arn"]},
                       "RoleArn": {"Fn::GetAtt": [role, "Arn"]}, "Input": body}}},
    }


def _dispatcher(registry: Registry, specs: Mapping[str, Any],
                queues: Mapping[str, str]) -> dict[str, Any]:
    """The Lambda fed by the outbox stream: each new event to its handlers' queues."""
    outbox = specs[OUTBOX.name]
    table = logical_id("Table", OUTBOX.name)
    name = {"Fn::Sub": "${AWS::StackName}-outbox"}
    stmts: list[dict[str, Any]] = [
        {"Sid": "ReadStream", "Effect": "Allow",
         "Action": ["dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:DescribeStream", "dynamodb:ListStreams"],
         "Resource": [{"Fn::GetAtt": [table, "StreamArn"]}]},
        {"Sid": "ClearOutbox", "Effect": "Allow", "Action": ["dynamodb:DeleteItem"],
         "Resource": [table_arn(outbox)]}]
    if queues:
        stmts.append({"Sid": "FanOut", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                      "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in queues.values()]})
    urls = {"Fn::Sub": json.dumps({h: f"${{{q}}}" for h, q in sorted(queues.items())})}
    apps = sorted({_app_module(f) for f in registry.functions() if f.event_type})
    return _lambda(
        "OutboxDispatcher", name, f"{ENTRY}.outbox", stmts,
        Environment={"Variables": {"ROOST_QUEUE_URLS": urls, "ROOST_APPS": ",".join(apps)}},
        Events={"Outbox": {"Type": "DynamoDB", "Properties": {
            "Stream": {"Fn::GetAtt": [table, "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 50,
            "MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]}}})
