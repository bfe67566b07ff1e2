variable "step" {
  description = "The worker's step name (its key in pipeline.json \"workers\"); becomes WORKER_STEP."
  type        = string
}

variable "function_name" {
  description = "Name of the worker's Lambda function."
  type        = string
}

variable "role_name" {
  description = "Name of the worker's IAM execution role."
  type        = string
}

variable "handler" {
  description = "Python handler of the worker."
  type        = string
}

variable "timeout_seconds" {
  description = "Function timeout in seconds; the queue's visibility timeout must be at least 6 times this."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  description = "Memory size in MB."
  type        = number
}

variable "package_path" {
  description = "Path of the worker's deployment zip."
  type        = string
}

variable "environment" {
  description = "Environment shared by every function; the module adds POWERTOOLS_SERVICE_NAME, WORKER_STEP and LABEL_BACKEND."
  type        = map(string)
}

variable "service_name" {
  description = "The worker's function name in pipeline.json (POWERTOOLS_SERVICE_NAME, without name_prefix)."
  type        = string
}

variable "label_backend" {
  description = "LABEL_BACKEND for a worker that detects labels (\"rekognition\" on AWS); null for other workers."
  type        = string
  default     = null

  validation {
    condition     = var.label_backend == null || contains(["rekognition", "onnx"], coalesce(var.label_backend, "none"))
    error_message = "label_backend must be null, \"rekognition\" or \"onnx\"."
  }
}

variable "queue_arn" {
  description = "ARN of the SQS queue the worker consumes."
  type        = string
}

variable "batch_size" {
  description = "Messages per invocation."
  type        = number

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "Longest wait to fill a batch, in seconds (required > 0 when batch_size > 10)."
  type        = number

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 0 and 300."
  }
}

variable "max_concurrency" {
  description = "Most concurrent invocations the event source mapping starts (scaling_config.maximum_concurrency)."
  type        = number

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000
    error_message = "max_concurrency must be between 2 and 1000 (an SQS event source mapping limit)."
  }
}

variable "upload_bucket_arn" {
  description = "ARN of the upload bucket the worker reads."
  type        = string
}

variable "upload_prefix" {
  description = "Key prefix of uploads in the upload bucket."
  type        = string
}

variable "jobs_table_arn" {
  description = "ARN of the jobs table."
  type        = string
}

variable "state_machine_arn" {
  description = "ARN of the reconcile state machine the worker starts."
  type        = string
}

variable "extra_policy_documents" {
  description = "IAM policy documents (JSON) for calls only this worker makes (e.g. writing thumbnails)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the worker's log group, in days."
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
