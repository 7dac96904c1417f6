# A large fleet serving a public API: four A100 hosts, datastore and monitoring hosts, and two
# gateways. Only the gateways have public addresses; every other host is private and reached
# through a gateway (ProxyJump, written into the inventory).

module "ragfleet" {
  source = "../.."

  name              = var.name
  profile           = "large"
  region            = var.region
  availability_zone = var.availability_zone

  inference_count  = 4
  datastore_count  = 1
  monitoring_count = 1
  gateway_count    = 2

  public_ip_roles = ["gateway"]
  admin_cidrs     = var.admin_cidrs
  client_cidrs    = ["0.0.0.0/0"]
  ssh_public_key  = var.ssh_public_key
  kms_key_id      = var.kms_key_id

  tags = { Example = "large-public-gateway" }
}
