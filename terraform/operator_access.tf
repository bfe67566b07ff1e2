# ---------------------------------------------------------------------------------------------------------
# People who operate the stack (docs/operate.md): two managed policies to attach to a role, a group or an
# SSO permission set. Each allows exactly the calls the CLI and the console make, as recorded from a real
# run of every command and page (tests/terraform/test_operator_access.py), plus the AWS-only calls of the
# code paths the local stack cannot run (listed in that test), each on this stack's resources.
# ---------------------------------------------------------------------------------------------------------
locals {
  # Queue ARNs from the names Terraform gives the queues (modules/messaging: name_prefix + pipeline.json).
  sqs_arn_prefix              = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.prefix}"
  operator_worker_queue_arns  = [for worker in values(local.workers) : "${local.sqs_arn_prefix}${worker.queue}"]
  operator_worker_dlq_arns    = [for worker in values(local.workers) : "${local.sqs_arn_prefix}${worker.dlq}"]
  operator_dlq_arns           = concat(local.operator_worker_dlq_arns, [aws_sqs_queue.dispatch_failures.arn])
  operator_queue_arns         = concat(local.operator_worker_queue_arns, local.operator_dlq_arns)
  state_machine_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${module.reconciler.log_group_name}:*"
}

data "aws_iam_policy_document" "viewer" {
  #checkov:skip=CKV_AWS_356:xray:BatchGetTraces/GetTraceSummaries and cloudwatch:GetMetricStatistics have no resource-level permissions; "*" is the only valid resource.
  statement {
    sid = "ReadJobRecords"
    # pixelpipe jobs/job/slow, the console's job pages and counts: one item, or a status index window.
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [module.jobs_table.table_arn, "${module.jobs_table.table_arn}/index/*"]
  }

  statement {
    sid = "ReadThumbnails"
    # pixelpipe job --download (HEAD then GET) and the console's thumbnails.
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.thumbnail_bucket_arn}/${local.config.storage.thumbnail_prefix}*"]
  }

  statement {
    sid = "ReadQueueCounts"
    # pixelpipe dlq list, the console's queues and pipeline pages: each queue's approximate counts.
    actions   = ["sqs:GetQueueAttributes"]
    resources = local.operator_queue_arns
  }

  statement {
    sid = "PeekDeadLetters"
    # pixelpipe dlq list and the console's queues page peek at dead letters with a zero visibility
    # timeout. Dead-letter queues only: a receive from a live worker queue would hide a job's message
    # from its worker for the visibility timeout.
    actions   = ["sqs:ReceiveMessage"]
    resources = local.operator_dlq_arns
  }

  statement {
    sid = "ReadExecutionHistory"
    # pixelpipe graph and the console's job page draw the deployed machine's definition.
    actions   = ["states:DescribeStateMachine"]
    resources = [module.reconciler.state_machine_arn]
  }

  statement {
    sid = "ReadExpressHistory"
    # AWS keeps no history of Express executions: the CLI reads their events from the machine's log group.
    actions   = ["logs:FilterLogEvents"]
    resources = [local.state_machine_log_group_arn]
  }

  statement {
    sid = "ReadTracesAndQueueAges"
    # pixelpipe trace/slow and the console's trace view (X-Ray), the queues page's oldest-message age
    # (CloudWatch): none of these actions supports resource-level permissions.
    actions   = ["xray:BatchGetTraces", "xray:GetTraceSummaries", "cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "operator" {
  source_policy_documents = [data.aws_iam_policy_document.viewer.json]

  statement {
    sid = "ReopenJobs"
    # pixelpipe retry / dlq redrive and the console's retry buttons: the reopen is a conditional update.
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.jobs_table.table_arn]
  }

  statement {
    sid = "RepublishJobs"
    # a retry is one message on the jobs topic, to the retried steps' workers only.
    actions   = ["sns:Publish"]
    resources = [module.messaging.topic_arn]
  }

  statement {
    sid = "RedriveDeadLetters"
    # dlq redrive: scanned messages made visible again (for the move task, or left for inspection); a
    # re-delivered dispatch failure deleted from its queue; the move task deletes from the DLQ with the
    # caller's permissions.
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage"]
    resources = local.operator_dlq_arns
  }

  statement {
    sid = "MoveDeadLettersBack"
    # dlq redrive: SQS's own redrive from a worker's DLQ to its queue, followed by its task handle. The
    # dispatch failures queue is redriven by re-invoking dispatch-tasks, never by a move task.
    actions   = ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"]
    resources = local.operator_worker_dlq_arns
  }

  statement {
    sid = "MoveTaskDestinations"
    # StartMessageMoveTask sends into the worker queue with the caller's permissions.
    actions   = ["sqs:SendMessage"]
    resources = local.operator_worker_queue_arns
  }

  statement {
    sid = "RedeliverDispatchFailures"
    # dlq redrive --queue dispatch: each failed S3 event back to dispatch-tasks, asynchronously.
    actions   = ["lambda:InvokeFunction"]
    resources = [module.dispatch_tasks.function_arn]
  }
}

resource "aws_iam_policy" "viewer" {
  name        = "${local.resource_prefix}-viewer"
  description = "Pixel-Pipe ${local.resource_prefix}: read jobs, traces, execution history and queues (pixelpipe CLI and console)."
  policy      = data.aws_iam_policy_document.viewer.json
}

resource "aws_iam_policy" "operator" {
  name        = "${local.resource_prefix}-operator"
  description = "Pixel-Pipe ${local.resource_prefix}: the viewer's reads plus retry and dead-letter redrive."
  policy      = data.aws_iam_policy_document.operator.json
}
