# One small-profile GPU host in a new VPC and nothing else: the cheapest way to try ragfleet on a
# real GPU. Without a gateway there is no jump host, so the one host is public; its security
# groups still open only SSH to admin_cidrs.

module "ragfleet" {
  source = "../.."

  name    = var.name
  profile = "small"
  region  = var.region

  inference_count  = 1
  datastore_count  = 0
  monitoring_count = 0
  gateway_count    = 0

  public_ip_roles = ["inference"]
  admin_cidrs     = var.admin_cidrs
  ssh_public_key  = var.ssh_public_key

  tags = { Example = "small-single-host" }
}
