# Each hardware profile plans to its own GPU instance type with encrypted storage, IMDSv2 and an
# inventory Ansible can read. Offline: the AWS provider is mocked.

mock_provider "aws" {
  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
    }
  }
}

variables {
  name           = "rf-test"
  admin_cidrs    = ["203.0.113.0/24"]
  client_cidrs   = ["198.51.100.0/24"]
  ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY test@ragfleet"
}

run "small_profile_uses_an_l4_host" {
  command = apply

  variables {
    profile = "small"
  }

  assert {
    condition     = output.inference_instance_type == "g6.4xlarge"
    error_message = "small must default to g6.4xlarge, got ${output.inference_instance_type}."
  }

  assert {
    condition     = alltrue([for host in output.hosts.gpu_inference : host.instance_type == "g6.4xlarge"])
    error_message = "Every inference host of small must be g6.4xlarge."
  }

  assert {
    condition     = output.storage["rf-test-inference-1"].root_encrypted && output.storage["rf-test-inference-1"].data_encrypted
    error_message = "Root and data volumes of GPU hosts must be encrypted."
  }

  assert {
    condition     = output.storage["rf-test-inference-1"].root_volume_size_gib == 100 && output.storage["rf-test-inference-1"].data_volume_size_gib == 200
    error_message = "small sizes GPU hosts with a 100 GiB root and a 200 GiB data volume."
  }

  assert {
    condition     = alltrue([for host, storage in output.storage : storage.http_tokens == "required"])
    error_message = "Every host must require IMDSv2 tokens."
  }

  assert {
    condition     = output.storage["rf-test-gateway-1"].data_volume_size_gib == 0 && output.storage["rf-test-datastore-1"].data_volume_size_gib == 100
    error_message = "The gateway keeps no data; the datastore keeps Redis and Milvus on a 100 GiB EBS volume."
  }
}

run "small_profile_inventory_groups_hosts_by_role" {
  command = apply

  variables {
    profile         = "small"
    inference_count = 2
  }

  assert {
    condition     = yamldecode(output.ansible_inventory).all.vars.ragfleet_profile == "small"
    error_message = "The inventory must carry the profile name as group var ragfleet_profile."
  }

  assert {
    condition     = toset(keys(yamldecode(output.ansible_inventory).all.children)) == toset(["gpu_inference", "datastore", "monitoring", "gateway"])
    error_message = "The inventory must have exactly the groups gpu_inference, datastore, monitoring and gateway."
  }

  assert {
    condition     = toset(keys(yamldecode(output.ansible_inventory).all.children.gpu_inference.hosts)) == toset(["rf-test-inference-1", "rf-test-inference-2"])
    error_message = "Both inference hosts must be in gpu_inference."
  }

  assert {
    condition     = length(yamldecode(output.ansible_inventory).all.children.gateway.hosts) == 1
    error_message = "One gateway host by default."
  }
}

run "medium_profile_uses_a_two_nvme_l4_host" {
  command = plan

  variables {
    profile = "medium"
  }

  assert {
    condition     = output.inference_instance_type == "g6.16xlarge"
    error_message = "medium must default to g6.16xlarge, got ${output.inference_instance_type}."
  }
}

run "large_profile_uses_a100_hosts" {
  command = plan

  variables {
    profile = "large"
  }

  assert {
    condition     = output.inference_instance_type == "p4d.24xlarge"
    error_message = "large must default to p4d.24xlarge, got ${output.inference_instance_type}."
  }
}

run "an_allowed_alternative_replaces_the_default" {
  command = plan

  variables {
    profile                 = "medium"
    inference_instance_type = "g6e.12xlarge"
  }

  assert {
    condition     = output.inference_instance_type == "g6e.12xlarge"
    error_message = "An allowed alternative must override the profile default."
  }
}

run "existing_network_is_used_without_creating_one" {
  command = plan

  variables {
    profile   = "small"
    vpc_id    = "vpc-0abc"
    subnet_id = "subnet-0abc"
  }

  assert {
    condition     = output.vpc_id == "vpc-0abc" && output.subnet_id == "subnet-0abc"
    error_message = "Given vpc_id and subnet_id must be used as they are."
  }

  assert {
    condition     = length(module.network) == 0
    error_message = "No network may be created when one is given."
  }
}
