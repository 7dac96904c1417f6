# A medium fleet inside a VPC and subnet that already exist (with their routing, flow logs and VPN
# managed elsewhere): two GPU hosts, a datastore, a monitoring host and a public gateway.

module "ragfleet" {
  source = "../.."

  name    = var.name
  profile = "medium"
  region  = var.region

  vpc_id    = var.vpc_id
  subnet_id = var.subnet_id

  inference_count  = 2
  datastore_count  = 1
  monitoring_count = 1
  gateway_count    = 1

  public_ip_roles = var.public_ip_roles
  admin_cidrs     = var.admin_cidrs
  client_cidrs    = var.client_cidrs
  ssh_public_key  = var.ssh_public_key
  kms_key_id      = var.kms_key_id

  tags = { Example = "medium-existing-vpc" }
}
