# A ragfleet deployment on AWS: GPU inference hosts sized by a hardware profile, plus datastore,
# monitoring and gateway hosts, with security groups that only open what each role serves.
# The YAML in ../hardware_profiles is the single source of truth for sizes and service ports.

locals {
  profiles_dir = "${path.module}/../hardware_profiles"
  profile_file = "${local.profiles_dir}/${var.profile}.yaml"
  # An unknown profile is reported by the variable's validation; the empty fallback keeps this
  # expression from adding a second, less helpful error.
  profile   = fileexists(local.profile_file) ? yamldecode(file(local.profile_file)) : null
  catalogue = yamldecode(file("${local.profiles_dir}/aws_instance_types.yaml")).instance_types
  # The services' ports, defined once for Terraform and Ansible (group_vars/all/main.yml).
  ports = yamldecode(file("${local.profiles_dir}/ports.yaml"))

  inference_instance_type = coalesce(var.inference_instance_type, try(local.profile.aws.instance_type, "unknown.profile"))
  inference_spec          = lookup(local.catalogue, local.inference_instance_type, null)

  # What the chosen GPU type lacks against the profile's minimums; empty when it fits. The
  # inference_instance_type output's precondition turns a non-empty list into a plan error.
  inference_shortfalls = local.profile == null ? [] : local.inference_spec == null ? [
    "it is not in hardware_profiles/aws_instance_types.yaml",
    ] : compact([
      local.inference_spec.vcpus < local.profile.host.min_cores ? "${local.inference_spec.vcpus} vCPUs, needs ${local.profile.host.min_cores}" : "",
      local.inference_spec.ram_gib < local.profile.host.min_ram_gib ? "${local.inference_spec.ram_gib} GiB RAM, needs ${local.profile.host.min_ram_gib}" : "",
      local.inference_spec.gpu_count < local.profile.gpu.min_count ? "${local.inference_spec.gpu_count} GPUs, needs ${local.profile.gpu.min_count}" : "",
      local.inference_spec.gpu_memory_gib < local.profile.gpu.min_memory_gib ? "${local.inference_spec.gpu_memory_gib} GiB per GPU, needs ${local.profile.gpu.min_memory_gib}" : "",
      local.inference_spec.compute_capability < local.profile.gpu.min_compute_capability ? "GPU SM ${local.inference_spec.compute_capability}, ${local.profile.trtllm.quantisation} needs SM ${local.profile.gpu.min_compute_capability}" : "",
      local.inference_spec.nvme_count < local.profile.nvme.min_devices ? "${local.inference_spec.nvme_count} NVMe devices, needs ${local.profile.nvme.min_devices}" : "",
      local.inference_spec.nvme_count * local.inference_spec.nvme_size_gb < local.profile.nvme.min_total_gb ? "${local.inference_spec.nvme_count * local.inference_spec.nvme_size_gb} GB NVMe, needs ${local.profile.nvme.min_total_gb}" : "",
  ])

  support_roles = {
    datastore  = var.datastore_count
    monitoring = var.monitoring_count
    gateway    = var.gateway_count
  }

  tags = merge(var.tags, {
    Project    = "ragfleet"
    Deployment = var.name
    Profile    = var.profile
    ManagedBy  = "terraform"
  })

  # Set only by tests against an emulator (variable "testing"); null on AWS.
  emulator_endpoint = var.testing.aws_endpoint_url

  vpc_id    = var.vpc_id != null ? var.vpc_id : module.network[0].vpc_id
  subnet_id = var.subnet_id != null ? var.subnet_id : module.network[0].subnet_id

  # A public gateway is the SSH jump host for every host without a public address.
  gateway_is_jump_host = var.gateway_count > 0 && contains(var.public_ip_roles, "gateway")

  # Roles outside public_ip_roles get an explicit false: a brought-in subnet that maps public
  # addresses must not give them one, and hosts that had one are replaced rather than kept public.
  # moto (testing.aws_endpoint_url set) reads an instance launched with an explicit value back
  # wrong (no security groups, a public address), so there private hosts are left to the subnet,
  # which the network module creates without public addresses.
  public_ip = { for role in ["inference", "datastore", "monitoring", "gateway"] :
    role => contains(var.public_ip_roles, role) ? true : (local.emulator_endpoint == null ? false : null)
  }
}

data "aws_ami" "host" {
  most_recent = true
  owners      = var.ami_owners

  filter {
    name   = "name"
    values = [var.ami_name_filter]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

resource "aws_key_pair" "admin" {
  key_name   = "${var.name}-admin"
  public_key = var.ssh_public_key

  tags = merge(local.tags, { Name = "${var.name}-admin" })
}

module "network" {
  source = "./modules/network"
  count  = var.vpc_id == null ? 1 : 0

  name              = var.name
  cidr_block        = var.vpc_cidr
  availability_zone = var.availability_zone
  tags              = local.tags
}

module "security_groups" {
  source = "./modules/security_groups"

  name             = var.name
  vpc_id           = local.vpc_id
  admin_cidrs      = var.admin_cidrs
  client_cidrs     = var.client_cidrs
  egress_cidrs     = var.egress_cidrs
  ssh_from_gateway = local.gateway_is_jump_host
  ports            = local.ports
  tags             = local.tags
}

module "inference" {
  source = "./modules/host"

  name                        = "${var.name}-inference"
  role                        = "inference"
  instance_count              = var.inference_count
  instance_type               = local.inference_instance_type
  ami_id                      = data.aws_ami.host.id
  subnet_id                   = local.subnet_id
  vpc_security_group_ids      = module.security_groups.role_security_group_ids["inference"]
  key_name                    = aws_key_pair.admin.key_name
  associate_public_ip_address = local.public_ip["inference"]
  detailed_monitoring         = var.detailed_monitoring
  root_volume_size_gib        = try(local.profile.aws.root_volume_gib, 100)
  data_volume_size_gib        = try(local.profile.aws.data_volume_gib, 0)
  kms_key_id                  = var.kms_key_id
  tags                        = local.tags
}

module "support" {
  source   = "./modules/host"
  for_each = local.support_roles

  name                        = "${var.name}-${each.key}"
  role                        = each.key
  instance_count              = each.value
  instance_type               = try(local.profile.aws.roles[each.key].instance_type, "m7i.large")
  ami_id                      = data.aws_ami.host.id
  subnet_id                   = local.subnet_id
  vpc_security_group_ids      = module.security_groups.role_security_group_ids[each.key]
  key_name                    = aws_key_pair.admin.key_name
  associate_public_ip_address = local.public_ip[each.key]
  detailed_monitoring         = var.detailed_monitoring
  root_volume_size_gib        = 50
  data_volume_size_gib        = try(local.profile.aws.roles[each.key].data_volume_gib, 0)
  data_volume_prevent_destroy = each.key == "datastore" && var.datastore_volume_deletion_protection
  data_volume_tags            = each.key == "datastore" && var.datastore_snapshots_enabled ? local.datastore_snapshot_target_tags : {}
  kms_key_id                  = var.kms_key_id
  tags                        = local.tags
}

# Data volumes were all `aws_ebs_volume.data` before modules/host split them into a protected and
# an unprotected resource: existing volumes keep their EBS volume under the new address. With
# datastore_volume_deletion_protection = false an old datastore volume still lands in
# data_protected, and the plan stops until it is moved on (docs/terraform.md).
moved {
  from = module.support["datastore"].aws_ebs_volume.data
  to   = module.support["datastore"].aws_ebs_volume.data_protected
}

moved {
  from = module.inference.aws_ebs_volume.data
  to   = module.inference.aws_ebs_volume.data_unprotected
}

moved {
  from = module.support["monitoring"].aws_ebs_volume.data
  to   = module.support["monitoring"].aws_ebs_volume.data_unprotected
}

moved {
  from = module.support["gateway"].aws_ebs_volume.data
  to   = module.support["gateway"].aws_ebs_volume.data_unprotected
}

# A type outside the profile's vetted list still works when it meets the minimums (the
# precondition in modules/host enforces those); this only warns that nobody has tried it.
check "inference_instance_type_is_vetted" {
  assert {
    condition = local.profile == null || length(local.inference_shortfalls) > 0 || contains(
      concat([local.profile.aws.instance_type], local.profile.aws.allowed_instance_types),
      local.inference_instance_type,
    )
    error_message = "Instance type ${local.inference_instance_type} meets profile ${var.profile} but is not among its vetted types in hardware_profiles/${var.profile}.yaml."
  }
}
