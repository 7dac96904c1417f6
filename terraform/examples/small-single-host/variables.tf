variable "name" {
  description = "Deployment name: prefix of every resource."
  type        = string
  default     = "rag-pilot"
}

variable "region" {
  description = "AWS region to deploy into; pick one with g6 (L4) capacity."
  type        = string
  default     = "eu-west-1"
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed SSH to the host, each /16 or narrower (e.g. your office's /32)."
  type        = list(string)
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for the login user."
  type        = string
}
