output "region_id" {
  description = "Geo region id of this region."
  value       = var.region_id
}

output "aws_region" {
  description = "AWS region this region runs in."
  value       = data.aws_region.current.name
}

output "radius_addresses" {
  description = "Fixed public RADIUS addresses of this region (the NLB's Elastic IPs, one per zone): a NAS's primary addresses when this is its home region, its backup addresses otherwise."
  value       = aws_eip.radius[*].public_ip
}

output "auth_port" {
  description = "RADIUS authentication port (UDP)."
  value       = local.auth_port
}

output "acct_port" {
  description = "RADIUS accounting port (UDP)."
  value       = local.acct_port
}

output "radius_lb_dns_name" {
  description = "DNS name of the public NLB (resolves to radius_addresses)."
  value       = aws_lb.radius.dns_name
}

output "api_url" {
  description = "Tenant API of this region's nodes through the internal NLB, reachable from every region's routers over peering: the directory's regions.api_url."
  value       = "http://${aws_lb.api.dns_name}:${local.api_port}"
}

output "router_endpoint" {
  description = "This region's router listener for geo-global (null when router_count = 0): aws_region, NLB dns_name and zone_id, port, and protocol (TCP or TLS)."
  value = var.router_count > 0 ? {
    aws_region = data.aws_region.current.name
    dns_name   = aws_lb.radius.dns_name
    zone_id    = aws_lb.radius.zone_id
    port       = local.router_lb_port
    protocol   = local.router_tls ? "TLS" : "TCP"
  } : null
}

output "postgres_address" {
  description = "Host name of this region's PostgreSQL (peers' peer_postgres_hosts)."
  value       = aws_db_instance.this.address
}

output "postgres_port" {
  description = "Port of this region's PostgreSQL."
  value       = aws_db_instance.this.port
}

output "postgres_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master password in (manage_master_user_password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "redis_endpoint" {
  description = "Redis primary endpoint (host:port) the region nodes use."
  value       = "${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
}

output "security_group_ids" {
  description = "Security groups by role: radius_lb, api_lb, node, replicator, router, postgres, redis."
  value = {
    radius_lb  = aws_security_group.radius_lb.id
    api_lb     = aws_security_group.api_lb.id
    node       = aws_security_group.node.id
    replicator = aws_security_group.replicator.id
    router     = aws_security_group.router.id
    postgres   = aws_security_group.postgres.id
    redis      = aws_security_group.redis.id
  }
}

output "instance_role_arns" {
  description = "IAM roles of the instances by kind (node, replicator, router)."
  value       = { for kind, role in aws_iam_role.instance : kind => role.arn }
}

output "autoscaling_group_names" {
  description = "Auto scaling groups by kind (router is null when router_count = 0)."
  value = {
    node       = aws_autoscaling_group.node.name
    replicator = aws_autoscaling_group.replicator.name
    router     = one(aws_autoscaling_group.router[*].name)
  }
}

output "rendered_config" {
  description = "The rendered /etc/geo files (no secrets in them: passwords are in the pgpass files), for review in plans."
  value = {
    "geo-region.json"     = local.node_config
    "geo-replicator.json" = local.replicator_config
    "geo-router.json"     = local.router_config
  }
}
