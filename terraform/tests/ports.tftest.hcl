# Every security group rule of the root module opens the port hardware_profiles/ports.yaml gives
# its service, the file Ansible reads ragfleet_ports from. tests/terraform/test_ports.py changes
# the file in a copy and shows the rules follow.

mock_provider "aws" {
  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/rf-test-dlm"
    }
  }
}

variables {
  name           = "rf-test"
  profile        = "small"
  admin_cidrs    = ["203.0.113.0/24"]
  client_cidrs   = ["198.51.100.0/24"]
  ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY test@ragfleet"
}

run "security_group_rules_open_the_ports_of_ports_yaml" {
  command = plan

  assert {
    condition = alltrue([
      for rule, service in {
        common_node_exporter     = "node_exporter"
        inference_service        = "service"
        inference_service_scrape = "service"
        inference_dcgm_exporter  = "dcgm_exporter"
        datastore_redis          = "redis"
        datastore_redis_exporter = "redis_exporter"
        datastore_milvus         = "milvus"
        datastore_milvus_metrics = "milvus_metrics"
        monitoring_grafana       = "grafana"
        monitoring_prometheus    = "prometheus"
        monitoring_alertmanager  = "alertmanager"
        gateway_https            = "gateway_https"
      } : output.ingress_rules[rule].port == yamldecode(file("../hardware_profiles/ports.yaml"))[service]
    ])
    error_message = "Each service rule must open the port hardware_profiles/ports.yaml gives that service."
  }

  assert {
    condition     = output.ingress_rules["common_ssh"].port == 22
    error_message = "SSH is the hosts' port, not a service's: it stays 22."
  }
}
