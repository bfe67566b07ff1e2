variable "name" {
  description = "Name prefix of the VPC and its parts."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC; private subnets are /4 slices of it."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.cidr_block)) && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be a valid IPv4 CIDR block of /24 or larger."
  }
}

variable "availability_zone_ids" {
  description = "Zone ids (e.g. use1-az1, use1-az2) of the private subnets, one subnet and one ENI per interface endpoint each."
  type        = list(string)

  validation {
    condition     = length(var.availability_zone_ids) >= 1 && length(var.availability_zone_ids) <= 3
    error_message = "availability_zone_ids must list 1 to 3 zone ids."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface endpoints (com.amazonaws.<region>.<service>)."
  type        = list(string)
  default     = ["sqs", "sns", "states", "xray", "rekognition", "logs"]
}
