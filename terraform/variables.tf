variable "name_prefix" {
  description = "Prefix for every resource name (e.g. \"dev-\"), so several stacks can share an account. Empty by default: names are exactly pipeline.json's."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9-]{0,15})?$", var.name_prefix))
    error_message = "name_prefix must be empty or up to 16 lowercase letters, digits and hyphens, starting with a letter or digit."
  }
}

variable "lambda_package_dir" {
  description = "Directory holding one <function>.zip per Lambda, built by `make package` (relative to terraform/)."
  type        = string
  default     = "../build/lambda"
}

variable "enable_vpc" {
  description = "Run the Lambdas in private subnets that reach AWS only through VPC endpoints (adds ~$7/month per interface endpoint per AZ)."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC when enable_vpc is true."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zone_ids" {
  description = "Zone ids (e.g. [\"use1-az1\", \"use1-az2\"]) for the private subnets when enable_vpc is true."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.enable_vpc || (length(var.availability_zone_ids) >= 1 && length(var.availability_zone_ids) <= 3)
    error_message = "With enable_vpc, availability_zone_ids must list 1 to 3 zone ids."
  }
}

variable "log_retention_days" {
  description = "Retention of every Lambda and state machine log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (confirm the subscription mail); null for none."
  type        = string
  default     = null
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message in a worker queue is older than this many seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "table_deletion_protection" {
  description = "Protect the jobs table from deletion; set false (and apply) before `terraform destroy`."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for every resource (Project and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

variable "api_jwt_issuer" {
  description = "OIDC issuer URL of a JWT authorizer for the front door (e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID); empty: routes use IAM (SigV4)."
  type        = string
  default     = ""

  validation {
    condition     = var.api_jwt_issuer == "" || startswith(var.api_jwt_issuer, "https://")
    error_message = "api_jwt_issuer must be empty or an https:// issuer URL."
  }
}

variable "api_jwt_audience" {
  description = "Audiences (client ids) a JWT must name, with api_jwt_issuer."
  type        = list(string)
  default     = []

  validation {
    condition     = var.api_jwt_issuer == "" || length(var.api_jwt_audience) > 0
    error_message = "With api_jwt_issuer, api_jwt_audience must list at least one audience."
  }
}

variable "api_operator_role_arns" {
  description = "IAM roles whose SigV4 callers have the operator scope on the front door (read every job, list, retry); other IAM callers upload and read their own."
  type        = list(string)
  default     = []
}
