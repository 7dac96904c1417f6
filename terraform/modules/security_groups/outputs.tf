output "security_group_ids" {
  description = "Security group IDs by name: common, inference, datastore, monitoring, gateway."
  value       = { for key, group in aws_security_group.this : key => group.id }
}

output "role_security_group_ids" {
  description = "The security groups each host role gets: common plus the role's own group."
  value = {
    for role in ["inference", "datastore", "monitoring", "gateway"] :
    role => [aws_security_group.this["common"].id, aws_security_group.this[role].id]
  }
}

output "ingress_rules" {
  description = "Every ingress rule as {group, port, sources}; a source is a CIDR or 'sg:<group>'. For reviews and tests."
  value = merge(
    { for key, rule in local.member_rules : key => { group = rule.group, port = rule.port, sources = ["sg:${rule.from}"] } },
    { for key, rule in local.cidr_rules : key => { group = rule.group, port = rule.port, sources = rule.cidrs } },
  )
}
