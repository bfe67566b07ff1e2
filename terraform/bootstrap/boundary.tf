# ---------------------------------------------------------------------------------------------------------
# The permissions boundary: the most any role the apply role creates can ever do, whatever policies it is
# given. The apply role may only create a role, or set a role's boundary, with this policy as the boundary
# (apply_role.tf), and can neither remove a boundary nor change this policy.
# ---------------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "boundary" {
  statement {
    sid       = "PipelineObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = local.bucket_object_arns
  }

  statement {
    sid = "UploadBucketListing"
    # dispatch-tasks: S3 answers a HEAD of a deleted upload 404 (skipped) rather than 403 (retried) only to
    # a caller allowed s3:ListBucket on the bucket (terraform/main.tf, TellMissingUploadsApart).
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns[0]]
  }

  statement {
    sid       = "PipelineJobRecords"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = local.table_arns
  }

  statement {
    sid       = "PipelineMessages"
    actions   = ["sns:Publish"]
    resources = local.topic_arns
  }

  statement {
    sid = "PipelineQueues"
    actions = [
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
    ]
    # Not the job-finished events' example queue and DLQ: only EventBridge sends there.
    resources = local.pipeline_queue_arns
  }

  statement {
    sid = "PipelineEvents"
    # The reconcile state machine's job-finished events (terraform/events.tf), on the stack's bus only.
    actions   = ["events:PutEvents"]
    resources = local.event_bus_arns
  }

  statement {
    sid       = "PipelineWorkflow"
    actions   = ["states:StartExecution"]
    resources = local.state_machine_arns
  }

  statement {
    sid       = "PipelineInvocations"
    actions   = ["lambda:InvokeFunction"]
    resources = local.function_arns
  }

  statement {
    sid       = "PipelineLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.log_group_arns
  }

  statement {
    sid = "WithoutResourceLevelPermissions"
    # None of these supports resource-level permissions: "*" is the only valid resource.
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "cloudwatch:PutMetricData",
      "rekognition:DetectLabels",
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
      # AWSLambdaENIManagementAccess (functions in a VPC, enable_vpc).
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  # Redundant with the allow list above (nothing else is allowed), but says the promise out loud.
  statement {
    sid       = "NeverIdentityOrAccountChanges"
    effect    = "Deny"
    actions   = ["iam:*", "sts:AssumeRole", "organizations:*", "account:*"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = local.boundary_name
  description = "Permissions boundary of every role the Pixel-Pipe apply role creates."
  policy      = data.aws_iam_policy_document.boundary.json
}
