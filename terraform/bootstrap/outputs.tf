output "state_bucket" {
  description = "Name of the Terraform state bucket (the main stack's backend bucket)."
  value       = aws_s3_bucket.state.bucket
}

output "plan_role_arn" {
  description = "ARN of the read-only role pull requests assume for terraform plan; repository variable AWS_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "ARN of the role the production environment assumes for terraform apply; repository variable AWS_APPLY_ROLE_ARN."
  value       = aws_iam_role.apply.arn
}

output "permissions_boundary_arn" {
  description = "ARN of the permissions boundary every role of the stack carries (the main stack computes the same ARN)."
  value       = aws_iam_policy.boundary.arn
}

output "backend_config" {
  description = "Contents for terraform/backend.hcl."
  value       = <<-EOT
    bucket = "${aws_s3_bucket.state.bucket}"
    key    = "${local.state_key}"
    region = "${local.region}"
  EOT
}

# docs/operate.md: attach by ARN to a role or group, or paste the JSON into an SSO permission set's inline
# policy (a permission set can attach customer managed policies only by name and path, in each account).
output "operator_access" {
  description = "The viewer and operator policies: name, ARN and JSON of each."
  value = {
    viewer   = { name = aws_iam_policy.viewer.name, arn = aws_iam_policy.viewer.arn, json = data.aws_iam_policy_document.viewer.json }
    operator = { name = aws_iam_policy.operator.name, arn = aws_iam_policy.operator.arn, json = data.aws_iam_policy_document.operator.json }
  }
}
