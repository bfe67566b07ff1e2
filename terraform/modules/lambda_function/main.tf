data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs, not an audit trail; a year of debug logs costs money for nothing.
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' service key; the logs hold job ids and object keys, no secrets, so a CMK ($1/month + API calls) buys nothing.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary_arn
}

# What every function needs, merged with what this function calls (var.policy_json).
data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_356:Only the X-Ray statement uses "*": xray:PutTraceSegments/PutTelemetryRecords have no resource-level permissions.
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid = "SendTraces"
    # X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions: "*" is required.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.function_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# Only in a VPC: Lambda creates and deletes its network interfaces with the function's role.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = var.vpc_config == null ? 0 : 1

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_115:Concurrency is capped where the load comes from: each worker's event source mapping sets scaling_config.maximum_concurrency; reserved concurrency would throttle and bounce messages instead.
  #checkov:skip=CKV_AWS_116:SQS workers fail into their queue's redrive DLQ (a Lambda DLQ applies to async invocations only); dispatch-tasks, the one async-invoked function, sends failed S3 events to an on-failure destination queue (aws_lambda_function_event_invoke_config in the root module), and the sweeper runs again next minute.
  #checkov:skip=CKV_AWS_117:VPC attachment is optional (var.vpc_config, set by the root module's enable_vpc); the functions need no private network resources.
  #checkov:skip=CKV_AWS_173:The environment holds resource names and ARNs only, no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile per release; the zips are built reproducibly by CI from the reviewed commit (sha256 printed by make package).
  function_name    = var.function_name
  role             = aws_iam_role.this.arn
  handler          = var.handler
  runtime          = "python3.12"
  architectures    = ["arm64"]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  timeout          = var.timeout_seconds
  memory_size      = var.memory_mb

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc, aws_cloudwatch_log_group.this]
}
