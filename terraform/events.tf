# ---------------------------------------------------------------------------------------------------------
# Job-finished events (docs/job-record.md#job-finished-events): the reconcile state machine puts one
# "Pixel-Pipe Job Finished" event per terminal transition on this bus; the example rule sends every one
# of them to a queue. Consumers add their own rules (e.g. API destinations for webhooks).
# ---------------------------------------------------------------------------------------------------------
locals {
  # A stack's events are told apart by source, as its metrics are by namespace: "dev-pixelpipe".
  event_source = "${local.prefix}${local.config.events.source}"
}

resource "aws_cloudwatch_event_bus" "jobs" {
  name = "${local.prefix}${local.config.events.bus}"
}

resource "aws_sqs_queue" "job_events_dlq" {
  name                      = "${local.prefix}${local.config.events.example_dlq}"
  message_retention_seconds = local.dead_letter_retention_seconds # pipeline.json: time to inspect and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "job_events" {
  name                      = "${local.prefix}${local.config.events.example_queue}"
  message_retention_seconds = local.dead_letter_retention_seconds # as its DLQ (the local stack's too)
  sqs_managed_sse_enabled   = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.job_events_dlq.arn
    maxReceiveCount     = local.config.events.example_max_receive_count
  })
}

# Only the example queue may move messages into its DLQ (and redrive them back).
resource "aws_sqs_queue_redrive_allow_policy" "job_events_dlq" {
  queue_url = aws_sqs_queue.job_events_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.job_events.arn]
  })
}

resource "aws_cloudwatch_event_rule" "job_finished" {
  name           = "${local.prefix}${local.config.events.example_rule}"
  description    = "Every Pixel-Pipe job-finished event of this stack, to the example queue."
  event_bus_name = aws_cloudwatch_event_bus.jobs.name
  event_pattern = jsonencode({
    source        = [local.event_source]
    "detail-type" = [local.config.events.detail_type]
  })
}

resource "aws_cloudwatch_event_target" "job_finished_queue" {
  rule           = aws_cloudwatch_event_rule.job_finished.name
  event_bus_name = aws_cloudwatch_event_bus.jobs.name
  target_id      = "example-queue"
  arn            = aws_sqs_queue.job_events.arn

  # An event EventBridge could not deliver after its retries lands in the DLQ instead of being dropped.
  dead_letter_config {
    arn = aws_sqs_queue.job_events_dlq.arn
  }
}

# EventBridge sends with its service principal; only this rule may send, to the queue and to the DLQ.
data "aws_iam_policy_document" "job_events_queue" {
  for_each = {
    queue = aws_sqs_queue.job_events.arn
    dlq   = aws_sqs_queue.job_events_dlq.arn
  }

  statement {
    sid       = "AllowJobFinishedRuleOnly"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.job_finished.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "job_events" {
  for_each = {
    queue = aws_sqs_queue.job_events.id
    dlq   = aws_sqs_queue.job_events_dlq.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.job_events_queue[each.key].json
}
