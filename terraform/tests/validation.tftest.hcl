# Inputs and sizes that must be refused before anything is created.

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
  ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8tYrbEOyH8qpfLsb7y1rMtnYbVqpFo2ra3T9Pq0hY test@ragfleet"
}

run "unknown_profile_is_rejected" {
  command = plan

  variables {
    profile = "huge"
  }

  expect_failures = [var.profile]
}

run "catalogue_is_not_a_profile" {
  command = plan

  variables {
    profile = "aws_instance_types"
  }

  expect_failures = [var.profile]
}

run "ports_file_is_not_a_profile" {
  command = plan

  variables {
    profile = "ports"
  }

  expect_failures = [var.profile]
}

run "driver_table_is_not_a_profile" {
  command = plan

  variables {
    profile = "nvidia_driver"
  }

  expect_failures = [var.profile]
}

run "undersized_instance_type_is_rejected" {
  command = plan

  variables {
    inference_instance_type = "g4dn.xlarge"
  }

  expect_failures = [output.inference_instance_type]
}

run "fp8_profile_rejects_a_gpu_without_fp8" {
  command = plan

  variables {
    profile                 = "medium"
    inference_instance_type = "g5.48xlarge"
  }

  expect_failures = [output.inference_instance_type]
}

run "fitting_but_unvetted_instance_type_only_warns" {
  command = plan

  variables {
    inference_instance_type = "g6e.8xlarge"
  }

  expect_failures = [check.inference_instance_type_is_vetted]
}

run "instance_type_outside_the_catalogue_is_rejected" {
  command = plan

  variables {
    inference_instance_type = "x9.superlarge"
  }

  expect_failures = [var.inference_instance_type]
}

run "world_open_admin_cidr_is_rejected" {
  command = plan

  variables {
    admin_cidrs = ["203.0.113.0/24", "0.0.0.0/0"]
  }

  expect_failures = [var.admin_cidrs]
}

run "half_the_internet_as_admin_cidr_is_rejected" {
  command = plan

  variables {
    admin_cidrs = ["0.0.0.0/1"]
  }

  expect_failures = [var.admin_cidrs]
}

run "a_slash_8_admin_cidr_is_rejected" {
  command = plan

  variables {
    admin_cidrs = ["10.0.0.0/8"]
  }

  expect_failures = [var.admin_cidrs]
}

run "an_admin_cidr_just_broader_than_a_slash_16_is_rejected" {
  command = plan

  variables {
    admin_cidrs = ["198.50.0.0/15"]
  }

  expect_failures = [var.admin_cidrs]
}

run "ipv6_admin_cidr_is_rejected" {
  command = plan

  variables {
    admin_cidrs = ["::/0"]
  }

  expect_failures = [var.admin_cidrs]
}

run "half_the_internet_as_client_cidr_is_rejected" {
  command = plan

  variables {
    client_cidrs = ["0.0.0.0/1", "128.0.0.0/1"]
  }

  expect_failures = [var.client_cidrs]
}

run "narrow_admin_cidrs_and_a_public_api_are_accepted" {
  command = plan

  variables {
    admin_cidrs  = ["198.51.0.0/16", "203.0.113.7/32"]
    client_cidrs = ["0.0.0.0/0"]
  }

  assert {
    condition     = output.ingress_rules["common_ssh"].sources == tolist(["198.51.0.0/16", "203.0.113.7/32"])
    error_message = "A /16 and a /32 are admin networks SSH may be opened to."
  }

  assert {
    condition     = output.ingress_rules["gateway_https"].sources == tolist(["0.0.0.0/0"])
    error_message = "client_cidrs = [\"0.0.0.0/0\"] is how the gateway serves a public API."
  }
}

run "unknown_public_ip_role_is_rejected" {
  command = plan

  variables {
    public_ip_roles = ["gateway", "bastion"]
  }

  expect_failures = [var.public_ip_roles]
}

run "zero_snapshots_to_keep_is_rejected" {
  command = plan

  variables {
    datastore_snapshot_retain_count = 0
  }

  expect_failures = [var.datastore_snapshot_retain_count]
}

run "fractional_snapshot_retention_is_rejected" {
  command = plan

  variables {
    datastore_snapshot_retain_count = 2.5
  }

  expect_failures = [var.datastore_snapshot_retain_count]
}

run "snapshot_interval_dlm_cannot_do_is_rejected" {
  command = plan

  variables {
    datastore_snapshot_interval_hours = 5
  }

  expect_failures = [var.datastore_snapshot_interval_hours]
}

run "zero_inference_hosts_are_rejected" {
  command = plan

  variables {
    inference_count = 0
  }

  expect_failures = [var.inference_count]
}

run "half_an_existing_network_is_rejected" {
  command = plan

  variables {
    vpc_id = "vpc-0abc"
  }

  expect_failures = [var.subnet_id]
}

run "an_emulator_endpoint_that_is_not_a_url_is_rejected" {
  command = plan

  variables {
    testing = { aws_endpoint_url = "127.0.0.1:5000" }
  }

  expect_failures = [var.testing]
}

run "no_testing_hooks_talk_to_aws" {
  command = plan

  assert {
    condition     = var.testing.aws_endpoint_url == null
    error_message = "testing defaults to no hooks, so a production plan talks to AWS."
  }
}
