output "directory_address" {
  description = "Host name of the directory PostgreSQL (every region's directory_host)."
  value       = aws_db_instance.directory.address
}

output "directory_port" {
  description = "Port of the directory PostgreSQL."
  value       = aws_db_instance.directory.port
}

output "directory_database" {
  description = "Name of the directory database."
  value       = aws_db_instance.directory.db_name
}

output "directory_endpoint" {
  description = "The directory as host:port."
  value       = "${aws_db_instance.directory.address}:${aws_db_instance.directory.port}"
}

output "directory_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the directory's master password in (for geo-migrate's first run)."
  value       = aws_db_instance.directory.master_user_secret[0].secret_arn
}

output "directory_security_group_id" {
  description = "Security group of the directory."
  value       = aws_security_group.directory.id
}

output "router_fqdn" {
  description = "The routers' DNS name."
  value       = var.router_dns_name
}

output "router_url" {
  description = "Base URL of the tenant and admin API through the routers (scheme and port from the router listeners)."
  value       = local.router_url
}

output "router_health_check_ids" {
  description = "Route 53 health check per region id."
  value       = { for id, check in aws_route53_health_check.router : id => check.id }
}
