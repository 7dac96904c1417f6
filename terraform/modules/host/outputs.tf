output "hosts" {
  description = "One object per host: name, id, instance_type, private_ip, public_ip, public (whether it was asked to have a public address), ansible_host (then the public address, else the private one), associate_public_ip_address as EC2 reports it, and data_volume_id (the attached EBS data volume, null without one)."
  value = [
    for index, instance in aws_instance.this : {
      name          = instance.tags["Name"]
      id            = instance.id
      instance_type = instance.instance_type
      private_ip    = instance.private_ip
      public_ip     = instance.public_ip
      public        = var.associate_public_ip_address == true
      ansible_host  = var.associate_public_ip_address == true ? coalesce(instance.public_ip, instance.private_ip, instance.tags["Name"]) : coalesce(instance.private_ip, instance.tags["Name"])
      # As EC2 reports it: false for a private host on AWS (moto reports true for every host).
      associate_public_ip_address = instance.associate_public_ip_address
      # Ansible finds the volume by this ID under /dev/disk/by-id (the NVMe serial on Nitro).
      data_volume_id = try(local.data_volumes[index].id, null)
    }
  ]
}

output "storage" {
  description = "Storage of each host, by name: root and data volume size and encryption, data volume ID, whether it has prevent_destroy, its tags, IMDS token setting."
  value = {
    for index, instance in aws_instance.this : instance.tags["Name"] => {
      root_volume_size_gib = instance.root_block_device[0].volume_size
      root_encrypted       = instance.root_block_device[0].encrypted
      data_volume_size_gib = try(local.data_volumes[index].size, 0)
      data_encrypted       = try(local.data_volumes[index].encrypted, null)
      data_volume_id       = try(local.data_volumes[index].id, null)
      data_protected       = length(aws_ebs_volume.data_protected) > index
      data_tags            = try(local.data_volumes[index].tags, {})
      http_tokens          = instance.metadata_options[0].http_tokens
    }
  }
}
