variable "name" {
  description = "Name prefix for every resource of this network, usually the deployment name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the new VPC; the single subnet takes its first /24."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be a valid IPv4 CIDR of /24 or larger."
  }
}

variable "availability_zone" {
  description = "Availability zone of the subnet; null lets AWS pick one. GPU capacity differs by zone, so pin it when a type is scarce."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
