variable "name" {
  description = "Name of the network, used in resource names and Name tags (e.g. \"geo-a\")."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC. Must not overlap any VPC it is peered with."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (one public and one private subnet per zone)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "public_subnets" {
  description = "Create public subnets, an internet gateway and NAT gateways. false for a private-only VPC (the witness site)."
  type        = bool
  default     = true
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per zone (zone-independent egress) instead of a single shared one. Only with public_subnets."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
