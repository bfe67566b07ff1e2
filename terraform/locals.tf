locals {
  # THE one place for names and limits, shared with the Lambdas, the CLI and the local stack.
  config = jsondecode(file("${path.module}/../pipeline.json"))

  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
  prefix     = var.name_prefix

  # Role, log group and alarm names are not in pipeline.json; they carry the project name.
  resource_prefix = "${var.name_prefix}${local.config.project}"
  # Custom metrics carry no stack name (no dimension says which stack counted a job): two stacks in one
  # account keep them apart by namespace, e.g. "dev-PixelPipe". Used by the functions (Powertools), the
  # state machine's PutMetricData, its IAM condition and the dashboard.
  metrics_namespace = "${var.name_prefix}${local.config.metrics.namespace}"
  # Every role the stack creates carries this boundary, made by terraform/bootstrap (boundary.tf) under the
  # same name; the apply role may create no role without it.
  permissions_boundary_arn = "arn:${local.partition}:iam::${local.account_id}:policy/${local.resource_prefix}-permissions-boundary"

  # Every dead-letter and failure queue keeps a message this long (pipeline.json retention; SQS max 14 days).
  dead_letter_retention_seconds = local.config.retention.dead_letters_days * 86400

  # Every Lambda function by name, in one shape: handler, timeout, memory and its event source.
  functions = local.config.functions
  # The function S3 invokes and the one the schedule invokes, found by their source's type.
  dispatch_function = one([for name, f in local.functions : name if f.source.type == "s3"])
  sweeper_function  = one([for name, f in local.functions : name if f.source.type == "schedule"])
  # The SQS workers by step: each worker function's settings with its queue source.
  workers = { for name, f in local.functions : f.source.step => merge(f.source, { function = name, handler = f.handler, timeout_seconds = f.timeout_seconds, memory_mb = f.memory_mb }) if f.source.type == "worker" }

  # The environment every function shares; the same names as `pixelpipe.config.lambda_environment()`
  # (each function adds POWERTOOLS_SERVICE_NAME; workers add WORKER_STEP and, for labels, LABEL_BACKEND).
  shared_environment = {
    JOBS_TABLE                   = module.jobs_table.table_name
    JOBS_TOPIC_ARN               = module.messaging.topic_arn
    RECONCILE_STATE_MACHINE_ARN  = module.reconciler.state_machine_arn
    UPLOAD_BUCKET                = module.storage.upload_bucket_name
    THUMBNAIL_BUCKET             = module.storage.thumbnail_bucket_name
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    PYDANTIC_DISABLE_PLUGINS     = "__all__" # no plugins deployed: skips a metadata scan at cold start
  }

  # What a worker calls beyond what every worker calls, keyed by the worker's result_field.
  worker_extra_policies = {
    thumbnails = [data.aws_iam_policy_document.write_thumbnails.json]
    labels     = [data.aws_iam_policy_document.detect_labels.json]
  }

  vpc_config = var.enable_vpc ? {
    subnet_ids         = module.network[0].private_subnet_ids
    security_group_ids = [module.network[0].lambda_security_group_id]
  } : null

  package_path = { for name in keys(local.functions) : name => "${var.lambda_package_dir}/${name}.zip" }
}
