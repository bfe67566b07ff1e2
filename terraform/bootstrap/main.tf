locals {
  config     = jsondecode(file("${path.module}/../../pipeline.json"))
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
  project    = "${var.name_prefix}${local.config.project}"
  arn        = "arn:${local.partition}"

  # The names the main stack creates, from the same pipeline.json (adding a worker: re-apply bootstrap).
  function_names = [for name in keys(local.config.functions) : "${var.name_prefix}${name}"]
  # dispatch-tasks' on-failure queue and any other function's: every queue the stack creates.
  failure_queue_names = [for f in values(local.config.functions) : "${var.name_prefix}${f.source.failure_queue}" if f.source.type == "s3"]
  worker_queue_names  = [for f in values(local.config.functions) : "${var.name_prefix}${f.source.queue}" if f.source.type == "worker"]
  worker_dlq_names    = [for f in values(local.config.functions) : "${var.name_prefix}${f.source.dlq}" if f.source.type == "worker"]
  # The queues the pipeline's own roles use (the boundary's), and the job-finished events' example queue
  # and its DLQ (terraform/events.tf: only EventBridge sends there, through their queue policies).
  pipeline_queue_names = concat(local.worker_queue_names, local.worker_dlq_names, local.failure_queue_names)
  event_queue_names    = ["${var.name_prefix}${local.config.events.example_queue}", "${var.name_prefix}${local.config.events.example_dlq}"]
  queue_names          = concat(local.pipeline_queue_names, local.event_queue_names)
  bucket_names = [
    "${var.name_prefix}${local.config.storage.upload_bucket}-${local.account_id}",
    "${var.name_prefix}${local.config.storage.thumbnail_bucket}-${local.account_id}",
  ]

  # The state object and the lock file S3-native locking (use_lockfile) writes beside it.
  state_key = "${local.project}/terraform.tfstate"

  # The deploy roles, and the boundary every role they create must carry (the main stack computes the
  # same ARN from pipeline.json: terraform/locals.tf permissions_boundary_arn).
  plan_role_name  = "${local.project}-github-plan"
  apply_role_name = "${local.project}-github-apply"
  deploy_role_arns = [
    "${local.arn}:iam::${local.account_id}:role/${local.plan_role_name}",
    "${local.arn}:iam::${local.account_id}:role/${local.apply_role_name}",
  ]
  boundary_name = "${local.project}-permissions-boundary"
  boundary_arn  = "${local.arn}:iam::${local.account_id}:policy/${local.boundary_name}"

  # The ARNs of everything the main stack creates, by service, from the names above.
  bucket_arns        = [for name in local.bucket_names : "${local.arn}:s3:::${name}"]
  bucket_object_arns = [for name in local.bucket_names : "${local.arn}:s3:::${name}/*"]
  table_arns = [
    "${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${var.name_prefix}${local.config.table.name}",
    "${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${var.name_prefix}${local.config.table.name}/index/*",
  ]
  topic_arns = [
    "${local.arn}:sns:${local.region}:${local.account_id}:${var.name_prefix}${local.config.topic.name}",
    "${local.arn}:sns:${local.region}:${local.account_id}:${local.project}-alarms",
  ]
  # Subscriptions are named <topic ARN>:<id>.
  subscription_arns   = [for topic in local.topic_arns : "${topic}:*"]
  queue_arns          = [for name in local.queue_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  pipeline_queue_arns = [for name in local.pipeline_queue_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  function_arns       = [for name in local.function_names : "${local.arn}:lambda:${local.region}:${local.account_id}:function:${name}"]
  state_machine_arns  = ["${local.arn}:states:${local.region}:${local.account_id}:stateMachine:${var.name_prefix}${local.config.state_machine.name}"]
  schedule_arns       = ["${local.arn}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.project}-*"]
  # The roles the main stack creates, by exact name (terraform/main.tf role_name arguments: one per
  # function and worker from pipeline.json, the reconcile state machine's and the sweeper schedule's).
  # Exact names, not role/<project>-*: a role someone else made under the project's prefix stays out of
  # reach (tests/terraform/test_deploy_roles.py checks this list against the stack's roles).
  stack_role_names = concat(
    [for name in keys(local.config.functions) : "${local.project}-${name}"],
    ["${local.project}-reconcile", "${local.project}-sweeper-schedule"],
  )
  stack_role_arns = [for name in local.stack_role_names : "${local.arn}:iam::${local.account_id}:role/${name}"]
  # The tag every resource of the main stack carries (terraform/versions.tf default_tags): the apply role
  # creates roles and EC2 resources only with it and changes only what carries it.
  project_tag_key   = "Project"
  project_tag_value = local.config.project
  log_group_arns = concat(
    [for name in local.function_names : "${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${name}*"],
    ["${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/vendedlogs/states/${var.name_prefix}${local.config.state_machine.name}*"],
  )
  # The front door's access log group (terraform/api.tf): API Gateway writes it, no role of the stack.
  api_log_group_arns     = ["${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${local.project}-api*"]
  managed_log_group_arns = concat(local.log_group_arns, local.api_log_group_arns)
  alarm_arns             = ["${local.arn}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.project}-*"]
  dashboard_arns         = ["${local.arn}:cloudwatch::${local.account_id}:dashboard/${local.project}"]

  # The X-Ray sampling rule (terraform/tracing.tf: "<project>-trace").
  sampling_rule_arns = ["${local.arn}:xray:${local.region}:${local.account_id}:sampling-rule/${local.project}-trace"]
  # The job-finished events' bus and its example rule (terraform/events.tf). A rule on a custom bus is
  # rule/<bus>/<rule> (Service Authorization Reference, EventBridge resource types).
  event_bus_name  = "${var.name_prefix}${local.config.events.bus}"
  event_bus_arns  = ["${local.arn}:events:${local.region}:${local.account_id}:event-bus/${local.event_bus_name}"]
  event_rule_arns = ["${local.arn}:events:${local.region}:${local.account_id}:rule/${local.event_bus_name}/${var.name_prefix}${local.config.events.example_rule}"]
  # API Gateway V2 (the front door, terraform/api.tf): management ARNs carry no account, and an API's id
  # is AWS's choice, so the API is held by the project tag (apply_role.tf), not by name.
  api_collection_arn = "${local.arn}:apigateway:${local.region}::/apis"
  api_arns           = ["${local.arn}:apigateway:${local.region}::/apis/*"]
  api_tag_arns       = ["${local.arn}:apigateway:${local.region}::/tags/*"]

  # The people's policies (operator_access.tf): made here, by an administrator, never by CI.
  viewer_policy_name   = "${local.project}-viewer"
  operator_policy_name = "${local.project}-operator"
  operator_access_policy_arns = [
    "${local.arn}:iam::${local.account_id}:policy/${local.viewer_policy_name}",
    "${local.arn}:iam::${local.account_id}:policy/${local.operator_policy_name}",
  ]

  # The services that may assume a role the apply role creates (iam:PassRole's iam:PassedToService).
  pipeline_services = ["lambda.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com"]
  # The one AWS managed policy the stack attaches (a function's role, with enable_vpc).
  attachable_policy_arns = ["${local.arn}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"]

  # GitHub OIDC subjects, customised to carry the calling workflow file and its ref (include_claim_keys
  # repo, context, job_workflow_ref: docs/deploy.md step 2). AWS reads no GitHub claim but `sub` and
  # `aud`, so the branch and workflow binding has to live inside `sub`.
  repository      = "${var.github_owner}/${var.github_repo}"
  deploy_workflow = "${local.repository}/.github/workflows/deploy.yml"
  apply_subject   = "repo:${local.repository}:environment:production:job_workflow_ref:${local.deploy_workflow}@refs/heads/main"
  plan_subject    = "repo:${local.repository}:pull_request:job_workflow_ref:${local.deploy_workflow}@refs/pull/*/merge"

  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "${local.arn}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# ---------------------------------------------------------------------------------------------------------
# Terraform state bucket (S3-native locking: use_lockfile = true in the main stack's backend)
# ---------------------------------------------------------------------------------------------------------
resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access logging of the state bucket would need another bucket; CloudTrail records who assumed the deploy role.
  #checkov:skip=CKV_AWS_144:State is small and versioned; cross-region replication is not worth a second region here.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the state bucket.
  bucket = "${local.project}-tfstate-${local.account_id}"
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "keep-90-days-of-old-state"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = data.aws_iam_policy_document.state_tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

# ---------------------------------------------------------------------------------------------------------
# GitHub Actions OIDC: no static keys anywhere. Two roles (plan_role.tf, apply_role.tf), each with its own
# trust: pull requests can only ever read.
# ---------------------------------------------------------------------------------------------------------
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}
