# Each hardware profile plans to its own GPU instance type with encrypted storage, IMDSv2 and an
# inventory Ansible can read; only the gateway is public; the datastore volume is protected and
# snapshotted. Offline: the AWS provider is mocked.

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
  admin_cidrs    = ["203.0.113.0/24"]
  client_cidrs   = ["198.51.100.0/24"]
  ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY test@ragfleet"
  # Terraform 1.11's test cleanup cannot destroy a prevent_destroy resource (hashicorp/terraform
  # #34960, fixed in 1.14), so runs that apply leave the datastore volume unprotected; the runs
  # that check the protection only plan.
  datastore_volume_deletion_protection = false
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

run "only_the_gateway_gets_a_public_ip_by_default" {
  command = apply

  variables {
    profile = "small"
  }

  assert {
    condition     = alltrue([for role in ["gpu_inference", "datastore", "monitoring"] : alltrue([for host in output.hosts[role] : !host.public])])
    error_message = "Inference, datastore and monitoring hosts must not ask for a public IP by default."
  }

  assert {
    condition     = length(output.hosts.gateway) == 1 && alltrue([for host in output.hosts.gateway : host.public])
    error_message = "The gateway must get a public IP by default."
  }

  assert {
    condition     = alltrue([for role in ["gpu_inference", "datastore", "monitoring"] : alltrue([for host in output.hosts[role] : host.ansible_host == host.private_ip])])
    error_message = "Ansible must reach hosts without a public IP on their private address."
  }

  assert {
    condition     = output.hosts.gateway[0].ansible_host == output.hosts.gateway[0].public_ip
    error_message = "Ansible must reach the gateway on its public address."
  }

  assert {
    condition = alltrue([
      for group in ["gpu_inference", "datastore", "monitoring"] : alltrue([
        for name, host in yamldecode(output.ansible_inventory).all.children[group].hosts :
        host.ansible_ssh_common_args == "-o ProxyJump=ubuntu@${output.hosts.gateway[0].public_ip}"
      ])
    ])
    error_message = "Private hosts must be reached by ProxyJump through the gateway's public address."
  }

  assert {
    condition     = !contains(keys(yamldecode(output.ansible_inventory).all.children.gateway.hosts["rf-test-gateway-1"]), "ansible_ssh_common_args")
    error_message = "The gateway is reached directly, not through itself."
  }

  assert {
    condition     = output.ingress_rules["common_ssh_from_gateway"].sources == ["sg:gateway"] && output.ingress_rules["common_ssh_from_gateway"].port == 22
    error_message = "SSH must be open from the gateway group so it can be the jump host."
  }
}

run "private_hosts_refuse_a_public_ip_explicitly" {
  command = plan

  variables {
    profile = "small"
  }

  assert {
    condition     = alltrue([for role in ["gpu_inference", "datastore", "monitoring"] : alltrue([for host in output.hosts[role] : host.associate_public_ip_address == false])])
    error_message = "Non-gateway hosts must be launched with associate_public_ip_address = false, not left to the subnet."
  }

  assert {
    condition     = output.hosts.gateway[0].associate_public_ip_address == true
    error_message = "The gateway must be launched with associate_public_ip_address = true."
  }
}

run "an_emulator_leaves_private_hosts_public_ip_to_the_subnet" {
  command = plan

  variables {
    profile = "small"
    testing = { aws_endpoint_url = "http://127.0.0.1:5000" }
  }

  assert {
    condition     = alltrue([for role in ["gpu_inference", "datastore", "monitoring"] : alltrue([for host in output.hosts[role] : !host.public])])
    error_message = "The test-only emulator hook must not make private hosts public."
  }

  assert {
    condition     = alltrue([for role in ["inference", "datastore", "monitoring"] : local.public_ip[role] == null]) && local.public_ip["gateway"]
    error_message = "Against an emulator, private hosts send no public-IP choice (moto reads an explicit false back wrong)."
  }
}

run "public_ip_roles_opts_a_role_in" {
  command = apply

  variables {
    profile         = "small"
    public_ip_roles = ["gateway", "monitoring"]
  }

  assert {
    condition     = output.hosts.monitoring[0].public && output.hosts.monitoring[0].ansible_host == output.hosts.monitoring[0].public_ip
    error_message = "A role listed in public_ip_roles gets a public IP and is reached on it."
  }

  assert {
    condition     = !contains(keys(yamldecode(output.ansible_inventory).all.children.monitoring.hosts["rf-test-monitoring-1"]), "ansible_ssh_common_args")
    error_message = "A public host needs no jump host."
  }

  assert {
    condition     = !output.hosts.gpu_inference[0].public && !output.hosts.datastore[0].public
    error_message = "Roles not listed stay private."
  }
}

run "without_a_public_gateway_nothing_is_public_and_nothing_jumps" {
  command = apply

  variables {
    profile         = "small"
    public_ip_roles = []
  }

  assert {
    condition     = alltrue([for role, hosts in output.hosts : alltrue([for host in hosts : !host.public && host.ansible_host == host.private_ip])])
    error_message = "With public_ip_roles empty every host is private."
  }

  assert {
    condition     = alltrue([for group, members in yamldecode(output.ansible_inventory).all.children : alltrue([for name, host in members.hosts : !contains(keys(host), "ansible_ssh_common_args")])])
    error_message = "Without a public gateway there is no jump host to write into the inventory."
  }

  assert {
    condition     = !contains(keys(output.ingress_rules), "common_ssh_from_gateway")
    error_message = "Without a public gateway, SSH from the gateway group stays closed."
  }
}

run "datastore_volume_is_protected_and_snapshotted_by_default" {
  command = plan

  variables {
    profile                              = "small"
    datastore_volume_deletion_protection = true
  }

  assert {
    condition     = output.storage["rf-test-datastore-1"].data_protected
    error_message = "The datastore data volume must be the prevent_destroy one by default."
  }

  assert {
    condition     = !output.storage["rf-test-inference-1"].data_protected && !output.storage["rf-test-monitoring-1"].data_protected
    error_message = "Only the datastore volume is protected; model weights and metrics can be rebuilt."
  }

  assert {
    condition     = aws_dlm_lifecycle_policy.datastore[0].policy_details[0].target_tags == tomap({ SnapshotPolicy = "rf-test-datastore" })
    error_message = "The DLM policy must target the datastore snapshot tag."
  }

  assert {
    condition     = output.storage["rf-test-datastore-1"].data_tags["SnapshotPolicy"] == "rf-test-datastore"
    error_message = "The datastore data volume must carry the tag the DLM policy targets."
  }

  assert {
    condition     = !contains(keys(output.storage["rf-test-inference-1"].data_tags), "SnapshotPolicy") && !contains(keys(output.storage["rf-test-monitoring-1"].data_tags), "SnapshotPolicy")
    error_message = "Only the datastore volume is snapshotted."
  }

  assert {
    condition     = aws_dlm_lifecycle_policy.datastore[0].state == "ENABLED" && aws_dlm_lifecycle_policy.datastore[0].policy_details[0].resource_types == tolist(["VOLUME"])
    error_message = "The DLM policy must be enabled and snapshot volumes."
  }

  assert {
    condition     = aws_dlm_lifecycle_policy.datastore[0].policy_details[0].schedule[0].retain_rule[0].count == 7 && aws_dlm_lifecycle_policy.datastore[0].policy_details[0].schedule[0].create_rule[0].interval == 24
    error_message = "By default DLM snapshots daily and keeps 7."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.dlm[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
    error_message = "The DLM role must use the AWS managed DLM service policy."
  }

  assert {
    condition     = jsondecode(aws_iam_role.dlm[0].assume_role_policy).Statement[0].Principal.Service == "dlm.amazonaws.com"
    error_message = "Only DLM may assume the DLM role."
  }
}

run "snapshot_schedule_follows_its_variables" {
  command = plan

  variables {
    profile                           = "small"
    datastore_snapshot_retain_count   = 30
    datastore_snapshot_interval_hours = 12
  }

  assert {
    condition     = aws_dlm_lifecycle_policy.datastore[0].policy_details[0].schedule[0].retain_rule[0].count == 30 && aws_dlm_lifecycle_policy.datastore[0].policy_details[0].schedule[0].create_rule[0].interval == 12
    error_message = "Retention count and interval come from their variables."
  }
}

run "snapshots_can_be_turned_off" {
  command = plan

  variables {
    profile                     = "small"
    datastore_snapshots_enabled = false
  }

  assert {
    condition     = length(aws_dlm_lifecycle_policy.datastore) == 0 && length(aws_iam_role.dlm) == 0 && length(aws_iam_role_policy_attachment.dlm) == 0
    error_message = "datastore_snapshots_enabled = false creates no DLM policy or role."
  }

  assert {
    condition     = !contains(keys(output.storage["rf-test-datastore-1"].data_tags), "SnapshotPolicy")
    error_message = "Without a policy the volume carries no snapshot tag."
  }
}
