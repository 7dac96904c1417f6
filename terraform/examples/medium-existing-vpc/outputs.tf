output "ansible_inventory" {
  description = "Ansible YAML inventory of the deployment, hosts grouped by role."
  value       = module.ragfleet.ansible_inventory
}

output "hosts" {
  description = "Hosts by role with their addresses and instance types."
  value       = module.ragfleet.hosts
}

output "security_group_ids" {
  description = "Security groups by name, for rules the surrounding VPC adds (e.g. a load balancer in front of the gateway)."
  value       = module.ragfleet.security_group_ids
}
