data "aws_iam_policy_document" "this" {
  statement {
    sid     = "FindPendingJobs"
    actions = ["dynamodb:Query"]
    resources = [
      "${var.jobs_table_arn}/index/${var.deadline_index_name}",
      "${var.jobs_table_arn}/index/${var.status_index_name}", # records written before deadlineAt existed
    ]
  }

  statement {
    sid       = "FindUnconfirmedEvents"
    actions   = ["dynamodb:Query"]
    resources = ["${var.jobs_table_arn}/index/${var.event_index_name}"]
  }

  statement {
    sid       = "StartReconcile"
    actions   = ["states:StartExecution"]
    resources = [var.state_machine_arn]
  }
}

module "function" {
  source = "../lambda_function"

  permissions_boundary_arn = var.permissions_boundary_arn
  function_name            = var.function_name
  role_name                = var.role_name
  handler                  = var.handler
  timeout_seconds          = var.timeout_seconds
  memory_mb                = var.memory_mb
  package_path             = var.package_path
  environment              = var.environment
  policy_json              = data.aws_iam_policy_document.this.json
  log_retention_days       = var.log_retention_days
  vpc_config               = var.vpc_config
}

# EventBridge Scheduler invokes the sweeper with its own role.
data "aws_iam_policy_document" "scheduler_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "scheduler" {
  name                 = var.scheduler_role_name
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume_role.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeSweeper"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.function.function_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = var.scheduler_role_name
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The schedule's only payload is the default empty input; an AWS-owned key is enough.
  name                = var.schedule_name
  schedule_expression = var.interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.interval_minutes} minutes)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.function.function_arn
    role_arn = aws_iam_role.scheduler.arn

    # A missed sweep is covered by the next one: no retries, no stale invocations.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}
