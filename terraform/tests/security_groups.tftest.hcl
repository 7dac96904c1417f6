# Who may reach what: the security group rules, tested on the module itself so each rule resource
# can be named, and through the root module's ingress_rules output.

mock_provider "aws" {}

variables {
  name         = "rf-test"
  vpc_id       = "vpc-0abc"
  admin_cidrs  = ["203.0.113.0/24"]
  client_cidrs = ["198.51.100.0/24"]
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

run "backends_are_reachable_from_members_only" {
  command = apply

  module {
    source = "./modules/security_groups"
  }

  assert {
    condition = alltrue([
      for rule in output.ingress_rules : toset(rule.sources) == toset(["sg:common"])
      if contains([6379, 19530, 9091, 8001, 9100, 9121, 9400], rule.port)
    ])
    error_message = "Redis, Milvus, TensorRT-LLM and the exporters must be open to deployment members only."
  }

  assert {
    condition     = length([for rule in output.ingress_rules : rule if contains([6379, 19530, 9091, 8001, 9100, 9121, 9400], rule.port)]) == 7
    error_message = "Each backend and exporter port must have exactly one rule."
  }
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
