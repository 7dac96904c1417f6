variable "name" {
  description = "Deployment name: prefix of every resource."
  type        = string
  default     = "rag-large"
}

variable "region" {
  description = "AWS region to deploy into; it needs p4d (A100) capacity."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone" {
  description = "Availability zone of the new subnet; pin one where p4d capacity is reserved, or null to let AWS choose."
  type        = string
  default     = null
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed SSH and the monitoring UIs, each /16 or narrower."
  type        = list(string)
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for the login user on every host."
  type        = string
}

variable "kms_key_id" {
  description = "ARN of a KMS key for the EBS volumes; null uses the account's aws/ebs key."
  type        = string
  default     = null
}
