variable "name" {
  description = "Deployment name: prefix of every resource."
  type        = string
  default     = "rag-medium"
}

variable "region" {
  description = "AWS region of the existing VPC."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "ID of the existing VPC to deploy into."
  type        = string
}

variable "subnet_id" {
  description = "ID of the existing subnet in vpc_id for every host; it must route HTTP(S) out (an internet or NAT gateway)."
  type        = string
}

variable "public_ip_roles" {
  description = "Roles whose hosts get a public address: the gateway by default; [] for a subnet without an internet gateway, reached over a VPN."
  type        = set(string)
  default     = ["gateway"]
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed SSH and the monitoring UIs, each /16 or narrower."
  type        = list(string)
}

variable "client_cidrs" {
  description = "IPv4 CIDRs allowed HTTPS on the gateway, e.g. the company network."
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
