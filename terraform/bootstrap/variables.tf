variable "github_owner" {
  description = "GitHub user or organisation that owns the repository allowed to deploy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}$", var.github_owner))
    error_message = "github_owner must be a GitHub user or organisation name."
  }
}

variable "github_repo" {
  description = "Name of the GitHub repository allowed to deploy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,100}$", var.github_repo))
    error_message = "github_repo must be a GitHub repository name."
  }
}

variable "name_prefix" {
  description = "The main stack's name_prefix; the deploy role's permissions are scoped to the names it produces."
  type        = string
  default     = ""
}

variable "create_oidc_provider" {
  description = "Create the GitHub OIDC provider; false when the account already has token.actions.githubusercontent.com."
  type        = bool
  default     = true
}

variable "enable_vpc" {
  description = "The main stack's enable_vpc: grants the apply role EC2 rights on the project's tagged network resources, and none without it."
  type        = bool
  default     = false
}
