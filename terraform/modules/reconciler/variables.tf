variable "name" {
  description = "Name of the state machine."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "name must be 1-80 letters, digits, hyphens or underscores."
  }
}

variable "role_name" {
  description = "Name of the state machine's IAM role."
  type        = string
}

variable "definition_file" {
  description = "Path of the ASL file, rendered with templatefile (variables jobs_table and metrics_namespace)."
  type        = string

  validation {
    condition     = endswith(var.definition_file, ".asl.json")
    error_message = "definition_file must be an .asl.json file."
  }
}

variable "jobs_table_name" {
  description = "Name of the jobs table, substituted for $${jobs_table} in the ASL."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the JobsCompleted/JobsFailed metrics, substituted for $${metrics_namespace} in the ASL."
  type        = string
}

variable "jobs_table_arn" {
  description = "ARN of the jobs table the state machine updates."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the execution log group, in days."
  type        = number
}

variable "permissions_boundary_arn" {
  description = "ARN of the permissions boundary every IAM role of the stack carries (made by terraform/bootstrap)."
  type        = string
}
