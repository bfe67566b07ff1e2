"""S3's rules for browser-based uploads (HTML form POST with a policy), which moto does not check.

moto 5.2.5 stores whatever a form POST sends: an expired policy, a 30 MB file under a 25 MB
`content-length-range`, a key or Content-Type the policy does not allow. The front door's guarantees
("an oversized or wrongly typed upload is refused, and no job is created") rest on S3 checking them, so
the emulator checks them first, as S3 documents (Amazon S3 API reference, "Creating a POST policy" and
"Browser-based uploads using POST"), and answers with S3's XML errors; a refused form stores nothing,
so no notification and no job follow:
- a form without `policy` on a private bucket: 403 AccessDenied;
- a signature that is not the policy's SigV4 HMAC under the local secret: 403 SignatureDoesNotMatch;
- `expiration` past: 403 AccessDenied "Invalid according to Policy: Policy expired.";
- a condition not met (`{"field": v}` / `["eq", "$field", v]`, `["starts-with", "$field", prefix]`,
  `{"bucket": v}`): 403 AccessDenied "Invalid according to Policy: Policy Condition failed: [...]";
- a form field no condition names (other than policy, x-amz-signature, file, x-ignore-*):
  403 AccessDenied "Invalid according to Policy: Extra input fields: NAME";
- a file outside `content-length-range`: 400 EntityTooLarge / EntityTooSmall, with the proposed and
  allowed sizes.
An accepted form's ObjectCreated notification goes out once its metadata is stored, as on S3.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import threading
import uuid
from typing import Any
from xml.sax.saxutils import escape

from moto.s3 import notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from pixelpipe_emulator.target import LOCAL_CREDENTIALS

# Fields S3 accepts without a condition naming them.
_UNCONDITIONED = {"policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"}


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra

    def response(self) -> tuple[int, dict[str, str], str]:
        request_id = uuid.uuid4().hex[:16].upper()
        extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in self.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(str(self))}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
        )
        return self.status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body


def _denied(detail: str) -> Refusal:
    return Refusal(403, "AccessDenied", f"Invalid according to Policy: {detail}")


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _expired(expiration: str, now: datetime.datetime) -> bool:
    try:
        moment = datetime.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return True  # S3: "Invalid Policy: Invalid 'expiration' value" — refused either way
    return moment <= now


def check_form(
    fields: dict[str, str],
    bucket: str,
    key: str,
    size: int,
    now: datetime.datetime | None = None,
    secret: str = LOCAL_CREDENTIALS["aws_secret_access_key"],
) -> None:
    """Raise `Refusal` (S3's code and message) unless S3 would store this form's file."""
    now = now or datetime.datetime.now(tz=datetime.UTC)
    lower = {name.lower(): value for name, value in fields.items()}
    policy_b64 = lower.get("policy")
    if not policy_b64:
        raise Refusal(403, "AccessDenied", "Access Denied")
    credential = lower.get("x-amz-credential", "")
    parts = credential.split("/")
    if len(parts) != 5 or "x-amz-signature" not in lower:
        raise Refusal(403, "AccessDenied", "Access Denied")
    expected = hmac.new(
        _signing_key(secret, parts[1], parts[2], parts[3]), policy_b64.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, lower["x-amz-signature"].lower()):
        raise Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
        conditions = policy["conditions"]
        assert isinstance(conditions, list)
    except (binascii.Error, ValueError, KeyError, AssertionError, TypeError):
        raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if _expired(policy.get("expiration"), now):
        raise _denied("Policy expired.")
    values = {**lower, "key": key, "bucket": bucket}
    named: set[str] = set()
    length_range: tuple[int, int] | None = None
    for condition in conditions:
        if isinstance(condition, dict):
            for name, value in condition.items():
                named.add(name.lower())
                if values.get(name.lower()) != value:
                    raise _denied(f'Policy Condition failed: ["eq", "${name}", "{value}"]')
        elif isinstance(condition, list) and condition and condition[0] == "content-length-range":
            length_range = (int(condition[1]), int(condition[2]))
        elif isinstance(condition, list) and len(condition) == 3 and str(condition[1]).startswith("$"):
            operator, name, value = condition[0].lower(), condition[1][1:].lower(), condition[2]
            named.add(name)
            actual = values.get(name)
            ok = actual == value if operator == "eq" else (actual or "").startswith(value)
            if operator not in ("eq", "starts-with") or actual is None or not ok:
                raise _denied(f'Policy Condition failed: ["{condition[0]}", "{condition[1]}", "{value}"]')
        else:
            raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition.")
    extra = sorted(
        name
        for name in lower
        if name not in named and name not in _UNCONDITIONED and not name.startswith("x-ignore-")
    )
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    if length_range:
        low, high = length_range
        if size > high:
            raise Refusal(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=size,
                MaxSizeAllowed=high,
            )
        if size < low:
            raise Refusal(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=size,
                MinSizeAllowed=low,
            )


# A form upload being stored on this request thread: its notification waits for its metadata.
_deferred = threading.local()


def _put_object_notifying_after_metadata(put_object: Any) -> Any:
    """moto stores a form upload (put_object, which sends the ObjectCreated:Post notification) and only then
    sets its metadata: dispatch could HEAD the object before `x-amz-meta-owner` is there and record a job
    without its owner. S3 notifies once the object is complete; so does this: while a form is being
    stored, the notification is held and sent after the metadata (`install`)."""

    def put(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(_deferred, "active", False) or kwargs.get("request_method") != "POST":
            return put_object(backend, *args, **kwargs)
        key = put_object(backend, *args, **{**kwargs, "disable_notification": True})
        _deferred.stored = (backend, key)
        return key

    return put


def install() -> None:
    """Check every form upload before moto stores it (multi-object delete, also a bucket POST, is left)."""
    original = S3Response._bucket_response_post
    if getattr(original, "_pixelpipe_post_policy", False):
        return
    S3Backend.put_object = _put_object_notifying_after_metadata(S3Backend.put_object)

    def checked(self: S3Response, request: Any, bucket_name: str) -> Any:
        if "key" not in self.querystring or "delete" in self.querystring:
            return original(self, request, bucket_name)
        fields = {name: value for name, value in self.form_data.items() if name.lower() != "file"}
        body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
        try:
            check_form(fields, bucket_name, self.querystring["key"][0], len(body))
        except Refusal as refusal:
            return refusal.response()
        _deferred.active, _deferred.stored = True, None
        try:
            answer = original(self, request, bucket_name)  # stores the object, then sets its metadata
        finally:
            _deferred.active = False
        if _deferred.stored is not None:
            backend, key = _deferred.stored
            _deferred.stored = None
            event = notifications.S3NotificationEvent.OBJECT_CREATED_POST_EVENT
            notifications.send_event(backend.account_id, event, backend.get_bucket(bucket_name), key)
        return answer

    checked._pixelpipe_post_policy = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = checked
