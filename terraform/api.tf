# ---------------------------------------------------------------------------------------------------------
# The front door (docs/api.md): an API Gateway HTTP API in front of the `api` function (payload 2.0).
# Routes authenticate with IAM (SigV4) by default, or with a JWT authorizer (any OIDC issuer, e.g. Cognito)
# when var.api_jwt_issuer is set; throttling, CORS and the scopes come from pipeline.json "api".
# ---------------------------------------------------------------------------------------------------------
locals {
  api_function = one([for name, f in local.functions : name if f.source.type == "http"])
  api_config   = local.config.api
  api_jwt      = var.api_jwt_issuer != ""
  upload_scope = local.api_config.scopes.upload
  admin_scope  = local.api_config.scopes.operator
  # Each route and the JWT scopes that reach it (API Gateway needs one of them); the function checks the
  # same scopes again (pixelpipe/logic/api_auth.py). /openapi.json is the public description of the API.
  api_routes = {
    "POST /uploads"             = [local.upload_scope, local.admin_scope]
    "GET /uploads/{upload_id}"  = [local.upload_scope, local.admin_scope]
    "GET /jobs/{job_id}"        = [local.upload_scope, local.admin_scope]
    "GET /jobs"                 = [local.admin_scope]
    "POST /jobs/{job_id}/retry" = [local.admin_scope]
  }
}

data "aws_iam_policy_document" "api" {
  statement {
    sid = "ReadAndReopenJobs"
    # GET /jobs/{id}, GET /uploads/{id}: GetItem; POST /jobs/{id}/retry: UpdateItem (the reopen).
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [module.jobs_table.table_arn]
  }

  statement {
    sid       = "PageJobsByStatus"
    actions   = ["dynamodb:Query"]
    resources = ["${module.jobs_table.table_arn}/index/${local.config.table.status_index}"]
  }

  statement {
    sid = "SignUploadForms"
    # The presigned POST is signed with this role: S3 checks s3:PutObject against it when the form is used.
    # HEAD of an upload (GET /uploads/{id}) is s3:GetObject.
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${module.storage.upload_bucket_arn}/${local.config.storage.upload_prefix}*"]
  }

  statement {
    sid = "KnowMissingUploads"
    # Without s3:ListBucket S3 answers a HEAD of a not-yet-uploaded key 403, not 404: GET /uploads/{id}
    # must tell "not uploaded yet" from a refusal. Only under the upload prefix.
    actions   = ["s3:ListBucket"]
    resources = [module.storage.upload_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.config.storage.upload_prefix}*"]
    }
  }

  statement {
    sid = "SignThumbnailUrls"
    # The thumbnails' presigned GET URLs are signed with this role.
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.thumbnail_bucket_arn}/${local.config.storage.thumbnail_prefix}*"]
  }

  statement {
    sid       = "PublishRetries"
    actions   = ["sns:Publish"]
    resources = [module.messaging.topic_arn]
  }
}

module "api" {
  source = "./modules/lambda_function"

  function_name            = "${local.prefix}${local.api_function}"
  role_name                = "${local.resource_prefix}-${local.api_function}"
  permissions_boundary_arn = local.permissions_boundary_arn
  handler                  = local.functions[local.api_function].handler
  timeout_seconds          = local.functions[local.api_function].timeout_seconds
  memory_mb                = local.functions[local.api_function].memory_mb
  package_path             = local.package_path[local.api_function]
  environment = merge(local.shared_environment, {
    POWERTOOLS_SERVICE_NAME = local.api_function
    # IAM callers whose role is listed here are operators (pixelpipe.config.ApiEnvironment).
    API_OPERATOR_ROLES = join(",", var.api_operator_role_arns)
  })
  policy_json        = data.aws_iam_policy_document.api.json
  log_retention_days = var.log_retention_days
  vpc_config         = local.vpc_config
}

resource "aws_apigatewayv2_api" "api" {
  name          = "${local.resource_prefix}-api"
  protocol_type = "HTTP"
  description   = "Pixel-Pipe's front door: presigned uploads, job records, retries (docs/api.md)."

  dynamic "cors_configuration" {
    for_each = length(local.api_config.cors_origins) > 0 ? [1] : []
    content {
      allow_origins = local.api_config.cors_origins
      allow_methods = ["GET", "POST", "OPTIONS"]
      allow_headers = ["authorization", "content-type", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
      max_age       = 600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = local.api_jwt ? 1 : 0

  api_id           = aws_apigatewayv2_api.api.id
  authorizer_type  = "JWT"
  name             = "${local.resource_prefix}-jwt"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.api_jwt_issuer
    audience = var.api_jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.api.id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.api.function_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = local.functions[local.api_function].timeout_seconds * 1000 + 1000
}

resource "aws_apigatewayv2_route" "api" {
  for_each = local.api_routes

  api_id               = aws_apigatewayv2_api.api.id
  route_key            = each.key
  target               = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type   = local.api_jwt ? "JWT" : "AWS_IAM"
  authorizer_id        = local.api_jwt ? aws_apigatewayv2_authorizer.jwt[0].id : null
  authorization_scopes = local.api_jwt ? each.value : null
}

resource "aws_apigatewayv2_route" "openapi" {
  #checkov:skip=CKV_AWS_309:/openapi.json is the API's public description (no data); every other route is authorized.
  api_id             = aws_apigatewayv2_api.api.id
  route_key          = "GET /openapi.json"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): access logs for debugging, not an audit trail.
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs' service key; access logs hold request ids and paths, no secrets.
  name              = "/aws/apigateway/${local.resource_prefix}-api"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_stage" "api" {
  api_id      = aws_apigatewayv2_api.api.id
  name        = "$default"
  auto_deploy = true

  # A flood gets API Gateway's 429 before it reaches the function (pipeline.json api.throttling).
  default_route_settings {
    throttling_rate_limit  = local.api_config.throttling.rate_per_second
    throttling_burst_limit = local.api_config.throttling.burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      time      = "$context.requestTime"
      route     = "$context.routeKey"
      status    = "$context.status"
      latencyMs = "$context.responseLatency"
      error     = "$context.error.message"
      authError = "$context.authorizer.error"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowFrontDoor"
  action        = "lambda:InvokeFunction"
  function_name = module.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.api.execution_arn}/*/*"
}

output "api_url" {
  description = "Base URL of the front door (docs/api.md), e.g. https://abc123.execute-api.us-east-1.amazonaws.com."
  value       = aws_apigatewayv2_stage.api.invoke_url
}

output "api_execution_arn" {
  description = "Execution ARN of the API: grant execute-api:Invoke on \"<this>/*/<METHOD>/<path>\" to IAM callers."
  value       = aws_apigatewayv2_api.api.execution_arn
}
