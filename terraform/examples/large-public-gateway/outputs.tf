output "ansible_inventory" {
  description = "Ansible YAML inventory of the deployment; private hosts are reached through the first gateway."
  value       = module.ragfleet.ansible_inventory
}

output "gateway_public_ips" {
  description = "Public addresses of the gateways, for the API's DNS records."
  value       = [for host in module.ragfleet.hosts.gateway : host.public_ip]
}

output "datastore_snapshot_policy_id" {
  description = "ID of the DLM policy snapshotting the datastore volume."
  value       = module.ragfleet.datastore_snapshot_policy_id
}
