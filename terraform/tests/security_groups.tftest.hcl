# Who may reach what: the security group rules, tested on the module itself so each rule resource
# can be named, and through the root module's ingress_rules output.

mock_provider "aws" {}

variables {
  name         = "rf-test"
  vpc_id       = "vpc-0abc"
  admin_cidrs  = ["203.0.113.0/24"]
  client_cidrs = ["198.51.100.0/24"]
  # The numbers the root module passes: the port assertions below read as the file defines them.
  ports = yamldecode(file("../hardware_profiles/ports.yaml"))
}

run "ssh_is_open_to_admin_networks_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = flatten([for rule in output.ingress_rules : rule.sources if rule.port == 22]) == ["203.0.113.0/24"]
    error_message = "SSH must be open to the admin CIDRs and nothing else."
  }

  assert {
    condition     = aws_security_group_rule.cidr_ingress["common_ssh"].security_group_id == aws_security_group.this["common"].id
    error_message = "The SSH rule belongs to the common group every host carries."
  }
}

run "service_port_is_open_to_the_gateway_and_prometheus_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = toset(flatten([for rule in output.ingress_rules : rule.sources if rule.port == 8000])) == toset(["sg:gateway", "sg:monitoring"])
    error_message = "Port 8000 must be reachable from the gateway (traffic) and monitoring (scrapes) groups only."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["inference_service"].source_security_group_id == aws_security_group.this["gateway"].id
    error_message = "The service rule must reference the gateway security group."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["inference_service_scrape"].source_security_group_id == aws_security_group.this["monitoring"].id
    error_message = "The scrape rule must reference the monitoring security group."
  }
}

run "redis_and_milvus_are_open_to_the_inference_hosts_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition = alltrue([
      for rule in output.ingress_rules : toset(rule.sources) == toset(["sg:inference"]) && rule.group == "datastore"
      if contains([6379, 19530], rule.port)
    ])
    error_message = "Redis (6379) and Milvus (19530) must be open to the inference group only."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["datastore_redis"].source_security_group_id == aws_security_group.this["inference"].id
    error_message = "The Redis rule must reference the inference security group."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["datastore_milvus"].source_security_group_id == aws_security_group.this["inference"].id
    error_message = "The Milvus rule must reference the inference security group."
  }
}

run "datastore_metrics_are_open_to_monitoring_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition = alltrue([
      for rule in output.ingress_rules : toset(rule.sources) == toset(["sg:monitoring"]) && rule.group == "datastore"
      if contains([9121, 9091], rule.port)
    ])
    error_message = "redis_exporter (9121) and Milvus metrics (9091) must be open to the monitoring group only."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["datastore_redis_exporter"].source_security_group_id == aws_security_group.this["monitoring"].id && aws_security_group_rule.member_ingress["datastore_milvus_metrics"].source_security_group_id == aws_security_group.this["monitoring"].id
    error_message = "The datastore metrics rules must reference the monitoring security group."
  }
}

run "no_datastore_port_is_open_to_every_member" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = length([for rule in output.ingress_rules : rule if rule.group == "datastore" && contains(rule.sources, "sg:common")]) == 0
    error_message = "No datastore port may be open to the common group (every host of the deployment)."
  }

  assert {
    condition     = length([for rule in output.ingress_rules : rule if rule.group == "datastore"]) == 4
    error_message = "The datastore group has exactly four rules: Redis, Milvus and their metrics."
  }
}

run "other_backends_are_reachable_from_members_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition = alltrue([
      for rule in output.ingress_rules : toset(rule.sources) == toset(["sg:common"])
      if contains([9100, 9400], rule.port)
    ])
    error_message = "The host exporters must be open to deployment members only."
  }

  assert {
    condition     = length([for rule in output.ingress_rules : rule if contains([6379, 19530, 9091, 9100, 9121, 9400], rule.port)]) == 6
    error_message = "Each backend and exporter port must have exactly one rule."
  }
}

run "ssh_from_the_gateway_is_opt_in" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  variables {
    ssh_from_gateway = true
  }

  assert {
    condition     = toset(flatten([for rule in output.ingress_rules : rule.sources if rule.port == 22])) == toset(["203.0.113.0/24", "sg:gateway"])
    error_message = "With ssh_from_gateway, SSH is open to the admin CIDRs and the gateway group."
  }

  assert {
    condition     = aws_security_group_rule.member_ingress["common_ssh_from_gateway"].source_security_group_id == aws_security_group.this["gateway"].id
    error_message = "The jump-host rule must reference the gateway security group."
  }
}

run "module_rejects_an_over_broad_admin_cidr" {
  command = plan

  module {
    source = "./modules/security_groups"
  }

  variables {
    admin_cidrs = ["0.0.0.0/1"]
  }

  expect_failures = [var.admin_cidrs]
}

run "module_rejects_half_the_internet_as_client_cidr" {
  command = plan

  module {
    source = "./modules/security_groups"
  }

  variables {
    client_cidrs = ["0.0.0.0/1", "128.0.0.0/1"]
  }

  expect_failures = [var.client_cidrs]
}

run "monitoring_uis_are_open_to_admin_networks_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition = alltrue([
      for rule in output.ingress_rules : toset(rule.sources) == toset(["203.0.113.0/24"]) && rule.group == "monitoring"
      if contains([3000, 9090, 9093], rule.port)
    ])
    error_message = "Grafana, Prometheus and Alertmanager must be open to admin CIDRs on the monitoring group only."
  }
}

run "gateway_https_is_open_to_client_networks" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = flatten([for rule in output.ingress_rules : rule.sources if rule.port == 443]) == ["198.51.100.0/24"]
    error_message = "HTTPS on the gateway must be open to the client CIDRs."
  }
}

run "gateway_is_closed_without_client_networks" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  variables {
    client_cidrs = []
  }

  assert {
    condition     = length([for rule in output.ingress_rules : rule if rule.port == 443]) == 0
    error_message = "No client CIDRs must mean no HTTPS rule."
  }
}

run "egress_is_limited_to_web_and_members" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = toset([for rule in aws_security_group_rule.internet_egress : rule.from_port]) == toset([80, 443])
    error_message = "Egress to the internet must be limited to HTTP and HTTPS."
  }
}

run "trtllm_serve_is_not_reachable_from_other_hosts" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  # trtllm-serve has no authentication: it is published on the GPU host's loopback only and
  # Prometheus reads its metrics through the service's /metrics/llm on port 8000.
  assert {
    condition     = length([for rule in output.ingress_rules : rule if rule.port == 8001]) == 0
    error_message = "No rule may open trtllm-serve's port 8001."
  }
}

run "module_rejects_a_port_outside_the_tcp_range" {
  command = plan

  module {
    source = "./modules/security_groups"
  }

  variables {
    ports = merge(yamldecode(file("../hardware_profiles/ports.yaml")), { redis = 70000 })
  }

  expect_failures = [var.ports]
}

run "ssh_and_egress_ports_keep_their_module_defaults" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition     = aws_security_group_rule.cidr_ingress["common_ssh"].from_port == 22
    error_message = "SSH stays on 22 unless the caller says otherwise."
  }

  assert {
    condition     = aws_security_group_rule.internet_egress["https"].from_port == 443 && aws_security_group_rule.internet_egress["http"].from_port == 80
    error_message = "Egress stays on 443 and 80 unless the caller says otherwise."
  }
}
