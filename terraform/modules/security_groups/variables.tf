variable "name" {
  description = "Name prefix for the security groups, usually the deployment name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the security groups belong to."
  type        = string
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed to reach SSH and the monitoring UIs (Grafana, Prometheus, Alertmanager). Each must be a /16 or narrower: 0.0.0.0/0, 0.0.0.0/1 and every prefix shorter than /16 are rejected. IPv6 is not accepted (the rules are IPv4)."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0
    error_message = "admin_cidrs must list at least one network, or nobody can administer the hosts."
  }

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every admin_cidrs entry must be a valid IPv4 CIDR such as 203.0.113.0/24 (IPv6 is not accepted); got ${join(", ", [for cidr in var.admin_cidrs : cidr if !can(cidrnetmask(cidr))])}."
  }

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : !can(cidrnetmask(cidr)) || tonumber(split("/", cidr)[1]) >= 16])
    error_message = "admin_cidrs entries must be /16 or narrower (no prefix shorter than /16, so never 0.0.0.0/0 or 0.0.0.0/1): SSH and the monitoring UIs are for admin networks only; too broad: ${join(", ", [for cidr in var.admin_cidrs : cidr if can(cidrnetmask(cidr)) && try(tonumber(split("/", cidr)[1]) < 16, false)])}."
  }
}

variable "client_cidrs" {
  description = "IPv4 CIDRs allowed to reach the gateway on HTTPS (443); empty closes the gateway. Exactly 0.0.0.0/0 opens a public API; otherwise each must be a /8 or narrower (0.0.0.0/1 and other /1-/7 prefixes are rejected)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.client_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every client_cidrs entry must be a valid IPv4 CIDR (IPv6 is not accepted); got ${join(", ", [for cidr in var.client_cidrs : cidr if !can(cidrnetmask(cidr))])}."
  }

  validation {
    condition     = alltrue([for cidr in var.client_cidrs : !can(cidrnetmask(cidr)) || cidr == "0.0.0.0/0" || tonumber(split("/", cidr)[1]) >= 8])
    error_message = "client_cidrs entries must be exactly 0.0.0.0/0 (a public API) or /8 and narrower; a /1 to /7 such as 0.0.0.0/1 is rejected: ${join(", ", [for cidr in var.client_cidrs : cidr if can(cidrnetmask(cidr)) && cidr != "0.0.0.0/0" && try(tonumber(split("/", cidr)[1]) < 8, false)])}."
  }
}

variable "ssh_from_gateway" {
  description = "Also allow SSH into every host from the gateway group, so the gateway can be the ProxyJump host for hosts without a public address."
  type        = bool
  default     = false
}

variable "egress_cidrs" {
  description = "IPv4 CIDRs hosts may reach on HTTP/HTTPS (packages, container images, model weights)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.egress_cidrs : can(cidrhost(cidr, 0)) && !strcontains(cidr, ":")])
    error_message = "Every egress_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "ports" {
  description = "TCP ports of the deployment's services. The root module passes hardware_profiles/ports.yaml, the file Ansible reads its ports from, so both open and serve the same numbers; only SSH and the HTTP(S) egress ports, which belong to the hosts rather than ragfleet's services, have defaults here."
  type = object({
    service        = number
    trtllm         = number
    redis          = number
    milvus         = number
    milvus_metrics = number
    node_exporter  = number
    redis_exporter = number
    dcgm_exporter  = number
    grafana        = number
    prometheus     = number
    alertmanager   = number
    gateway_https  = number
    ssh            = optional(number, 22)
    egress_https   = optional(number, 443)
    egress_http    = optional(number, 80)
  })

  validation {
    condition = alltrue([
      for port in values(var.ports) : port >= 1 && port <= 65535 && floor(port) == port
    ])
    error_message = "Every port must be a whole number from 1 to 65535."
  }
}

variable "tags" {
  description = "Tags added to every security group and rule."
  type        = map(string)
  default     = {}
}
