# MUST FAIL (run by tests/terraform/test_terraform.py, not by a plain `terraform test`):
# turning datastore_volume_deletion_protection off on an existing deployment would replace the
# volume, and prevent_destroy stops the plan.

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

run "protected_datastore_is_created" {
  command = apply

  assert {
    condition     = output.storage["rf-test-datastore-1"].data_protected
    error_message = "The datastore volume must be protected by default."
  }
}

run "turning_protection_off_is_refused" {
  command = plan

  variables {
    datastore_volume_deletion_protection = false
  }
}
