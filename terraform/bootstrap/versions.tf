# A separate root with local state: it creates the S3 bucket that holds the main stack's state.
terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

provider "aws" {
  region = local.config.region

  default_tags {
    tags = { Project = local.config.project, ManagedBy = "terraform-bootstrap" }
  }
}
