variable "name" {
  description = "Name of the jobs table."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be 3-255 letters, digits, underscores, dots or hyphens."
  }
}

variable "status_index_name" {
  description = "Name of the global secondary index on (status, createdAt)."
  type        = string
}

variable "deadline_index_name" {
  description = "Name of the sparse global secondary index on (status, deadlineAt) the sweeper queries."
  type        = string
}

variable "event_index_name" {
  description = "Name of the sparse global secondary index on (status, eventPendingAt): finished jobs whose event is unconfirmed."
  type        = string
}

variable "deletion_protection" {
  description = "Whether the table has deletion protection enabled."
  type        = bool
  default     = true
}

variable "ttl_attribute" {
  description = "Attribute holding a record's expiry time (epoch seconds); DynamoDB TTL deletes the record after it."
  type        = string
}
