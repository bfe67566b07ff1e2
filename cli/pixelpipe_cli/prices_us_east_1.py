"""List prices for us-east-1 (US East, N. Virginia) as of 2026-11-25, the only prices `pixelpipe cost` uses.

On-demand, first pricing tier, free tiers ignored (they are per account, not per image). Each entry names its
unit and the AWS page it comes from; `verified` says whether the figure was seen on that page (or a copy of
it) while writing this table, or is the long-standing list price not re-checked here. Change a price here
and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2026-11-25"
REGION = "us-east-1"


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    verified: bool


LAMBDA_PAGE = "https://aws.amazon.com/lambda/pricing/"
SFN_PAGE = "https://aws.amazon.com/step-functions/pricing/"
SQS_PAGE = "https://aws.amazon.com/sqs/pricing/"
SNS_PAGE = "https://aws.amazon.com/sns/pricing/"
DYNAMODB_PAGE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
S3_PAGE = "https://aws.amazon.com/s3/pricing/"
REKOGNITION_PAGE = "https://aws.amazon.com/rekognition/pricing/"
XRAY_PAGE = "https://aws.amazon.com/xray/pricing/"
CLOUDWATCH_PAGE = "https://aws.amazon.com/cloudwatch/pricing/"

PRICES: dict[str, Price] = {
    # Duration rounds up to 1 ms; Arm (Graviton) first tier (up to 7.5 billion GB-s a month).
    "lambda_arm_gb_second": Price(0.0000133334, "GB-second (arm64)", LAMBDA_PAGE, True),
    "lambda_x86_gb_second": Price(0.0000166667, "GB-second (x86_64)", LAMBDA_PAGE, True),
    "lambda_request": Price(0.20 / 1e6, "invocation", LAMBDA_PAGE, True),
    # Express: per execution, plus duration rounded up to 100 ms at memory billed in 64 MB chunks.
    "sfn_express_request": Price(1.00 / 1e6, "execution", SFN_PAGE, True),
    "sfn_express_gb_second": Price(
        0.00001667, "GB-second (first 1,000 GB-hours: $0.06/GB-hour)", SFN_PAGE, True
    ),
    # Every 64 KB chunk of a payload is billed as one request.
    "sqs_request": Price(0.40 / 1e6, "request per 64 KB chunk (standard queue)", SQS_PAGE, False),
    "sns_publish": Price(0.50 / 1e6, "publish per 64 KB chunk (standard topic)", SNS_PAGE, False),
    "sns_sqs_delivery": Price(0.0, "delivery to an SQS queue (free)", SNS_PAGE, False),
    # On demand since the November 2024 price cut: a WRU is 1 KB written, an RRU 4 KB read strongly consistent
    # (an eventually consistent read is half a unit).
    "dynamodb_write_unit": Price(0.625 / 1e6, "write request unit (1 KB)", DYNAMODB_PAGE, True),
    "dynamodb_read_unit": Price(0.125 / 1e6, "read request unit (4 KB)", DYNAMODB_PAGE, True),
    "dynamodb_storage_gb_month": Price(0.25, "GB-month", DYNAMODB_PAGE, False),
    "s3_put": Price(0.005 / 1000, "PUT, COPY, POST or LIST request", S3_PAGE, False),
    "s3_get": Price(0.0004 / 1000, "GET, HEAD or other request", S3_PAGE, False),
    "s3_storage_gb_month": Price(0.023, "GB-month (Standard, first 50 TB)", S3_PAGE, False),
    # DetectLabels is a Group 2 API; first tier is the first million images a month.
    "rekognition_detect_labels": Price(
        0.001, "image (DetectLabels, first 1M a month)", REKOGNITION_PAGE, False
    ),
    "xray_trace_recorded": Price(5.00 / 1e6, "trace recorded", XRAY_PAGE, True),
    "xray_trace_retrieved": Price(0.50 / 1e6, "trace retrieved or scanned", XRAY_PAGE, True),
    "logs_ingested_gb": Price(0.50, "GB ingested (standard log class)", CLOUDWATCH_PAGE, True),
    "metrics_custom_month": Price(0.30, "custom metric a month (first 10,000)", CLOUDWATCH_PAGE, True),
    "metrics_put_request": Price(0.01 / 1000, "PutMetricData request", CLOUDWATCH_PAGE, False),
}


def price(name: str) -> float:
    return PRICES[name].usd
