output "region" {
  description = "Region of the stack."
  value       = local.region
}

output "upload_bucket" {
  description = "Name of the upload bucket (upload under upload_prefix to start a job)."
  value       = module.storage.upload_bucket_name
}

output "thumbnail_bucket" {
  description = "Name of the thumbnail bucket."
  value       = module.storage.thumbnail_bucket_name
}

output "jobs_table" {
  description = "Name of the jobs table."
  value       = module.jobs_table.table_name
}

output "topic_arn" {
  description = "ARN of the jobs topic."
  value       = module.messaging.topic_arn
}

output "state_machine_arn" {
  description = "ARN of the reconcile state machine."
  value       = module.reconciler.state_machine_arn
}

output "queues" {
  description = "Per step: url, arn, dlq_url, dlq_arn of the worker's queue and its DLQ."
  value = {
    for step, queue in module.messaging.queues : step => {
      url     = queue.url
      arn     = queue.arn
      dlq_url = queue.dlq_url
      dlq_arn = queue.dlq_arn
    }
  }
}

output "dispatch_failures_queue" {
  description = "name, url and arn of the queue that receives dispatch-tasks' failed async invocations."
  value = {
    name = aws_sqs_queue.dispatch_failures.name
    url  = aws_sqs_queue.dispatch_failures.url
    arn  = aws_sqs_queue.dispatch_failures.arn
  }
}

output "function_names" {
  description = "Every Lambda function's deployed name, keyed by its pipeline.json name."
  value = merge(
    { (local.dispatch_function) = module.dispatch_tasks.function_name, (local.sweeper_function) = module.sweeper.function_name },
    { for step, worker in local.workers : worker.function => module.worker[step].function_name },
  )
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = module.observability.dashboard_url
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms notify (subscribe to it)."
  value       = module.observability.alarm_topic_arn
}

# `terraform output -json cli_target > .pixelpipe/target.json`: exactly the fields of the CLI's
# pixelpipe_cli.target.Target, so `pixelpipe upload/jobs/job` work against this stack.
output "cli_target" {
  description = "The CLI's target file for this stack (fields of pixelpipe_cli.target.Target)."
  value = {
    region            = local.region
    upload_bucket     = module.storage.upload_bucket_name
    upload_prefix     = local.config.storage.upload_prefix
    thumbnail_bucket  = module.storage.thumbnail_bucket_name
    jobs_table        = module.jobs_table.table_name
    status_index      = local.config.table.status_index
    topic_arn         = module.messaging.topic_arn
    state_machine_arn = module.reconciler.state_machine_arn
    # Per worker step: its queue and DLQ; "_dispatch_failures": dispatch-tasks' on-failure destination.
    queues = merge(
      {
        for step, queue in module.messaging.queues : step => {
          url     = queue.url
          arn     = queue.arn
          dlq_url = queue.dlq_url
          dlq_arn = queue.dlq_arn
        }
      },
      { "_dispatch_failures" = { url = aws_sqs_queue.dispatch_failures.url, arn = aws_sqs_queue.dispatch_failures.arn } },
      # The example rule's queue of job-finished events: what `pixelpipe events` reads (events.tf).
      {
        "_job_events" = {
          url     = aws_sqs_queue.job_events.url
          arn     = aws_sqs_queue.job_events.arn
          dlq_url = aws_sqs_queue.job_events_dlq.url
          dlq_arn = aws_sqs_queue.job_events_dlq.arn
        }
      },
    )
    endpoint_url      = null
    account_id        = local.account_id
    dispatch_function = module.dispatch_tasks.function_name

    # Express executions' history (level ALL, with data): what `pixelpipe job --history` and `graph` read.
    state_machine_log_group = module.reconciler.log_group_name

    # The front door (terraform/api.tf, docs/api.md); callers sign with IAM or bring a JWT, so no tokens.
    api_url    = aws_apigatewayv2_stage.api.invoke_url
    api_tokens = {}
  }
}

output "job_events" {
  description = "The job-finished events: bus name and ARN, the events' source and detail-type, and the example rule's queue."
  value = {
    bus_name    = aws_cloudwatch_event_bus.jobs.name
    bus_arn     = aws_cloudwatch_event_bus.jobs.arn
    source      = local.event_source
    detail_type = local.config.events.detail_type
    queue_url   = aws_sqs_queue.job_events.url
  }
}
