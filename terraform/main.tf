data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

module "network" {
  source = "./modules/network"
  count  = var.enable_vpc ? 1 : 0

  name                  = local.resource_prefix
  cidr_block            = var.vpc_cidr
  availability_zone_ids = var.availability_zone_ids
}

module "storage" {
  source = "./modules/storage"

  # Bucket names are global: suffix the config names with the account id.
  upload_bucket_name        = "${local.prefix}${local.config.storage.upload_bucket}-${local.account_id}"
  thumbnail_bucket_name     = "${local.prefix}${local.config.storage.thumbnail_bucket}-${local.account_id}"
  upload_prefix             = local.config.storage.upload_prefix
  thumbnail_prefix          = local.config.storage.thumbnail_prefix
  upload_expiration_days    = local.config.retention.uploads_days
  thumbnail_expiration_days = local.config.retention.records_days # go when the records naming them go
  dispatch_function_arn     = module.dispatch_tasks.function_arn
  dispatch_function_name    = module.dispatch_tasks.function_name
}

module "jobs_table" {
  source = "./modules/jobs_table"

  name                = "${local.prefix}${local.config.table.name}"
  status_index_name   = local.config.table.status_index
  deadline_index_name = local.config.table.deadline_index
  event_index_name    = local.config.table.event_index
  ttl_attribute       = "expiresAt" # the record's expiry, pixelpipe.logic.jobs.EXPIRES_AT (docs/job-record.md)
  deletion_protection = var.table_deletion_protection
}

module "messaging" {
  source = "./modules/messaging"

  topic_name      = "${local.prefix}${local.config.topic.name}"
  steps_attribute = local.config.topic.steps_attribute
  name_prefix     = local.prefix
  workers         = local.workers

  dead_letter_retention_seconds = local.dead_letter_retention_seconds
}

module "reconciler" {
  source = "./modules/reconciler"

  name                     = "${local.prefix}${local.config.state_machine.name}"
  role_name                = "${local.resource_prefix}-reconcile"
  permissions_boundary_arn = local.permissions_boundary_arn
  definition_file          = "${path.root}/../${local.config.state_machine.definition}"
  jobs_table_name          = module.jobs_table.table_name
  jobs_table_arn           = module.jobs_table.table_arn
  metrics_namespace        = local.metrics_namespace
  log_retention_days       = var.log_retention_days
  event_bus_name           = aws_cloudwatch_event_bus.jobs.name
  event_bus_arn            = aws_cloudwatch_event_bus.jobs.arn
  event_source             = local.event_source # events.tf
  event_detail_type        = local.config.events.detail_type
}

# ---------------------------------------------------------------------------------------------------------
# dispatch-tasks: S3 ObjectCreated → job record + one SNS message per upload
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "dispatch_tasks" {
  statement {
    sid = "HeadUploadedObjects"
    # HEAD of the version the S3 event names: the bucket is versioned, so every event names one.
    actions   = ["s3:GetObjectVersion"]
    resources = ["${module.storage.upload_bucket_arn}/${local.config.storage.upload_prefix}*"]
  }

  statement {
    sid = "TellMissingUploadsApart"
    # S3 answers a HEAD of a missing object (deleted before dispatch read it) with 404 only to a caller
    # allowed s3:ListBucket on the bucket, and with 403 to any other: without it a deleted upload is an
    # AccessDenied, retried into the dispatch failures queue, instead of a job skipped with its reason.
    # Not prefix-scoped: the s3:prefix condition key is set by ListObjects requests, not by the HEAD whose
    # answer this decides, so a condition on it would never match there. Dispatch itself never lists.
    actions   = ["s3:ListBucket"]
    resources = [module.storage.upload_bucket_arn]
  }

  statement {
    sid       = "CreateJobRecords"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [module.jobs_table.table_arn]
  }

  statement {
    sid       = "PublishJobs"
    actions   = ["sns:Publish"]
    resources = [module.messaging.topic_arn]
  }

  # Lambda delivers the on-failure record of an async invocation with the function's execution role.
  statement {
    sid       = "RecordFailedInvocations"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dispatch_failures.arn]
  }
}

module "dispatch_tasks" {
  source = "./modules/lambda_function"

  function_name            = "${local.prefix}${local.dispatch_function}"
  role_name                = "${local.resource_prefix}-${local.dispatch_function}"
  permissions_boundary_arn = local.permissions_boundary_arn
  handler                  = local.functions[local.dispatch_function].handler
  timeout_seconds          = local.functions[local.dispatch_function].timeout_seconds
  memory_mb                = local.functions[local.dispatch_function].memory_mb
  package_path             = local.package_path[local.dispatch_function]
  environment              = merge(local.shared_environment, { POWERTOOLS_SERVICE_NAME = local.dispatch_function })
  policy_json              = data.aws_iam_policy_document.dispatch_tasks.json
  log_retention_days       = var.log_retention_days
  vpc_config               = local.vpc_config
}

# S3 invokes dispatch-tasks asynchronously: after maximum_retry_attempts failed retries (e.g. DynamoDB or
# SNS throttled), Lambda sends the invocation record (the S3 event is its requestPayload) to this queue
# instead of dropping it. `pixelpipe dlq redrive --queue dispatch` re-invokes dispatch-tasks with it.
resource "aws_sqs_queue" "dispatch_failures" {
  name                      = "${local.prefix}${local.functions[local.dispatch_function].source.failure_queue}"
  message_retention_seconds = local.dead_letter_retention_seconds # time to fix the cause and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_function_event_invoke_config" "dispatch_tasks" {
  function_name          = module.dispatch_tasks.function_name
  maximum_retry_attempts = local.functions[local.dispatch_function].source.maximum_retry_attempts

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dispatch_failures.arn
    }
  }

  # Lambda checks that the execution role may send to the destination: create the role policy first.
  depends_on = [module.dispatch_tasks]
}

# ---------------------------------------------------------------------------------------------------------
# Workers: one module instance per entry in pipeline.json "workers"
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "write_thumbnails" {
  statement {
    sid       = "WriteThumbnails"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.thumbnail_bucket_arn}/${local.config.storage.thumbnail_prefix}*"]
  }
}

data "aws_iam_policy_document" "detect_labels" {
  #checkov:skip=CKV_AWS_356:rekognition:DetectLabels has no resource-level permissions; "*" is the only valid resource.
  statement {
    sid = "DetectLabels"
    # rekognition:DetectLabels supports no resource-level permissions (it reads image bytes, not a resource).
    actions   = ["rekognition:DetectLabels"]
    resources = ["*"]
  }
}

module "worker" {
  source   = "./modules/worker"
  for_each = local.workers

  step                     = each.key
  service_name             = each.value.function
  function_name            = "${local.prefix}${each.value.function}"
  role_name                = "${local.resource_prefix}-${each.value.function}"
  permissions_boundary_arn = local.permissions_boundary_arn
  handler                  = each.value.handler
  timeout_seconds          = each.value.timeout_seconds
  memory_mb                = each.value.memory_mb
  package_path             = local.package_path[each.value.function]
  environment              = local.shared_environment
  # The same rule as pixelpipe.config.lambda_environment(): the labels worker gets LABEL_BACKEND.
  label_backend           = each.value.result_field == "labels" ? "rekognition" : null
  queue_arn               = module.messaging.queues[each.key].arn
  batch_size              = each.value.batch_size
  batching_window_seconds = each.value.batching_window_seconds
  max_concurrency         = each.value.max_concurrency
  upload_bucket_arn       = module.storage.upload_bucket_arn
  upload_prefix           = local.config.storage.upload_prefix
  jobs_table_arn          = module.jobs_table.table_arn
  state_machine_arn       = module.reconciler.state_machine_arn
  extra_policy_documents  = lookup(local.worker_extra_policies, each.value.result_field, [])
  log_retention_days      = var.log_retention_days
  vpc_config              = local.vpc_config
}

module "sweeper" {
  source = "./modules/sweeper"

  function_name            = "${local.prefix}${local.sweeper_function}"
  role_name                = "${local.resource_prefix}-${local.sweeper_function}"
  scheduler_role_name      = "${local.resource_prefix}-sweeper-schedule"
  permissions_boundary_arn = local.permissions_boundary_arn
  schedule_name            = "${local.resource_prefix}-sweep"
  handler                  = local.functions[local.sweeper_function].handler
  timeout_seconds          = local.functions[local.sweeper_function].timeout_seconds
  memory_mb                = local.functions[local.sweeper_function].memory_mb
  package_path             = local.package_path[local.sweeper_function]
  environment              = merge(local.shared_environment, { POWERTOOLS_SERVICE_NAME = local.sweeper_function })
  interval_minutes         = ceil(local.config.limits.sweep_interval_seconds / 60)
  jobs_table_arn           = module.jobs_table.table_arn
  status_index_name        = local.config.table.status_index
  deadline_index_name      = local.config.table.deadline_index
  event_index_name         = local.config.table.event_index
  state_machine_arn        = module.reconciler.state_machine_arn
  log_retention_days       = var.log_retention_days
  vpc_config               = local.vpc_config
}

module "observability" {
  source = "./modules/observability"

  name   = local.resource_prefix
  region = local.region
  queues = { for step, queue in module.messaging.queues : step => { name = queue.name, dlq_name = queue.dlq_name } }
  function_names = merge(
    { (local.dispatch_function) = module.dispatch_tasks.function_name, (local.sweeper_function) = module.sweeper.function_name },
    { for step, worker in local.workers : worker.function => module.worker[step].function_name },
  )
  dispatch_failures_queue = aws_sqs_queue.dispatch_failures.name
  state_machine_arn       = module.reconciler.state_machine_arn
  metrics_namespace       = local.metrics_namespace
  queue_age_alarm_seconds = var.queue_age_alarm_seconds
  # From pipeline.json: the age at which a dead letter needs a human, well before it expires.
  dead_letter_age_alarm_seconds = local.config.alarms.dead_letter_age_seconds
  dead_letter_retention_days    = local.config.retention.dead_letters_days
  alarm_email                   = var.alarm_email
}
