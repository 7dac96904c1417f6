# Security groups for a ragfleet deployment: one `common` group on every host (SSH from admins,
# node_exporter, HTTP(S) out) plus one group per role for what only that role serves, opened to
# the one role that uses it: Redis and Milvus to the inference hosts, their metrics to monitoring.
# Every rule is its own resource so tests and reviews can name it.
# aws_security_group_rule is used rather than the newer per-rule resources: those read same-account
# group references back as "<account>/<sg>" from some endpoints (moto) and show drift on every plan.

locals {
  # A group's description cannot change without replacing the group, so these stay as first
  # written even where the rules have since narrowed (datastore: see member_rule_templates).
  groups = {
    common     = "Every ragfleet host: SSH from admin networks, traffic between deployment members, HTTP(S) egress."
    inference  = "GPU inference hosts: the ragfleet service from the gateway and Prometheus, TensorRT-LLM and DCGM from members."
    datastore  = "Datastore hosts: Redis and Milvus from deployment members only."
    monitoring = "Monitoring hosts: Grafana, Prometheus and Alertmanager from admin networks."
    gateway    = "Gateway hosts: HTTPS from client networks."
  }

  # Rules whose source is another group of this deployment.
  member_rule_templates = {
    common_node_exporter     = { group = "common", port = var.ports.node_exporter, from = "common", description = "node_exporter scraped from inside the deployment" }
    inference_service        = { group = "inference", port = var.ports.service, from = "gateway", description = "ragfleet service from the gateway" }
    inference_service_scrape = { group = "inference", port = var.ports.service, from = "monitoring", description = "ragfleet /metrics scraped by Prometheus (the service allow-lists its address)" }
    inference_dcgm_exporter  = { group = "inference", port = var.ports.dcgm_exporter, from = "common", description = "DCGM exporter scraped from inside the deployment" }
    datastore_redis          = { group = "datastore", port = var.ports.redis, from = "inference", description = "Redis from the inference hosts (the service cache)" }
    datastore_redis_exporter = { group = "datastore", port = var.ports.redis_exporter, from = "monitoring", description = "redis_exporter scraped by Prometheus" }
    datastore_milvus         = { group = "datastore", port = var.ports.milvus, from = "inference", description = "Milvus gRPC from the inference hosts (retrieval)" }
    datastore_milvus_metrics = { group = "datastore", port = var.ports.milvus_metrics, from = "monitoring", description = "Milvus health and metrics scraped by Prometheus" }
  }

  # With ssh_from_gateway the gateway is the SSH jump host (ProxyJump) for hosts without a public
  # address; without it, SSH reaches hosts from admin_cidrs only.
  member_rules = merge(local.member_rule_templates, var.ssh_from_gateway ? {
    common_ssh_from_gateway = { group = "common", port = var.ports.ssh, from = "gateway", description = "SSH jumped through the gateway (ProxyJump) to hosts without a public address" }
  } : {})

  # Rules whose source is a list of CIDRs; a rule with no CIDRs is left out (the port stays closed).
  cidr_rule_templates = {
    common_ssh              = { group = "common", port = var.ports.ssh, cidrs = var.admin_cidrs, description = "SSH from admin networks" }
    monitoring_grafana      = { group = "monitoring", port = var.ports.grafana, cidrs = var.admin_cidrs, description = "Grafana from admin networks" }
    monitoring_prometheus   = { group = "monitoring", port = var.ports.prometheus, cidrs = var.admin_cidrs, description = "Prometheus from admin networks" }
    monitoring_alertmanager = { group = "monitoring", port = var.ports.alertmanager, cidrs = var.admin_cidrs, description = "Alertmanager from admin networks" }
    gateway_https           = { group = "gateway", port = var.ports.gateway_https, cidrs = var.client_cidrs, description = "HTTPS from client networks" }
  }
  cidr_rules = { for key, rule in local.cidr_rule_templates : key => rule if length(rule.cidrs) > 0 }

  egress_rules = length(var.egress_cidrs) == 0 ? {} : {
    https = { port = var.ports.egress_https, description = "HTTPS out: packages, images, model weights" }
    http  = { port = var.ports.egress_http, description = "HTTP out: Debian/Ubuntu package mirrors" }
  }
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to instances by the caller through role_security_group_ids; checkov's graph cannot follow a module output map.
  for_each = local.groups

  name        = "${var.name}-${each.key}"
  description = each.value
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}", Role = each.key })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "member_ingress" {
  for_each = local.member_rules

  type                     = "ingress"
  security_group_id        = aws_security_group.this[each.value.group].id
  source_security_group_id = aws_security_group.this[each.value.from].id
  protocol                 = "tcp"
  from_port                = each.value.port
  to_port                  = each.value.port
  description              = each.value.description
}

resource "aws_security_group_rule" "cidr_ingress" {
  for_each = local.cidr_rules

  type              = "ingress"
  security_group_id = aws_security_group.this[each.value.group].id
  cidr_blocks       = each.value.cidrs
  protocol          = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  description       = each.value.description
}

resource "aws_security_group_rule" "internet_egress" {
  for_each = local.egress_rules

  type              = "egress"
  security_group_id = aws_security_group.this["common"].id
  cidr_blocks       = var.egress_cidrs
  protocol          = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  description       = each.value.description
}

# Members talk to each other on any TCP port; the role groups decide which ports are open.
resource "aws_security_group_rule" "member_egress" {
  type                     = "egress"
  security_group_id        = aws_security_group.this["common"].id
  source_security_group_id = aws_security_group.this["common"].id
  protocol                 = "tcp"
  from_port                = 1
  to_port                  = 65535
  description              = "TCP to other members of the deployment"
}
