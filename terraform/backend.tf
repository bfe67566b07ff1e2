# Partial configuration: bucket, key and region come from `terraform init -backend-config=backend.hcl`
# (see docs/deploy.md; the bucket is created by terraform/bootstrap). `use_lockfile` is S3-native state
# locking (Terraform >= 1.10): no DynamoDB lock table.
terraform {
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
