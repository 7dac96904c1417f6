output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "subnet_id" {
  description = "ID of the subnet the hosts are placed in."
  value       = aws_subnet.this.id
}

output "availability_zone" {
  description = "Availability zone of the subnet."
  value       = aws_subnet.this.availability_zone
}
