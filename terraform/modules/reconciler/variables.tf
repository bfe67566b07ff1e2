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
  description = "Path of the ASL file, rendered with templatefile (variables jobs_table, metrics_namespace, event_bus, event_source and event_detail_type)."
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

variable "event_bus_name" {
  description = "Name of the event bus the job-finished events go to, substituted for $${event_bus} in the ASL."
  type        = string
}

variable "event_bus_arn" {
  description = "ARN of that event bus: the only one the state machine may put events on."
  type        = string
}

variable "event_source" {
  description = "The job-finished events' source, substituted for $${event_source} in the ASL; the role may put no other."
  type        = string
}

variable "event_detail_type" {
  description = "The job-finished events' detail-type, substituted for $${event_detail_type} in the ASL; the role may put no other."
  type        = string
}
