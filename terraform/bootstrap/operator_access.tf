# ---------------------------------------------------------------------------------------------------------
# People who operate the stack (docs/operate.md): two managed policies to attach to a role, a group or an
# SSO permission set. Each allows exactly the calls the CLI and the console make, as recorded from a real
# run of every command and page (tests/terraform/test_operator_access.py), plus the AWS-only calls of the
# code paths the local stack cannot run (listed in that test), each on this stack's resources.
#
# They live here, applied by an administrator like the permissions boundary, not in the main stack: no
# boundary applies to people, so whoever can rewrite one of these policies decides what every viewer or
# operator may do. The apply role has no IAM policy action at all (deploy_roles.tf denies changes to
# these two outright). Re-apply the bootstrap when the CLI's or the console's calls change.
# ---------------------------------------------------------------------------------------------------------
locals {
  # The stack's resources the CLI and console touch, by the names the main stack gives them.
  jobs_table_arn          = local.table_arns[0]
  thumbnail_objects_arn   = "${local.bucket_arns[1]}/${local.config.storage.thumbnail_prefix}*"
  jobs_topic_arn          = local.topic_arns[0]
  operator_worker_queues  = [for name in local.worker_queue_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  operator_worker_dlqs    = [for name in local.worker_dlq_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  operator_failure_queues = [for name in local.failure_queue_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  operator_dlqs           = concat(local.operator_worker_dlqs, local.operator_failure_queues)
  operator_queues         = concat(local.operator_worker_queues, local.operator_dlqs)
  # The reconcile machine's log group (terraform/modules/reconciler: /aws/vendedlogs/states/<machine>).
  state_machine_log_group_arn = "${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/vendedlogs/states/${var.name_prefix}${local.config.state_machine.name}:*"
  dispatch_function_arns      = [for name, f in local.config.functions : "${local.arn}:lambda:${local.region}:${local.account_id}:function:${var.name_prefix}${name}" if f.source.type == "s3"]
}

data "aws_iam_policy_document" "viewer" {
  #checkov:skip=CKV_AWS_356:xray:BatchGetTraces/GetTraceSummaries and cloudwatch:GetMetricStatistics have no resource-level permissions; "*" is the only valid resource.
  statement {
    sid = "ReadJobRecords"
    # pixelpipe jobs/job/slow, the console's job pages and counts: one item, or a status index window.
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [local.jobs_table_arn, "${local.jobs_table_arn}/index/*"]
  }

  statement {
    sid = "ReadThumbnails"
    # pixelpipe job --download (HEAD then GET) and the console's thumbnails.
    actions   = ["s3:GetObject"]
    resources = [local.thumbnail_objects_arn]
  }

  statement {
    sid = "ReadQueueCounts"
    # pixelpipe dlq list, the console's queues and pipeline pages: each queue's approximate counts.
    actions   = ["sqs:GetQueueAttributes"]
    resources = local.operator_queues
  }

  statement {
    sid = "PeekDeadLetters"
    # pixelpipe dlq list and the console's queues page peek at dead letters with a zero visibility
    # timeout. Dead-letter queues only: a receive from a live worker queue would hide a job's message
    # from its worker for the visibility timeout.
    actions   = ["sqs:ReceiveMessage"]
    resources = local.operator_dlqs
  }

  statement {
    sid = "ReadExecutionHistory"
    # pixelpipe graph and the console's job page draw the deployed machine's definition.
    actions   = ["states:DescribeStateMachine"]
    resources = local.state_machine_arns
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
    resources = [local.jobs_table_arn]
  }

  statement {
    sid = "RepublishJobs"
    # a retry is one message on the jobs topic, to the retried steps' workers only.
    actions   = ["sns:Publish"]
    resources = [local.jobs_topic_arn]
  }

  statement {
    sid = "RedriveDeadLetters"
    # dlq redrive: scanned messages made visible again (for the move task, or left for inspection); a
    # re-delivered dispatch failure deleted from its queue; the move task deletes from the DLQ with the
    # caller's permissions.
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage"]
    resources = local.operator_dlqs
  }

  statement {
    sid = "MoveDeadLettersBack"
    # dlq redrive: SQS's own redrive from a worker's DLQ to its queue, followed by its task handle. The
    # dispatch failures queue is redriven by re-invoking dispatch-tasks, never by a move task.
    actions   = ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"]
    resources = local.operator_worker_dlqs
  }

  statement {
    sid = "MoveTaskDestinations"
    # StartMessageMoveTask sends into the worker queue with the caller's permissions.
    actions   = ["sqs:SendMessage"]
    resources = local.operator_worker_queues
  }

  statement {
    sid = "RedeliverDispatchFailures"
    # dlq redrive --queue dispatch: each failed S3 event back to dispatch-tasks, asynchronously.
    actions   = ["lambda:InvokeFunction"]
    resources = local.dispatch_function_arns
  }
}

resource "aws_iam_policy" "viewer" {
  name        = local.viewer_policy_name
  description = "Pixel-Pipe ${local.project}: read jobs, traces, execution history and queues (pixelpipe CLI and console)."
  policy      = data.aws_iam_policy_document.viewer.json
}

resource "aws_iam_policy" "operator" {
  name        = local.operator_policy_name
  description = "Pixel-Pipe ${local.project}: the viewer's reads plus retry and dead-letter redrive."
  policy      = data.aws_iam_policy_document.operator.json
}
