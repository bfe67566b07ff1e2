variable "name" {
  description = "Prefix of alarm, topic and dashboard names (the project name)."
  type        = string
}

variable "region" {
  description = "Region shown by the dashboard widgets."
  type        = string
}

variable "queues" {
  description = "Per worker step: the queue's and its DLQ's names."
  type = map(object({
    name     = string
    dlq_name = string
  }))
}

variable "dispatch_failures_queue" {
  description = "Name of the queue receiving dispatch-tasks' failed async invocations (alarmed when not empty)."
  type        = string
}

variable "function_names" {
  description = "Every Lambda function to alarm on and chart, keyed by its pipeline.json name."
  type        = map(string)
}

variable "state_machine_arn" {
  description = "ARN of the reconcile state machine."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the custom metrics: the stack's (<name_prefix>PixelPipe)."
  type        = string
}

variable "queue_age_alarm_seconds" {
  description = "Alarm threshold for ApproximateAgeOfOldestMessage on each worker queue, in seconds."
  type        = number

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address or null."
  }
}

variable "dead_letter_retention_days" {
  description = "How long a dead-letter queue keeps a message (pipeline.json retention.dead_letters_days); named in the age alarm."
  type        = number
}

variable "dead_letter_age_alarm_seconds" {
  description = "Alarm when the oldest message in a dead-letter queue (or dispatch failures) is older than this; well below the queues' retention."
  type        = number

  validation {
    condition     = var.dead_letter_age_alarm_seconds >= 300 && var.dead_letter_age_alarm_seconds <= 604800
    error_message = "dead_letter_age_alarm_seconds must be between 300 (5 minutes) and 604800 (7 days, half the retention)."
  }
}
