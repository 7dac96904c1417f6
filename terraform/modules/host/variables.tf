variable "name" {
  description = "Name prefix of the hosts; host N is named \"<name>-<N>\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,50}$", var.name))
    error_message = "name must be 2-51 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "role" {
  description = "What the hosts do; becomes the Role tag and the Ansible group."
  type        = string

  validation {
    condition     = contains(["inference", "datastore", "monitoring", "gateway"], var.role)
    error_message = "role must be one of inference, datastore, monitoring, gateway."
  }
}

variable "instance_count" {
  description = "How many hosts of this role to create."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 0 && var.instance_count <= 64 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number from 0 to 64."
  }
}

variable "instance_type" {
  description = "EC2 instance type of every host of this role."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like an EC2 type such as g6.4xlarge."
  }
}

variable "ami_id" {
  description = "AMI of the hosts. Later AMI releases do not replace running hosts (ignore_changes)."
  type        = string
}

variable "subnet_id" {
  description = "Subnet the hosts are placed in."
  type        = string
}

variable "vpc_security_group_ids" {
  description = "Security groups attached to every host."
  type        = list(string)

  validation {
    condition     = length(var.vpc_security_group_ids) > 0
    error_message = "Give at least one security group; the VPC default group is deliberately empty."
  }
}

variable "key_name" {
  description = "EC2 key pair installed for the SSH user."
  type        = string
}

variable "associate_public_ip_address" {
  description = "true gives the hosts a public IPv4 address; false refuses one explicitly, even in a subnet that maps public addresses on launch (and replaces hosts that have one); null leaves it to the subnet, only for emulators that cannot read back an explicit value."
  type        = bool
  default     = false
}

variable "detailed_monitoring" {
  description = "One-minute CloudWatch metrics for the hosts (billed per instance)."
  type        = bool
  default     = true
}

variable "root_volume_size_gib" {
  description = "Size of the encrypted gp3 root volume in GiB."
  type        = number
  default     = 50

  validation {
    condition     = var.root_volume_size_gib >= 20 && var.root_volume_size_gib <= 2048
    error_message = "root_volume_size_gib must be from 20 to 2048."
  }
}

variable "data_volume_size_gib" {
  description = "Size of the encrypted gp3 data volume in GiB, attached as /dev/sdf; 0 creates none. Data volumes outlive instance stop/start, unlike instance store."
  type        = number
  default     = 0

  validation {
    condition     = var.data_volume_size_gib >= 0 && var.data_volume_size_gib <= 16384
    error_message = "data_volume_size_gib must be from 0 (no volume) to 16384."
  }
}

variable "data_volume_prevent_destroy" {
  description = "Create the data volumes with lifecycle.prevent_destroy: Terraform then refuses any plan that would delete them. Changing it on existing hosts needs `terraform state mv` between aws_ebs_volume.data_protected and aws_ebs_volume.data_unprotected first."
  type        = bool
  default     = false
}

variable "data_volume_tags" {
  description = "Extra tags for the data volumes only, e.g. the tag a snapshot (DLM) policy targets."
  type        = map(string)
  default     = {}
}

variable "kms_key_id" {
  description = "ARN of a KMS key for the EBS volumes; null uses the account's aws/ebs key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every instance and volume."
  type        = map(string)
  default     = {}
}
