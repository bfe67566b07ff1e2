# ---------------------------------------------------------------------------------------------------------
# Two deploy roles for GitHub Actions (.github/workflows/deploy.yml):
# - plan:  pull requests running deploy.yml. Reads the state object, nothing else of the stack (no lock,
#          no bucket listing, no describe calls: the plan runs with -refresh=false -lock=false).
# - apply: only deploy.yml as it is on main, in the `production` environment (a customised OIDC subject
#          names the workflow file and its ref). Manages the stack's own resources by name; every role it
#          creates carries the boundary and the project tag.
# Neither can change its own policies or trust, or remove or edit the boundary (explicit denies).
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "plan_trust" {
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

    # A pull request's run of deploy.yml (any PR number: the only wildcard is the number in
    # refs/pull/<n>/merge). Fork pull requests get no OIDC token at all.
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [local.plan_subject]
    }
  }
}

data "aws_iam_policy_document" "apply_trust" {
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

    # Only a job in the production environment, running deploy.yml as it is on main: the customised
    # subject carries the workflow file and its ref, so another branch, another workflow or a pull request
    # never matches, whatever the environment's protection rules say (docs/security.md).
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [local.apply_subject]
    }
  }
}

# ---------------------------------------------------------------------------------------------------------
# Explicit denies both roles carry: they win over any allow, including one added by mistake later.
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "deploy_guardrails" {
  statement {
    sid    = "NoChangesToTheDeployRoles"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:DeleteRole",
      "iam:PutRolePermissionsBoundary",
      "iam:DeleteRolePermissionsBoundary",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:PassRole",
    ]
    resources = local.deploy_role_arns
  }

  # Nor may CI hand the people's policies to a principal of its choosing (a stack role it can assume
  # through a service, or a user it made).
  statement {
    sid       = "NoAttachingThePeoplesPolicies"
    effect    = "Deny"
    actions   = ["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = local.operator_access_policy_arns
    }
  }

  statement {
    sid       = "NoBoundaryRemoval"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }

  # The boundary, and the viewer and operator policies attached to people (operator_access.tf), are the
  # administrator's: no new version, deletion or tag from CI, whatever allow is added later.
  statement {
    sid    = "NoChangesToTheBoundaryOrThePeoplesPolicies"
    effect = "Deny"
    actions = [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ]
    resources = concat([local.boundary_arn], local.operator_access_policy_arns)
  }

  statement {
    sid       = "NoRoleWithoutTheBoundary"
    effect    = "Deny"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }
}

# ---------------------------------------------------------------------------------------------------------
# What Terraform reads to refresh the stack: configuration only (Describe/Get/List), never data.
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "read_stack" {
  statement {
    sid = "ReadBuckets"
    actions = [
      "s3:ListBucket", # HeadBucket
      "s3:GetBucket*",
      "s3:GetAccelerateConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:GetEncryptionConfiguration",
    ]
    resources = local.bucket_arns
  }

  statement {
    sid       = "ReadTable"
    actions   = ["dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource"]
    resources = local.table_arns
  }

  statement {
    sid       = "ReadTopics"
    actions   = ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource", "sns:GetDataProtectionPolicy"]
    resources = concat(local.topic_arns, local.subscription_arns)
  }

  statement {
    sid       = "ReadQueues"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"]
    resources = local.queue_arns
  }

  statement {
    sid       = "ReadFunctions"
    actions   = ["lambda:GetFunction*", "lambda:GetPolicy", "lambda:GetRuntimeManagementConfig", "lambda:ListVersionsByFunction", "lambda:ListTags"]
    resources = local.function_arns
  }

  statement {
    sid       = "ReadStateMachine"
    actions   = ["states:DescribeStateMachine", "states:ListTagsForResource", "states:ListStateMachineVersions"]
    resources = local.state_machine_arns
  }

  statement {
    sid       = "ReadSchedules"
    actions   = ["scheduler:GetSchedule"]
    resources = local.schedule_arns
  }

  statement {
    sid       = "ReadRoles"
    actions   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoleTags"]
    resources = local.stack_role_arns
  }

  statement {
    sid       = "ReadManagedPolicies"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = concat(local.attachable_policy_arns, [local.boundary_arn])
  }

  statement {
    sid       = "ReadLogGroups"
    actions   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = local.managed_log_group_arns
  }

  statement {
    sid       = "ReadSamplingRule"
    actions   = ["xray:ListTagsForResource"]
    resources = local.sampling_rule_arns
  }

  statement {
    sid       = "ReadEventBusAndRule"
    actions   = ["events:DescribeEventBus", "events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"]
    resources = concat(local.event_bus_arns, local.event_rule_arns)
  }

  statement {
    sid       = "ReadAlarmsAndDashboard"
    actions   = ["cloudwatch:ListTagsForResource", "cloudwatch:GetDashboard"]
    resources = concat(local.alarm_arns, local.dashboard_arns)
  }

  statement {
    sid = "ReadWithoutResourceLevelPermissions"
    # None of these reads supports resource-level permissions: "*" is the only valid resource.
    actions = [
      "sts:GetCallerIdentity",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "cloudwatch:DescribeAlarms",
      "lambda:GetEventSourceMapping",
      "lambda:ListEventSourceMappings",
      "states:ValidateStateMachineDefinition",
      "xray:GetSamplingRules", # the provider finds its rule in the list
      "ec2:Describe*",
    ]
    resources = ["*"]
  }
}

# ---------------------------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------------------------
resource "aws_iam_role" "plan" {
  name                 = local.plan_role_name
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "plan" {
  source_policy_documents = [data.aws_iam_policy_document.deploy_guardrails.json]

  # deploy.yml plans with -refresh=false -lock=false: it compares the pull request's configuration with
  # the state, so the role reads the state and nothing else of the stack — no listing of the stack's buckets (the
  # upload bucket's keys are uploaders' file names) and no state lock a pull request could hold.
  # The state bucket holds state only: listing it (the backend's workspace lookup) shows no one's data.
  statement {
    sid       = "ReadState"
    actions   = ["s3:ListBucket", "s3:GetObject"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/${local.state_key}"]
  }

  # The stack's data sources (account, region, partition; zones with enable_vpc) still run on a plan.
  statement {
    sid       = "StackDataSources"
    actions   = ["sts:GetCallerIdentity", "ec2:DescribeAvailabilityZones"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan-${local.project}"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}
