resource "aws_sns_topic" "this" {
  name = var.topic_name
  # AWS-managed key: the publisher (dispatch-tasks) needs no KMS grant, and SQS subscribers need none.
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sqs_queue" "dlq" {
  for_each = var.workers

  name                      = "${var.name_prefix}${each.value.dlq}"
  message_retention_seconds = var.dead_letter_retention_seconds # time to inspect and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "this" {
  for_each = var.workers

  name                       = "${var.name_prefix}${each.value.queue}"
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

# Only the worker's own queue may move messages into its DLQ (and redrive them back).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.workers

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

data "aws_iam_policy_document" "queue" {
  for_each = var.workers

  statement {
    sid       = "AllowJobsTopicOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = var.workers

  queue_url = aws_sqs_queue.this[each.key].id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.workers

  topic_arn            = aws_sns_topic.this.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this[each.key].arn
  raw_message_delivery = true
  # A message reaches this queue only if its steps attribute lists this worker's step.
  filter_policy = jsonencode({ (var.steps_attribute) = [each.key] })

  depends_on = [aws_sqs_queue_policy.this]
}
