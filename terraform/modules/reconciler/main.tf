resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): execution history for debugging, not an audit trail.
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' service key; execution data holds job ids and labels, no secrets.
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_111:The log-delivery actions are write actions without resource-level permissions; "*" is what AWS documents for Step Functions logging.
  #checkov:skip=CKV_AWS_356:Only X-Ray, CloudWatch Logs delivery and cloudwatch:PutMetricData (namespace-conditioned) use "*": none supports resource-level permissions.
  statement {
    sid       = "ReconcileJobRecords"
    actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    resources = [var.jobs_table_arn]
  }

  statement {
    sid = "AnnounceFinishedJobs"
    # The job-finished event, on the stack's own bus only, with its own source and detail-type only.
    actions   = ["events:PutEvents"]
    resources = [var.event_bus_arn]

    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = [var.event_source]
    }

    condition {
      test     = "StringEquals"
      variable = "events:detail-type"
      values   = [var.event_detail_type]
    }
  }

  statement {
    sid = "CountFinishedJobs"
    # cloudwatch:PutMetricData has no resource-level permissions: "*" is required; the condition keeps it
    # to the pipeline's own namespace.
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }

  statement {
    sid = "SendTraces"
    # X-Ray supports no resource-level permissions for these actions: "*" is required.
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }

  statement {
    sid = "DeliverExecutionLogs"
    # CloudWatch Logs vended-log delivery APIs support no resource-level permissions: "*" is required
    # (as documented for Step Functions logging).
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sfn_state_machine" "this" {
  name     = var.name
  role_arn = aws_iam_role.this.arn
  type     = "EXPRESS"
  # The ASL lives in its own file; only names are filled in.
  definition = templatefile(var.definition_file, {
    jobs_table        = var.jobs_table_name
    metrics_namespace = var.metrics_namespace
    event_bus         = var.event_bus_name
    event_source      = var.event_source
    event_detail_type = var.event_detail_type
  })

  # Express workflows keep no execution history: CloudWatch Logs is the only record (and the console's).
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.this]
}
