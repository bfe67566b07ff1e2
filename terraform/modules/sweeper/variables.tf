variable "function_name" {
  description = "Name of the sweeper Lambda function."
  type        = string
}

variable "role_name" {
  description = "Name of the sweeper's IAM execution role."
  type        = string
}

variable "scheduler_role_name" {
  description = "Name of the IAM role EventBridge Scheduler assumes to invoke the sweeper."
  type        = string
}

variable "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule."
  type        = string
}

variable "handler" {
  description = "Python handler of the sweeper."
  type        = string
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number
}

variable "memory_mb" {
  description = "Memory size in MB."
  type        = number
}

variable "package_path" {
  description = "Path of the sweeper's deployment zip."
  type        = string
}

variable "environment" {
  description = "Environment variables of the sweeper."
  type        = map(string)
}

variable "interval_minutes" {
  description = "Minutes between sweeps (pipeline.json limits.sweep_interval_seconds / 60, rounded up)."
  type        = number

  validation {
    condition     = var.interval_minutes >= 1 && floor(var.interval_minutes) == var.interval_minutes
    error_message = "interval_minutes must be a whole number of at least 1 (EventBridge Scheduler rates are in whole minutes)."
  }
}

variable "jobs_table_arn" {
  description = "ARN of the jobs table."
  type        = string
}

variable "status_index_name" {
  description = "Name of the status index the sweeper queries."
  type        = string
}

variable "event_index_name" {
  description = "Name of the event index the sweeper queries for finished jobs whose event was never confirmed."
  type        = string
}

variable "deadline_index_name" {
  description = "Name of the deadline index the sweeper queries for overdue jobs."
  type        = string
}

variable "state_machine_arn" {
  description = "ARN of the reconcile state machine the sweeper starts for overdue jobs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the sweeper's log group, in days."
  type        = number
}

variable "vpc_config" {
  description = "Subnets and security groups for the function; null outside a VPC."
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
