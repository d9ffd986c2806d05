variable "name" {
  description = "Name of the peering connection (Name tag), e.g. \"geo-a-b\"."
  type        = string
}

variable "requester_vpc_id" {
  description = "VPC that requests the peering (in the aws.requester provider's region)."
  type        = string
}

variable "requester_cidr_block" {
  description = "IPv4 CIDR of the requester VPC (routed from the accepter)."
  type        = string
}

variable "requester_route_table_ids" {
  description = "Route tables of the requester VPC that get a route to the accepter VPC."
  type        = list(string)
}

variable "accepter_vpc_id" {
  description = "VPC that accepts the peering (in the aws.accepter provider's region)."
  type        = string
}

variable "accepter_cidr_block" {
  description = "IPv4 CIDR of the accepter VPC (routed from the requester)."
  type        = string
}

variable "accepter_route_table_ids" {
  description = "Route tables of the accepter VPC that get a route to the requester VPC."
  type        = list(string)
}

variable "accepter_region" {
  description = "AWS region of the accepter VPC (inter-region peering)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
