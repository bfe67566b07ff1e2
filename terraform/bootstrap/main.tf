locals {
  config     = jsondecode(file("${path.module}/../../pipeline.json"))
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
  project    = "${var.name_prefix}${local.config.project}"
  arn        = "arn:${local.partition}"

  # The names the main stack creates, from the same pipeline.json (adding a worker: re-apply bootstrap).
  function_names = concat(
    [for name in keys(local.config.functions) : "${var.name_prefix}${name}"],
    [for w in values(local.config.workers) : "${var.name_prefix}${w.function}"],
  )
  queue_names = flatten([for w in values(local.config.workers) : ["${var.name_prefix}${w.queue}", "${var.name_prefix}${w.dlq}"]])
  bucket_names = [
    "${var.name_prefix}${local.config.storage.upload_bucket}-${local.account_id}",
    "${var.name_prefix}${local.config.storage.thumbnail_bucket}-${local.account_id}",
  ]

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
# GitHub Actions OIDC → deploy role (no static keys anywhere)
# ---------------------------------------------------------------------------------------------------------
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only the production environment (apply on main) and pull requests (plan) of this one repository.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_owner}/${var.github_repo}:environment:production",
        "repo:${var.github_owner}/${var.github_repo}:pull_request",
      ]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${local.project}-github-deploy"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_107:iam:PassRole is limited to the project's own roles (role/<project>-*).
  #checkov:skip=CKV_AWS_109:IAM writes are limited to the project's own roles (role/<project>-*); Terraform must create and update them.
  #checkov:skip=CKV_AWS_110:Privilege escalation is bounded: the role can only create/alter roles named <project>-* and pass them to Lambda, Step Functions and Scheduler.
  #checkov:skip=CKV_AWS_111:Write actions on "*" are only EC2 VPC actions (enable_vpc), which take no resource ARN before creation, limited to this region by condition.
  #checkov:skip=CKV_AWS_356:"*" only for read-only Describe/List calls and EC2/logs-delivery actions without resource-level permissions.
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
  }

  statement {
    sid       = "ProjectBuckets"
    actions   = ["s3:*"]
    resources = flatten([for name in local.bucket_names : ["${local.arn}:s3:::${name}", "${local.arn}:s3:::${name}/*"]])
  }

  statement {
    sid       = "JobsTable"
    actions   = ["dynamodb:*"]
    resources = ["${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${var.name_prefix}${local.config.table.name}"]
  }

  statement {
    sid     = "Topics"
    actions = ["sns:*"]
    resources = [
      "${local.arn}:sns:${local.region}:${local.account_id}:${var.name_prefix}${local.config.topic.name}",
      "${local.arn}:sns:${local.region}:${local.account_id}:${local.project}-alarms",
    ]
  }

  statement {
    sid       = "Queues"
    actions   = ["sqs:*"]
    resources = [for name in local.queue_names : "${local.arn}:sqs:${local.region}:${local.account_id}:${name}"]
  }

  statement {
    sid       = "Functions"
    actions   = ["lambda:*"]
    resources = [for name in local.function_names : "${local.arn}:lambda:${local.region}:${local.account_id}:function:${name}"]
  }

  statement {
    sid = "EventSourceMappings"
    actions = [
      "lambda:CreateEventSourceMapping",
      "lambda:GetEventSourceMapping",
      "lambda:UpdateEventSourceMapping",
      "lambda:DeleteEventSourceMapping",
      "lambda:ListEventSourceMappings",
      "lambda:ListTags",
      "lambda:TagResource",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  statement {
    sid     = "StateMachine"
    actions = ["states:*"]
    resources = [
      "${local.arn}:states:${local.region}:${local.account_id}:stateMachine:${var.name_prefix}${local.config.state_machine.name}",
    ]
  }

  statement {
    sid       = "Schedules"
    actions   = ["scheduler:*"]
    resources = ["${local.arn}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.project}-*"]
  }

  statement {
    sid     = "ProjectRoles"
    actions = ["iam:*"]
    resources = [
      "${local.arn}:iam::${local.account_id}:role/${local.project}-*",
    ]
  }

  statement {
    sid     = "LogGroups"
    actions = ["logs:*"]
    resources = concat(
      [for name in local.function_names : "${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${name}*"],
      ["${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/vendedlogs/states/${var.name_prefix}${local.config.state_machine.name}*"],
    )
  }

  statement {
    sid     = "AlarmsAndDashboard"
    actions = ["cloudwatch:*"]
    resources = [
      "${local.arn}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.project}-*",
      "${local.arn}:cloudwatch::${local.account_id}:dashboard/${local.project}",
    ]
  }

  statement {
    sid = "ReadOnlyWithoutResourceLevelPermissions"
    # Describe/List calls Terraform makes while refreshing; none supports resource-level permissions.
    actions = [
      "sts:GetCallerIdentity",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "logs:DescribeLogGroups",
      "logs:ListTagsForResource",
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "cloudwatch:DescribeAlarms",
      "ec2:Describe*",
    ]
    resources = ["*"]
  }

  statement {
    sid = "OptionalVpc"
    # VPC, subnets, route tables, endpoints and security groups (enable_vpc): EC2 create calls take no
    # resource ARN before the resource exists; limited to the stack's region.
    actions = [
      "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute",
      "ec2:CreateSubnet", "ec2:DeleteSubnet",
      "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
      "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint",
      "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
      "ec2:CreateTags", "ec2:DeleteTags",
      "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-${local.project}"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
