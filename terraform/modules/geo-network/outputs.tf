output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones used, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "IDs of the public subnets, one per zone (empty without public_subnets)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per zone."
  value       = aws_subnet.private[*].id
}

output "private_subnet_cidrs" {
  description = "CIDRs of the private subnets, one per zone."
  value       = aws_subnet.private[*].cidr_block
}

output "private_route_table_ids" {
  description = "IDs of the private route tables, one per zone (peering routes go here)."
  value       = aws_route_table.private[*].id
}

output "nat_public_ips" {
  description = "Public addresses of the NAT gateways: the source address of traffic the private subnets send to the internet."
  value       = aws_eip.nat[*].public_ip
}
