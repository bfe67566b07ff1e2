resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed key, and alarm notifications carry only alarm names and states; a CMK would cost $1/month for no data worth protecting.
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# Anything in these queues needs a human. Keyed by queue name; the value completes the description.
locals {
  dead_letter_queues = merge(
    { for step, q in var.queues : q.dlq_name => "the ${step} step gave up on them after max_receive_count deliveries. Inspect, then pixelpipe dlq redrive --queue ${step}." },
    { (var.dispatch_failures_queue) = "The dispatch function failed on an upload after its async retries, so no job was created. Fix the cause, then pixelpipe dlq redrive --queue dispatch." },
  )
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = local.dead_letter_queues

  alarm_name          = "${var.name}-${each.key}-not-empty"
  alarm_description   = "Messages in ${each.key}: ${each.value}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A dead letter nobody looks at expires after the queues' retention (pipeline.json): alarm on its age too, so a
# message that arrived while the "not empty" alarm was already firing is not lost unseen.
resource "aws_cloudwatch_metric_alarm" "dead_letter_age" {
  for_each = local.dead_letter_queues

  alarm_name          = "${var.name}-${each.key}-oldest-message-age"
  alarm_description   = "A message in ${each.key} is older than ${var.dead_letter_age_alarm_seconds}s and expires after ${var.dead_letter_retention_days} days: ${each.value}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dead_letter_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.queues

  alarm_name          = "${var.name}-${each.value.name}-oldest-message-age"
  alarm_description   = "The oldest message in ${each.value.name} waited over ${var.queue_age_alarm_seconds}s: the ${each.key} worker is falling behind or failing."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.function_names

  alarm_name          = "${var.name}-${each.value}-errors"
  alarm_description   = "${each.value} raised errors (invocations that failed as a whole, not single records)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "reconcile" {
  for_each = toset(["ExecutionsFailed", "ExecutionsTimedOut"])

  alarm_name          = "${var.name}-reconcile-${each.key}"
  alarm_description   = "Reconcile executions ${each.key}: a step result may not be recorded; the sweeper fails the job at its deadline."
  namespace           = "AWS/States"
  metric_name         = each.key
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

locals {
  queue_names = concat(flatten([for q in values(var.queues) : [q.name, q.dlq_name]]), [var.dispatch_failures_queue])

  # Every widget is a 12 x 6 time series of one-minute points: only the title, statistic and lines differ.
  # The custom metrics, each with the dimension names it is published with. A SEARCH schema
  # {Namespace,Dim1,...} matches only metrics carrying exactly those dimension names (CloudWatch's
  # search expression syntax), so each search names them: the state machine's PutMetricData sends
  # JobsCompleted/JobsFailed with none and StepSucceeded/StepFailed/StepDuration with `step`
  # (statemachine/reconcile.asl.json); Powertools adds `service` (POWERTOOLS_SERVICE_NAME) to every
  # metric a function emits (lambdas/pixelpipe/metrics.py).
  custom_counts = {
    JobsCompleted = []
    JobsFailed    = []
    JobsRejected  = ["service"]
    JobsTimedOut  = ["service"]
    StepRetried   = ["service"]
    StepFailed    = ["step"]
  }
  custom_durations = { StepDuration = ["step"] }
  custom_searches = { for metric, dimensions in merge(local.custom_counts, local.custom_durations) :
    metric => "{${join(",", concat([var.metrics_namespace], dimensions))}} MetricName=\"${metric}\""
  }
  widget_specs = [
    {
      title   = "Queue depth (visible messages)"
      stat    = "Maximum"
      metrics = [for name in local.queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name]]
    },
    {
      title   = "Age of oldest message (s)"
      stat    = "Maximum"
      metrics = [for q in values(var.queues) : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.name]]
    },
    {
      title   = "Lambda duration p90 (ms)"
      stat    = "p90"
      metrics = [for name in values(var.function_names) : ["AWS/Lambda", "Duration", "FunctionName", name]]
    },
    {
      title   = "Lambda errors"
      stat    = "Sum"
      metrics = [for name in values(var.function_names) : ["AWS/Lambda", "Errors", "FunctionName", name]]
    },
    {
      title = "Reconcile executions"
      stat  = "Sum"
      metrics = [for metric in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] :
        ["AWS/States", metric, "StateMachineArn", var.state_machine_arn]
      ]
    },
    {
      # Custom metrics (the state machine's counts and the functions' EMF), one line per dimension value.
      title = "Jobs and retries (${var.metrics_namespace})"
      stat  = "Sum"
      metrics = [for metric in keys(local.custom_counts) :
        [{ expression = "SEARCH('${local.custom_searches[metric]}', 'Sum', 60)", id = lower(metric), label = metric }]
      ]
    },
    {
      title = "Step duration p90 (${var.metrics_namespace} StepDuration)"
      stat  = "p90"
      metrics = [
        [{ expression = "SEARCH('${local.custom_searches["StepDuration"]}', 'p90', 60)", id = "stepduration", label = "StepDuration" }]
      ]
    },
  ]
  widgets = [for spec in local.widget_specs : {
    type       = "metric"
    width      = 12
    height     = 6
    properties = merge(spec, { region = var.region, period = 60 })
  }]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
