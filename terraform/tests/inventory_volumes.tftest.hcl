# The inventory names each host's EBS data volume, so Ansible can find it under /dev/disk/by-id
# and mount it; hosts without one (the gateway of the small profile) carry no volume ID.
# Offline: the AWS provider is mocked, with volume IDs shaped like EC2's.

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

  mock_resource "aws_ebs_volume" {
    defaults = {
      id = "vol-0123456789abcdef0"
    }
  }
}

variables {
  name           = "rf-test"
  admin_cidrs    = ["203.0.113.0/24"]
  client_cidrs   = ["198.51.100.0/24"]
  ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY test@ragfleet"
  # Applies: Terraform 1.11's test cleanup cannot destroy a prevent_destroy volume.
  datastore_volume_deletion_protection = false
  profile                              = "small"
}

run "hosts_with_a_data_volume_carry_its_id" {
  command = apply

  assert {
    condition = alltrue([
      for group in ["gpu_inference", "datastore", "monitoring"] : alltrue([
        for name, host in yamldecode(output.ansible_inventory).all.children[group].hosts :
        host.ragfleet_data_volume_id == output.storage[name].data_volume_id
      ])
    ])
    error_message = "Every GPU, datastore and monitoring host must carry its own data volume's ID as ragfleet_data_volume_id."
  }

  assert {
    condition = alltrue([
      for group in ["gpu_inference", "datastore", "monitoring"] : alltrue([
        for name, host in yamldecode(output.ansible_inventory).all.children[group].hosts :
        can(regex("^vol-[0-9a-f]+$", host.ragfleet_data_volume_id))
      ])
    ])
    error_message = "ragfleet_data_volume_id must be an EBS volume ID (vol-...)."
  }

  assert {
    condition = alltrue([
      for name, host in yamldecode(output.ansible_inventory).all.children.gateway.hosts :
      !contains(keys(host), "ragfleet_data_volume_id")
    ])
    error_message = "The small profile's gateway has no data volume, so no ragfleet_data_volume_id."
  }
}
