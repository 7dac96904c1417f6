output "hosts" {
  description = "One object per host: name, id, instance_type, private_ip, public_ip, and ansible_host (public address when there is one)."
  value = [
    for index, instance in aws_instance.this : {
      name          = instance.tags["Name"]
      id            = instance.id
      instance_type = instance.instance_type
      private_ip    = instance.private_ip
      public_ip     = instance.public_ip
      ansible_host  = coalesce(instance.public_ip, instance.private_ip, instance.tags["Name"])
    }
  ]
}

output "storage" {
  description = "Storage of each host, by name: root and data volume size and encryption, IMDS token setting."
  value = {
    for index, instance in aws_instance.this : instance.tags["Name"] => {
      root_volume_size_gib = instance.root_block_device[0].volume_size
      root_encrypted       = instance.root_block_device[0].encrypted
      data_volume_size_gib = try(aws_ebs_volume.data[index].size, 0)
      data_encrypted       = try(aws_ebs_volume.data[index].encrypted, null)
      http_tokens          = instance.metadata_options[0].http_tokens
    }
  }
}
