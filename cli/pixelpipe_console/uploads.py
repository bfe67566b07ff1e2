"""The jobs page's drop zone: the console asks the front door for a presigned form; the page posts the file
straight to S3 with it. No image byte passes through the console.

`POST /uploads/form` (a state-changing request: the console's guard has checked Origin and token) calls
the API as `pixelpipe upload --api` does (pixelpipe_cli.api_client: the local stack's upload token, or
SigV4 with the operator's credentials on AWS) and hands the form to the page. The page then needs to reach
S3's origin: `connect_origins` is what the console's Content-Security-Policy adds to `connect-src`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pixelpipe_cli.api_client import ApiClient, ApiError
from pixelpipe_cli.target import Target


def connect_origins(target: Target) -> list[str]:
    """Where the page posts forms: the local S3 endpoint, or the upload bucket's S3 origins on AWS
    (boto3 presigns virtual-hosted URLs, global or regional)."""
    if target.endpoint_url:
        return [target.endpoint_url.rstrip("/")]
    bucket = target.upload_bucket
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{target.region}.amazonaws.com"]


async def upload_form(request: Request) -> Response:
    try:
        body = await request.json()
        file_name, content_type = str(body["fileName"]), str(body["contentType"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"message": "send {fileName, contentType}"}, status_code=400)
    target = request.app.state.console.target()
    try:
        client = ApiClient(target)
        form = await run_in_threadpool(
            client.request, "POST", "/uploads", json={"fileName": file_name, "contentType": content_type}
        )
    except ApiError as error:
        return JSONResponse({"message": str(error)}, status_code=400)
    return JSONResponse(form)
