# ---------------------------------------------------------------------------------------------------------
# apply: the stack's own resources by name (pipeline.json), with the actions Terraform calls on them.
# ---------------------------------------------------------------------------------------------------------
resource "aws_iam_role" "apply" {
  name                 = local.apply_role_name
  assume_role_policy   = data.aws_iam_policy_document.apply_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "apply" {
  source_policy_documents = concat(
    [data.aws_iam_policy_document.read_stack.json, data.aws_iam_policy_document.deploy_guardrails.json],
    var.enable_vpc ? [data.aws_iam_policy_document.vpc.json] : [],
  )

  statement {
    sid       = "ReadAndWriteState"
    actions   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/${local.state_key}", "${aws_s3_bucket.state.arn}/${local.state_key}.tflock"]
  }

  statement {
    sid = "ManageBuckets"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:PutBucketOwnershipControls",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:PutBucketNotification",
      "s3:PutBucketTagging",
    ]
    resources = local.bucket_arns
  }

  statement {
    sid = "ManageTable"
    actions = [
      "dynamodb:CreateTable",
      "dynamodb:DeleteTable",
      "dynamodb:UpdateTable",
      "dynamodb:UpdateContinuousBackups",
      "dynamodb:UpdateTimeToLive",
      "dynamodb:TagResource",
      "dynamodb:UntagResource",
    ]
    resources = local.table_arns
  }

  statement {
    sid = "ManageTopics"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:Unsubscribe",
      "sns:SetSubscriptionAttributes",
      "sns:TagResource",
      "sns:UntagResource",
    ]
    resources = concat(local.topic_arns, local.subscription_arns)
  }

  statement {
    sid       = "ManageQueues"
    actions   = ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"]
    resources = local.queue_arns
  }

  statement {
    sid = "ManageFunctions"
    actions = [
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "lambda:AddPermission",
      "lambda:RemovePermission",
      "lambda:PutFunctionEventInvokeConfig",
      "lambda:UpdateFunctionEventInvokeConfig",
      "lambda:DeleteFunctionEventInvokeConfig",
      "lambda:TagResource",
      "lambda:UntagResource",
    ]
    resources = local.function_arns
  }

  statement {
    sid       = "ManageEventSourceMappings"
    actions   = ["lambda:CreateEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"]
    resources = ["*"]

    # Event source mappings have no name before creation; the function they invoke must be the stack's.
    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = local.function_arns
    }
  }

  statement {
    sid       = "ManageStateMachine"
    actions   = ["states:CreateStateMachine", "states:DeleteStateMachine", "states:UpdateStateMachine", "states:TagResource", "states:UntagResource"]
    resources = local.state_machine_arns
  }

  statement {
    sid       = "ManageSchedules"
    actions   = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"]
    resources = local.schedule_arns
  }

  statement {
    sid = "ManageLogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy",
      "logs:TagResource",
      "logs:UntagResource",
      "logs:TagLogGroup",
      "logs:UntagLogGroup",
    ]
    resources = local.managed_log_group_arns
  }

  statement {
    sid = "SetUpStateMachineLogging"
    # Enabling a state machine's CloudWatch Logs delivery (vended logs): these calls support no
    # resource-level permissions, "*" is the only valid resource.
    actions = [
      "logs:CreateLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:PutResourcePolicy",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ManageSamplingRule"
    # terraform/tracing.tf's one rule, by name; tags ride on the create (default_tags).
    actions = [
      "xray:CreateSamplingRule",
      "xray:UpdateSamplingRule",
      "xray:DeleteSamplingRule",
      "xray:TagResource",
      "xray:UntagResource",
    ]
    resources = local.sampling_rule_arns
  }

  statement {
    sid = "ManageEventBus"
    # terraform/events.tf's bus, by name: never the default bus or another project's.
    actions = [
      "events:CreateEventBus",
      "events:DeleteEventBus",
      "events:UpdateEventBus",
      "events:TagResource",
      "events:UntagResource",
    ]
    resources = local.event_bus_arns
  }

  statement {
    sid = "ManageEventRule"
    # The example rule on that bus and its target (the example queue, sent to through the queue's
    # policy: no role is passed).
    actions = [
      "events:PutRule",
      "events:DeleteRule",
      "events:EnableRule",
      "events:DisableRule",
      "events:PutTargets",
      "events:RemoveTargets",
      "events:TagResource",
      "events:UntagResource",
    ]
    resources = local.event_rule_arns
  }

  # API Gateway V2 (terraform/api.tf). The API's id is AWS's choice, so no ARN names it before it exists:
  # CreateApi (POST /apis) must carry the project tag (aws:RequestTag: the provider's default_tags), and
  # every later call on /apis/<id>/… (routes, integrations, the authorizer, the stage) or its tags needs
  # the tag on the API (aws:ResourceTag), so another project's API in the region stays out of reach.
  statement {
    sid       = "CreateTheStacksApiWithTheProjectTag"
    actions   = ["apigateway:POST"]
    resources = [local.api_collection_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }
  }

  statement {
    sid       = "ManageOnlyTheProjectsApi"
    actions   = ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]
    resources = concat(local.api_arns, local.api_tag_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }
  }

  statement {
    sid       = "ManageAlarms"
    actions   = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"]
    resources = local.alarm_arns
  }

  statement {
    sid       = "ManageDashboard"
    actions   = ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"]
    resources = local.dashboard_arns
  }

  # Roles: only the stack's own, by exact name (local.stack_role_names), never role/<project>-*. Calls
  # that carry iam:PermissionsBoundary (the role's boundary) need it to be the bootstrap's boundary, so no
  # role the apply role touches can exceed it — and the deploy roles, which carry none, never match.
  statement {
    sid       = "CreateRolesWithTheBoundaryAndTheProjectTag"
    actions   = ["iam:CreateRole"]
    resources = local.stack_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }
  }

  statement {
    sid       = "ManageRolesWithinTheBoundary"
    actions   = ["iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy"]
    resources = local.stack_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }

  statement {
    sid       = "AttachOnlyTheStacksManagedPolicy"
    actions   = ["iam:AttachRolePolicy"]
    resources = local.stack_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = local.attachable_policy_arns
    }
  }

  # Calls IAM gives no iam:PermissionsBoundary key (trust, description, deletion, tags, PassRole): only on
  # a stack role that carries the project tag, i.e. one the apply role created (CreateRole above requires
  # the tag). IAM has no condition key on the trust policy document a call writes (UpdateAssumeRolePolicy,
  # CreateRole), so "the trust names only the pipeline's services" is held by the role names and the
  # boundary: whoever a stack role trusts gets at most the boundary (docs/security.md, accepted risks).
  statement {
    sid       = "MaintainTheStacksOwnRoles"
    actions   = ["iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole"]
    resources = local.stack_role_arns

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }
  }

  statement {
    sid       = "PassRolesToThePipelineServicesOnly"
    actions   = ["iam:PassRole"]
    resources = local.stack_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = local.pipeline_services
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }
  }
}

# ---------------------------------------------------------------------------------------------------------
# The optional VPC (enable_vpc, terraform/modules/network): only when the bootstrap is applied with
# enable_vpc = true, and only on EC2 resources that carry the project tag. EC2 create calls name no ARN
# before the resource exists: they must tag it at creation (aws:RequestTag, the provider's default_tags
# become TagSpecifications); every later change needs the tag on the resource (aws:ResourceTag), so other
# workloads' networks in the account stay out of reach.
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "vpc" {
  statement {
    sid = "CreateTaggedNetworkResources"
    actions = [
      "ec2:CreateVpc",
      "ec2:CreateSubnet",
      "ec2:CreateRouteTable",
      "ec2:CreateVpcEndpoint",
      "ec2:CreateSecurityGroup",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # Tags only as part of one of the creates above (tag-on-create).
  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateVpc", "CreateSubnet", "CreateRouteTable", "CreateVpcEndpoint", "CreateSecurityGroup"]
    }
  }

  statement {
    sid = "ChangeOnlyTheProjectsNetwork"
    actions = [
      "ec2:DeleteVpc", "ec2:ModifyVpcAttribute",
      "ec2:DeleteSubnet",
      "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
      "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint",
      "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
      "ec2:CreateTags", "ec2:DeleteTags",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag_key}"
      values   = [local.project_tag_value]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }
}

resource "aws_iam_role_policy" "apply" {
  name   = "apply-${local.project}"
  role   = aws_iam_role.apply.id
  policy = data.aws_iam_policy_document.apply.json
}
