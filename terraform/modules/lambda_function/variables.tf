variable "function_name" {
  description = "Name of the Lambda function (also names its log group /aws/lambda/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "role_name" {
  description = "Name of the function's own IAM execution role."
  type        = string

  validation {
    condition     = length(var.role_name) <= 64
    error_message = "role_name must be at most 64 characters."
  }
}

variable "handler" {
  description = "Python handler, module.attribute (e.g. pixelpipe.handlers.sweeper.handler)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must be a dotted Python path ending in the handler function."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  description = "Memory size in MB (CPU scales with it)."
  type        = number

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "package_path" {
  description = "Path of the deployment zip built by `make package`."
  type        = string
}

variable "environment" {
  description = "Environment variables of the function (names defined by pixelpipe.config.lambda_environment)."
  type        = map(string)
}

variable "policy_json" {
  description = "IAM policy document (JSON) with exactly the calls this function makes; logs and X-Ray are added here."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
}

variable "vpc_config" {
  description = "Private subnets and security groups to attach the function to; null runs it outside a VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "permissions_boundary_arn" {
  description = "ARN of the permissions boundary every IAM role of the stack carries (made by terraform/bootstrap)."
  type        = string
}
