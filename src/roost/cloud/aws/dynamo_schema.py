"""A `TableSpec` as a DynamoDB table: key schema, attribute types, global secondary indexes
(projecting every attribute, so an index query returns whole items as the port promises), on
demand billing. One definition serves `CreateTable` (tests, local runs) and the CloudFormation
template, whose `AWS::DynamoDB::Table` takes the same property names."""

from __future__ import annotations

from typing import Any

from roost.cloud.table import TableSpec


def physical_name(prefix: str, spec: TableSpec) -> str:
    """The DynamoDB table's name: the deployment's prefix, then the port's table name."""
    return f"{prefix}{spec.name}"


def table_definition(spec: TableSpec) -> dict[str, Any]:
    """AttributeDefinitions, KeySchema, GlobalSecondaryIndexes and BillingMode of a table."""
    types: dict[str, str] = {spec.pk: spec.pk_type}
    keys = [{"AttributeName": spec.pk, "KeyType": "HASH"}]
    if spec.sk:
        types[spec.sk] = spec.sk_type
        keys.append({"AttributeName": spec.sk, "KeyType": "RANGE"})
    indexes = []
    for ix in spec.indexes:
        for name, kind in ((ix.pk, ix.pk_type), (ix.sk, ix.sk_type)):
            if name is None:
                continue
            if types.get(name, kind) != kind:
                raise ValueError(f"table {spec.name}: attribute {name!r} is typed {types[name]} "
                                 f"and {kind}; DynamoDB keys need one type per attribute")
            types[name] = kind
        ix_keys = [{"AttributeName": ix.pk, "KeyType": "HASH"}]
        if ix.sk:
            ix_keys.append({"AttributeName": ix.sk, "KeyType": "RANGE"})
        indexes.append({"IndexName": ix.name, "KeySchema": ix_keys,
                        "Projection": {"ProjectionType": "ALL"}})
    out: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t}
                                 for n, t in types.items()],
        "KeySchema": keys,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        out["GlobalSecondaryIndexes"] = indexes
    return out
