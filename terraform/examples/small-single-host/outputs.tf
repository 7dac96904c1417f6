output "ansible_inventory" {
  description = "Ansible YAML inventory of the deployment (the host sits in gpu_inference)."
  value       = module.ragfleet.ansible_inventory
}

output "hosts" {
  description = "Hosts by role with their addresses and instance types."
  value       = module.ragfleet.hosts
}
