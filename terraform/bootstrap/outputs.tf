output "state_bucket" {
  description = "Name of the Terraform state bucket (the main stack's backend bucket)."
  value       = aws_s3_bucket.state.bucket
}

output "deploy_role_arn" {
  description = "ARN of the role GitHub Actions assumes; set it as the repository variable AWS_DEPLOY_ROLE_ARN."
  value       = aws_iam_role.deploy.arn
}

output "backend_config" {
  description = "Contents for terraform/backend.hcl."
  value       = <<-EOT
    bucket = "${aws_s3_bucket.state.bucket}"
    key    = "${local.project}/terraform.tfstate"
    region = "${local.region}"
  EOT
}
