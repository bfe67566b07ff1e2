"""Who is calling the front door, and what they may do, from API Gateway's HTTP API payload v2.

API Gateway authenticates before the function runs and writes the result into
`requestContext.authorizer` (payload format 2.0, developer guide "Working with AWS Lambda proxy
integrations for HTTP APIs"):
- a JWT authorizer: `{"jwt": {"claims": {...}, "scopes": [...] | null}}` — claims are strings; `scopes`
  comes from the token's `scope` (or `scp`) claim;
- IAM (SigV4): `{"iam": {"accessKey", "accountId", "callerId", "cognitoIdentity", "principalOrgId",
  "userArn", "userId"}}`.
Two scopes: `upload` (create uploads, read one's own uploads and jobs) and `operator` (read every job,
list them, retry). A JWT carries them as scopes; an IAM caller is an operator when its role is one of the
configured operator roles, else an uploader (IAM policy on the routes decides who reaches them at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Unauthenticated(Exception):
    """No identity in the request: API Gateway should have refused it (401)."""


class Forbidden(Exception):
    """The caller lacks the scope the route needs (403)."""


@dataclass(frozen=True)
class Caller:
    owner: str  # the identity written on uploads and compared on reads
    scopes: frozenset[str]
    operator: bool
    uploader: bool

    def require_upload(self) -> None:
        if not (self.uploader or self.operator):
            raise Forbidden("this route needs the upload or the operator scope")

    def require_operator(self) -> None:
        if not self.operator:
            raise Forbidden("this route needs the operator scope")

    def may_read(self, owner: str | None) -> bool:
        """Operators read every job; uploaders only what they uploaded."""
        return self.operator or (self.uploader and owner is not None and owner == self.owner)


def _token_scopes(jwt: Mapping[str, Any]) -> set[str]:
    scopes = set(jwt.get("scopes") or [])
    claims = jwt.get("claims") or {}
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            # API Gateway flattens an array claim to "[a b]".
            scopes.update(value.strip("[]").replace(",", " ").split())
        elif isinstance(value, list):
            scopes.update(str(v) for v in value)
    return scopes


def role_arn_of(user_arn: str) -> str:
    """`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION` → `arn:aws:iam::ACCOUNT:role/NAME`; others as is."""
    parts = user_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        name = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"
    return user_arn


def _role_key(arn: str) -> tuple[str, str] | None:
    """(account, role name) of a role ARN, its path ignored; None for anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return None
    return parts[4], parts[5].rsplit("/", 1)[-1]


def caller_from(
    request_context: Mapping[str, Any],
    upload_scope: str,
    operator_scope: str,
    operator_roles: Iterable[str] = (),
) -> Caller:
    """The caller an HTTP API v2 `requestContext` describes; Unauthenticated when it names none."""
    authorizer = request_context.get("authorizer") or {}
    jwt = authorizer.get("jwt")
    if isinstance(jwt, Mapping):
        claims = jwt.get("claims") or {}
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token names no subject")
        scopes = _token_scopes(jwt)
        issuer = claims.get("iss", "")
        return Caller(
            owner=f"{issuer}#{subject}" if issuer else subject,
            scopes=frozenset(scopes),
            operator=operator_scope in scopes,
            uploader=upload_scope in scopes,
        )
    iam = authorizer.get("iam")
    if isinstance(iam, Mapping) and iam.get("userArn"):
        cognito = iam.get("cognitoIdentity")
        identity = cognito.get("identityId") if isinstance(cognito, Mapping) else None
        role = role_arn_of(str(iam["userArn"]))
        key = _role_key(role)
        operator = key is not None and key in {_role_key(arn) for arn in operator_roles}
        return Caller(
            owner=str(identity) if identity else role,
            scopes=frozenset({operator_scope} if operator else {upload_scope}),
            operator=operator,
            uploader=True,
        )
    raise Unauthenticated("no authorizer context: the route must use IAM or a JWT authorizer")
