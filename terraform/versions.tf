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
  # The region is part of the pipeline's facts: pipeline.json, shared with the CLI and the local stack.
  region = local.config.region

  default_tags {
    tags = merge({ Project = local.config.project, ManagedBy = "terraform" }, var.tags)
  }
}
