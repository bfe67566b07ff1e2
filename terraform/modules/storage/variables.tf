variable "upload_bucket_name" {
  description = "Globally unique name of the upload bucket (the root module suffixes the config name with the account id)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.upload_bucket_name))
    error_message = "upload_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "thumbnail_bucket_name" {
  description = "Globally unique name of the thumbnail bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.thumbnail_bucket_name))
    error_message = "thumbnail_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "upload_prefix" {
  description = "Key prefix whose new objects start a job (S3 notifies dispatch-tasks for it)."
  type        = string

  validation {
    condition     = endswith(var.upload_prefix, "/")
    error_message = "upload_prefix must end with \"/\"."
  }
}

variable "thumbnail_prefix" {
  description = "Key prefix under which the resize worker writes thumbnails."
  type        = string
}

variable "dispatch_function_arn" {
  description = "ARN of the dispatch-tasks function that S3 notifies."
  type        = string
}

variable "dispatch_function_name" {
  description = "Name of the dispatch-tasks function (for its resource-based permission)."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "upload_expiration_days" {
  description = "Days after which an upload (the original image, with its EXIF metadata) expires; its noncurrent version then lasts noncurrent_version_expiration_days more."
  type        = number

  validation {
    condition     = var.upload_expiration_days >= 1
    error_message = "upload_expiration_days must be at least 1."
  }
}

variable "thumbnail_expiration_days" {
  description = "Days after which a thumbnail expires: the job record that names it expires then too (pipeline.json retention.records_days)."
  type        = number

  validation {
    condition     = var.thumbnail_expiration_days >= 1
    error_message = "thumbnail_expiration_days must be at least 1."
  }
}
