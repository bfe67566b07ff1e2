variable "topic_name" {
  description = "Name of the jobs SNS topic."
  type        = string
}

variable "steps_attribute" {
  description = "Message attribute (a String.Array of step names) that the subscriptions filter on."
  type        = string
}

variable "name_prefix" {
  description = "Prefix for queue names."
  type        = string
  default     = ""
}

variable "dead_letter_retention_seconds" {
  description = "How long each DLQ keeps a message (pipeline.json retention.dead_letters_days; SQS allows at most 14 days)."
  type        = number

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600
    error_message = "SQS keeps a message between 60 seconds and 14 days."
  }
}

variable "workers" {
  description = "The worker functions of pipeline.json \"functions\" by step: queue and DLQ names, timeout, visibility timeout and maxReceiveCount (other fields are ignored)."
  type = map(object({
    queue                      = string
    dlq                        = string
    timeout_seconds            = number
    visibility_timeout_seconds = number
    max_receive_count          = number
  }))

  validation {
    condition     = alltrue([for w in values(var.workers) : w.visibility_timeout_seconds >= 6 * w.timeout_seconds])
    error_message = "Each worker's visibility_timeout_seconds must be at least 6 times its timeout_seconds (AWS guidance for SQS event sources)."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : w.max_receive_count >= 5 && w.max_receive_count <= 1000])
    error_message = "Each worker's max_receive_count must be between 5 and 1000."
  }

  validation {
    condition     = alltrue([for w in values(var.workers) : w.visibility_timeout_seconds <= 43200])
    error_message = "visibility_timeout_seconds must be at most 43200 (12 hours)."
  }
}
