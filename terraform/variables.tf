variable "name" {
  description = "Deployment name: prefix of every resource and the inventory's deployment var."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "profile" {
  description = "Hardware profile: the name of a file in ../hardware_profiles (small, medium, large)."
  type        = string

  validation {
    condition     = !contains(["aws_instance_types", "nvidia_driver", "ports"], var.profile) && can(regex("^[a-z][a-z0-9_]*$", var.profile)) && fileexists("${path.module}/../hardware_profiles/${var.profile}.yaml")
    error_message = "profile must name a hardware profile in hardware_profiles/ (small, medium, large)."
  }
}

variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "inference_count" {
  description = "Number of GPU inference hosts."
  type        = number
  default     = 1

  validation {
    condition     = var.inference_count >= 1 && var.inference_count <= 32 && floor(var.inference_count) == var.inference_count
    error_message = "inference_count must be a whole number from 1 to 32: a deployment without inference hosts answers nothing."
  }
}

variable "datastore_count" {
  description = "Number of datastore hosts (Redis, Milvus)."
  type        = number
  default     = 1

  validation {
    condition     = var.datastore_count >= 0 && var.datastore_count <= 8 && floor(var.datastore_count) == var.datastore_count
    error_message = "datastore_count must be a whole number from 0 to 8."
  }
}

variable "monitoring_count" {
  description = "Number of monitoring hosts (Prometheus, Alertmanager, Grafana)."
  type        = number
  default     = 1

  validation {
    condition     = var.monitoring_count >= 0 && var.monitoring_count <= 2 && floor(var.monitoring_count) == var.monitoring_count
    error_message = "monitoring_count must be a whole number from 0 to 2."
  }
}

variable "gateway_count" {
  description = "Number of gateway hosts (TLS termination in front of the service)."
  type        = number
  default     = 1

  validation {
    condition     = var.gateway_count >= 0 && var.gateway_count <= 8 && floor(var.gateway_count) == var.gateway_count
    error_message = "gateway_count must be a whole number from 0 to 8."
  }
}

variable "inference_instance_type" {
  description = "Override of the profile's default GPU instance type; it must be in the catalogue and meet the profile's minimums."
  type        = string
  default     = null

  validation {
    condition     = var.inference_instance_type == null || contains(keys(yamldecode(file("${path.module}/../hardware_profiles/aws_instance_types.yaml")).instance_types), coalesce(var.inference_instance_type, "-"))
    error_message = "inference_instance_type must be listed in hardware_profiles/aws_instance_types.yaml."
  }
}

variable "vpc_id" {
  description = "Existing VPC to deploy into; null creates a new VPC (then subnet_id must be null too)."
  type        = string
  default     = null
}

variable "subnet_id" {
  description = "Existing subnet in vpc_id for every host; null creates one."
  type        = string
  default     = null

  validation {
    condition     = (var.subnet_id == null) == (var.vpc_id == null)
    error_message = "Set vpc_id and subnet_id together, or neither to create a new network."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC created when vpc_id is null."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "availability_zone" {
  description = "Availability zone of the created subnet; null lets AWS choose. Pin it where GPU capacity is scarce."
  type        = string
  default     = null
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed SSH (every host) and the monitoring UIs. Each must be a /16 or narrower: 0.0.0.0/0, 0.0.0.0/1 and any prefix shorter than /16 are rejected. IPv6 is not accepted (the rules are IPv4)."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrnetmask(cidr))])
    error_message = "admin_cidrs must list at least one valid IPv4 CIDR such as 203.0.113.0/24 (IPv6 is not accepted); invalid: ${join(", ", [for cidr in var.admin_cidrs : cidr if !can(cidrnetmask(cidr))])}."
  }

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : !can(cidrnetmask(cidr)) || tonumber(split("/", cidr)[1]) >= 16])
    error_message = "admin_cidrs entries must be /16 or narrower (no prefix shorter than /16, so never 0.0.0.0/0 or 0.0.0.0/1): SSH and the monitoring UIs are for admin networks only; too broad: ${join(", ", [for cidr in var.admin_cidrs : cidr if can(cidrnetmask(cidr)) && try(tonumber(split("/", cidr)[1]) < 16, false)])}."
  }
}

variable "client_cidrs" {
  description = "IPv4 CIDRs allowed to reach the gateway on 443; empty keeps the gateway closed. Exactly 0.0.0.0/0 makes the API public; otherwise each must be a /8 or narrower (0.0.0.0/1 and other /1-/7 prefixes are rejected)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.client_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every client_cidrs entry must be a valid IPv4 CIDR (IPv6 is not accepted); invalid: ${join(", ", [for cidr in var.client_cidrs : cidr if !can(cidrnetmask(cidr))])}."
  }

  validation {
    condition     = alltrue([for cidr in var.client_cidrs : !can(cidrnetmask(cidr)) || cidr == "0.0.0.0/0" || tonumber(split("/", cidr)[1]) >= 8])
    error_message = "client_cidrs entries must be exactly 0.0.0.0/0 (a public API) or /8 and narrower; a /1 to /7 such as 0.0.0.0/1 is rejected: ${join(", ", [for cidr in var.client_cidrs : cidr if can(cidrnetmask(cidr)) && cidr != "0.0.0.0/0" && try(tonumber(split("/", cidr)[1]) < 8, false)])}."
  }
}

variable "egress_cidrs" {
  description = "IPv4 CIDRs hosts may reach on 80/443 for packages, images and model weights."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.egress_cidrs : can(cidrhost(cidr, 0)) && !strcontains(cidr, ":")])
    error_message = "Every egress_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "public_ip_roles" {
  description = "Roles whose hosts get a public IPv4 address: the gateway only by default (it serves HTTPS and is the SSH jump host). Adding inference, datastore or monitoring is an opt-in that puts those hosts on the internet behind their security groups. Hosts without one are reached by ProxyJump through the gateway (set in the inventory) or AWS SSM; see docs/terraform.md."
  type        = set(string)
  default     = ["gateway"]

  validation {
    condition     = alltrue([for role in var.public_ip_roles : contains(["inference", "datastore", "monitoring", "gateway"], role)])
    error_message = "public_ip_roles may only contain inference, datastore, monitoring and gateway."
  }
}

variable "datastore_volume_deletion_protection" {
  description = "Give the datastore's EBS data volume (Redis and Milvus data) lifecycle.prevent_destroy, so no plan can delete it, `destroy` included. DANGEROUS to turn off: it exists so a typo or a count change cannot wipe the data. Switching it on an existing deployment needs `terraform state mv` first (docs/terraform.md)."
  type        = bool
  default     = true
}

variable "datastore_snapshots_enabled" {
  description = "Snapshot the datastore's data volume on a schedule with AWS Data Lifecycle Manager (a DLM policy and its IAM role). Turn off only where something else backs the volume up, or where DLM is not available (emulators such as moto)."
  type        = bool
  default     = true
}

variable "datastore_snapshot_interval_hours" {
  description = "Hours between datastore snapshots, from 03:00 UTC."
  type        = number
  default     = 24

  validation {
    condition     = contains([1, 2, 3, 4, 6, 8, 12, 24], var.datastore_snapshot_interval_hours)
    error_message = "datastore_snapshot_interval_hours must be one DLM supports: 1, 2, 3, 4, 6, 8, 12 or 24."
  }
}

variable "datastore_snapshot_retain_count" {
  description = "How many datastore snapshots DLM keeps; the oldest is deleted when a new one is taken."
  type        = number
  default     = 7

  validation {
    condition     = var.datastore_snapshot_retain_count >= 1 && var.datastore_snapshot_retain_count <= 1000 && floor(var.datastore_snapshot_retain_count) == var.datastore_snapshot_retain_count
    error_message = "datastore_snapshot_retain_count must be a whole number from 1 to 1000 (the DLM limit)."
  }
}

variable "detailed_monitoring" {
  description = "One-minute CloudWatch metrics for every host. Emulators such as moto do not implement it."
  type        = bool
  default     = true
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for ssh_user on every host."
  type        = string

  validation {
    condition     = can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$", var.ssh_public_key))
    error_message = "ssh_public_key must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp*)."
  }
}

variable "ssh_user" {
  description = "Login user of the AMI; becomes ansible_user in the inventory."
  type        = string
  default     = "ubuntu"
}

variable "ami_name_filter" {
  description = "Name pattern of the AMI (most recent match wins). Emulators only carry old Ubuntu images, so tests override it."
  type        = string
  default     = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
}

variable "ami_owners" {
  description = "Account IDs allowed to own the AMI; the default is Canonical."
  type        = list(string)
  default     = ["099720109477"]

  validation {
    condition     = length(var.ami_owners) > 0
    error_message = "ami_owners must name at least one owner, or any account's image could match."
  }
}

variable "kms_key_id" {
  description = "ARN of a KMS key for all EBS volumes; null uses the account's aws/ebs key."
  type        = string
  default     = null
}

variable "testing" {
  description = "Test-only hooks for running against an emulator (moto); never set in production. aws_endpoint_url points EC2, STS, IAM and DLM at the emulator and skips the checks that need AWS; it also makes hosts outside public_ip_roles leave the public-IP choice to the subnet instead of an explicit false, which moto reads back wrong."
  type = object({
    aws_endpoint_url = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.testing.aws_endpoint_url == null || can(regex("^https?://", coalesce(var.testing.aws_endpoint_url, "-")))
    error_message = "testing.aws_endpoint_url must be an http(s) URL."
  }
}

variable "tags" {
  description = "Extra tags for every resource; Project, Deployment, Profile and ManagedBy are always set."
  type        = map(string)
  default     = {}
}
