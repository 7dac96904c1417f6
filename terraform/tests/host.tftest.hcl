# The host module on its own: hosts are private unless asked, and the data volume lands in the
# protected or the unprotected resource as asked. Plans only: a prevent_destroy resource cannot be
# cleaned up by Terraform 1.11's test runner (tests/terraform/test_terraform.py checks that the
# protection actually stops a destroy).

mock_provider "aws" {}

variables {
  name                   = "rf-test-datastore"
  role                   = "datastore"
  instance_type          = "m7i.xlarge"
  ami_id                 = "ami-0123456789abcdef0"
  subnet_id              = "subnet-0abc"
  vpc_security_group_ids = ["sg-0abc"]
  key_name               = "rf-test-admin"
  data_volume_size_gib   = 100
}

run "hosts_explicitly_refuse_a_public_ip_by_default" {
  command = plan

  module {
    source = "./modules/host"
  }

  assert {
    condition     = aws_instance.this[0].associate_public_ip_address == false
    error_message = "associate_public_ip_address must be an explicit false, so a subnet that maps public IPs does not give one."
  }
}

run "a_public_host_asks_for_a_public_ip" {
  command = plan

  module {
    source = "./modules/host"
  }

  variables {
    associate_public_ip_address = true
  }

  assert {
    condition     = aws_instance.this[0].associate_public_ip_address == true
    error_message = "associate_public_ip_address = true must reach the instance."
  }
}

run "data_volume_is_unprotected_unless_asked" {
  command = plan

  module {
    source = "./modules/host"
  }

  assert {
    condition     = length(aws_ebs_volume.data_protected) == 0 && length(aws_ebs_volume.data_unprotected) == 1
    error_message = "Without data_volume_prevent_destroy the volume is the unprotected resource."
  }
}

run "protected_data_volume_is_tagged_and_attached" {
  command = plan

  module {
    source = "./modules/host"
  }

  variables {
    instance_count              = 2
    data_volume_prevent_destroy = true
    data_volume_tags            = { SnapshotPolicy = "rf-test-datastore" }
  }

  assert {
    condition     = length(aws_ebs_volume.data_protected) == 2 && length(aws_ebs_volume.data_unprotected) == 0
    error_message = "With data_volume_prevent_destroy every data volume is the protected resource."
  }

  assert {
    condition     = alltrue([for volume in aws_ebs_volume.data_protected : volume.tags["SnapshotPolicy"] == "rf-test-datastore" && volume.encrypted])
    error_message = "Protected volumes carry data_volume_tags and stay encrypted."
  }

  assert {
    condition     = length(aws_volume_attachment.data) == 2
    error_message = "Each protected volume is attached to its host."
  }
}
