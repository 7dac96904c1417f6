locals {
  inventory_groups = {
    gpu_inference = module.inference.hosts
    datastore     = module.support["datastore"].hosts
    monitoring    = module.support["monitoring"].hosts
    gateway       = module.support["gateway"].hosts
  }

  # Hosts without a public address are reached by jumping through the first gateway.
  ssh_jump = local.gateway_is_jump_host ? "-o ProxyJump=${var.ssh_user}@${module.support["gateway"].hosts[0].ansible_host}" : null
}

output "ansible_inventory" {
  description = "Ansible YAML inventory: hosts grouped by role (gpu_inference, datastore, monitoring, gateway), the profile as group var ragfleet_profile. ansible_host is a host's public address if its role is in public_ip_roles, else its private address, and then ansible_ssh_common_args jumps through the public gateway (when there is one). Hosts with an EBS data volume carry its ID as ragfleet_data_volume_id (the data_volume role mounts it)."
  value = yamlencode({
    all = {
      vars = {
        ansible_user        = var.ssh_user
        ragfleet_profile    = var.profile
        ragfleet_deployment = var.name
      }
      children = {
        for group, hosts in local.inventory_groups : group => {
          hosts = {
            for host in hosts : host.name => merge({
              ansible_host  = host.ansible_host
              private_ip    = host.private_ip
              instance_id   = host.id
              instance_type = host.instance_type
              },
              host.public || local.ssh_jump == null ? {} : { ansible_ssh_common_args = local.ssh_jump },
              host.data_volume_id == null ? {} : { ragfleet_data_volume_id = host.data_volume_id },
            )
          }
        }
      }
    }
  })
}

output "profile" {
  description = "Name of the hardware profile the deployment was sized from."
  value       = var.profile
}

output "inference_instance_type" {
  description = "EC2 instance type of the GPU inference hosts; planning fails when it does not meet the profile."
  value       = local.inference_instance_type

  precondition {
    condition     = length(local.inference_shortfalls) == 0
    error_message = "Instance type ${local.inference_instance_type} does not meet hardware profile ${var.profile}: ${join("; ", local.inference_shortfalls)}."
  }
}

output "hosts" {
  description = "Hosts by role: name, id, instance type, private and public IP, whether a public IP was asked for, ansible_host."
  value       = local.inventory_groups
}

output "storage" {
  description = "Root and data volume of every host, by host name."
  value       = merge(module.inference.storage, [for role in keys(local.support_roles) : module.support[role].storage]...)
}

output "datastore_snapshot_policy_id" {
  description = "ID of the DLM policy snapshotting the datastore volume; null when datastore_snapshots_enabled is false."
  value       = one(aws_dlm_lifecycle_policy.datastore[*].id)
}

output "dlm_role_arn" {
  description = "IAM role DLM snapshots as; with kms_key_id set, the key policy must let this role use the key."
  value       = one(aws_iam_role.dlm[*].arn)
}

output "security_group_ids" {
  description = "Security group IDs by name: common, inference, datastore, monitoring, gateway."
  value       = module.security_groups.security_group_ids
}

output "ingress_rules" {
  description = "Every ingress rule as {group, port, sources}."
  value       = module.security_groups.ingress_rules
}

output "vpc_id" {
  description = "VPC of the deployment."
  value       = local.vpc_id
}

output "subnet_id" {
  description = "Subnet of the hosts."
  value       = local.subnet_id
}
