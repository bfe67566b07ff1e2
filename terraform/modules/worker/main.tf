# What every worker calls, plus var.extra_policy_documents for what only this worker calls.
data "aws_iam_policy_document" "this" {
  source_policy_documents = var.extra_policy_documents

  statement {
    sid = "ConsumeOwnQueue"
    # Receive/Delete/GetQueueAttributes: the event source mapping; ChangeMessageVisibility + GetQueueUrl:
    # the handler's retry backoff.
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
    ]
    resources = [var.queue_arn]
  }

  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.upload_bucket_arn}/${var.upload_prefix}*"]
  }

  statement {
    sid = "ClaimStep"
    # A conditional update claims the step and returns the attempt count: no read is needed.
    actions   = ["dynamodb:UpdateItem"]
    resources = [var.jobs_table_arn]
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
  environment = merge(
    var.environment,
    { POWERTOOLS_SERVICE_NAME = var.service_name, WORKER_STEP = var.step },
    var.label_backend == null ? {} : { LABEL_BACKEND = var.label_backend },
  )
  policy_json        = data.aws_iam_policy_document.this.json
  log_retention_days = var.log_retention_days
  vpc_config         = var.vpc_config
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = var.queue_arn
  function_name                      = module.function.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  # The handler returns the failed message ids; only those return to the queue.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}
