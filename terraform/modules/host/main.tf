# EC2 hosts of one role. Root and data volumes are encrypted EBS; local NVMe instance store is left
# untouched for Ansible's RAID role (it is scratch: lost on stop, so nothing persistent goes there).

resource "aws_instance" "this" {
  #checkov:skip=CKV_AWS_88:A public address is opt-in per role (the root gives one to the gateway only); security groups limit SSH to admin CIDRs.
  #checkov:skip=CKV2_AWS_41:The hosts call no AWS API; with no instance profile there are no credentials to steal through IMDS (least privilege).
  count = var.instance_count

  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = var.vpc_security_group_ids
  key_name                    = var.key_name
  associate_public_ip_address = var.associate_public_ip_address
  ebs_optimized               = true
  monitoring                  = var.detailed_monitoring

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gib
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
    tags                  = merge(var.tags, { Name = "${var.name}-${count.index + 1}-root", Role = var.role })
  }

  tags = merge(var.tags, { Name = "${var.name}-${count.index + 1}", Role = var.role })

  lifecycle {
    ignore_changes = [ami]
  }
}

# The data volume is one of two resources, chosen by data_volume_prevent_destroy, because
# lifecycle.prevent_destroy must be a literal: `data_protected` or `data_unprotected` (volumes that
# were `data` before are moved by the root module). Switching existing hosts between them needs
# `terraform state mv` first, or Terraform plans to replace the volume: leaving data_protected,
# prevent_destroy stops that plan; entering it, nothing can (docs/terraform.md).
locals {
  data_volume_count = var.data_volume_size_gib > 0 ? var.instance_count : 0
  data_volume_tags  = merge(var.tags, var.data_volume_tags, { Role = var.role })
}

resource "aws_ebs_volume" "data_protected" {
  count = var.data_volume_prevent_destroy ? local.data_volume_count : 0

  availability_zone = aws_instance.this[count.index].availability_zone
  type              = "gp3"
  size              = var.data_volume_size_gib
  encrypted         = true
  kms_key_id        = var.kms_key_id

  tags = merge(local.data_volume_tags, { Name = "${var.name}-${count.index + 1}-data" })

  lifecycle {
    prevent_destroy = true
    # The zone comes from the single subnet, so a replaced instance lands in the same one; without
    # this, its unknown zone would replace the volume too.
    ignore_changes = [availability_zone]
  }
}

resource "aws_ebs_volume" "data_unprotected" {
  count = var.data_volume_prevent_destroy ? 0 : local.data_volume_count

  availability_zone = aws_instance.this[count.index].availability_zone
  type              = "gp3"
  size              = var.data_volume_size_gib
  encrypted         = true
  kms_key_id        = var.kms_key_id

  tags = merge(local.data_volume_tags, { Name = "${var.name}-${count.index + 1}-data" })

  lifecycle {
    ignore_changes = [availability_zone]
  }
}

locals {
  data_volumes = concat(aws_ebs_volume.data_protected, aws_ebs_volume.data_unprotected)
}

resource "aws_volume_attachment" "data" {
  count = local.data_volume_count

  device_name = "/dev/sdf"
  volume_id   = local.data_volumes[count.index].id
  instance_id = aws_instance.this[count.index].id
}
