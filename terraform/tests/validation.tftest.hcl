# Inputs and sizes that must be refused before anything is created.

mock_provider "aws" {
  mock_data "aws_ami" {
    defaults = {
      id = "ami-0123456789abcdef0"
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
    admin_cidrs = ["10.0.0.0/8", "0.0.0.0/0"]
  }

  expect_failures = [var.admin_cidrs]
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
