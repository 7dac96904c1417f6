# EC2 hosts of one role. Root and data volumes are encrypted EBS; local NVMe instance store is left
# untouched for Ansible's RAID role (it is scratch: lost on stop, so nothing persistent goes there).

resource "aws_instance" "this" {
  #checkov:skip=CKV_AWS_88:A public address is opt-in (associate_public_ip_address) so Ansible can reach hosts without a bastion; security groups limit SSH to admin CIDRs.
  #checkov:skip=CKV2_AWS_41:The hosts call no AWS API; with no instance profile there are no credentials to steal through IMDS (least privilege).
  count = var.instance_count

  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.vpc_security_group_ids
  key_name               = var.key_name
  # null (not false) when no public address is wanted: the subnet's default applies, and instances
  # launch with plain SecurityGroupIds rather than an inline network interface.
  associate_public_ip_address = var.associate_public_ip_address ? true : null
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

resource "aws_ebs_volume" "data" {
  count = var.data_volume_size_gib > 0 ? var.instance_count : 0

  availability_zone = aws_instance.this[count.index].availability_zone
  type              = "gp3"
  size              = var.data_volume_size_gib
  encrypted         = true
  kms_key_id        = var.kms_key_id

  tags = merge(var.tags, { Name = "${var.name}-${count.index + 1}-data", Role = var.role })
}

resource "aws_volume_attachment" "data" {
  count = length(aws_ebs_volume.data)

  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[count.index].id
  instance_id = aws_instance.this[count.index].id
}
