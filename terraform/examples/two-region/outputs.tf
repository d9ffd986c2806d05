output "nas_config" {
  description = "Per region id: the RADIUS addresses a NAS homed there is configured with (primary: its region's Elastic IPs; backup: the other region's) and the ports. Feeds `geoctl nas-config` (see README)."
  value = {
    (var.region_a.id) = {
      primary_radius_addresses = module.region_a.radius_addresses
      backup_radius_addresses  = module.region_b.radius_addresses
      auth_port                = module.region_a.auth_port
      acct_port                = module.region_a.acct_port
    }
    (var.region_b.id) = {
      primary_radius_addresses = module.region_b.radius_addresses
      backup_radius_addresses  = module.region_a.radius_addresses
      auth_port                = module.region_b.auth_port
      acct_port                = module.region_b.acct_port
    }
  }
}

output "router_url" {
  description = "Base URL of the tenant and admin API: the routers' health-checked DNS name."
  value       = module.global.router_url
}

output "directory_endpoint" {
  description = "The directory PostgreSQL (host:port, database geo_directory) in the witness site."
  value       = module.global.directory_endpoint
}

output "directory_master_secret_arn" {
  description = "Secret with the directory's RDS master password (first geo-migrate run, creating the service roles)."
  value       = module.global.directory_master_secret_arn
}

output "region_api_urls" {
  description = "Per region id: the tenant API of its nodes (internal NLB, reachable over peering): the directory's regions.api_url."
  value = {
    (var.region_a.id) = module.region_a.api_url
    (var.region_b.id) = module.region_b.api_url
  }
}

output "postgres_endpoints" {
  description = "Per region id: its PostgreSQL host and the secret RDS keeps its master password in."
  value = {
    (var.region_a.id) = { address = module.region_a.postgres_address, master_secret_arn = module.region_a.postgres_master_secret_arn }
    (var.region_b.id) = { address = module.region_b.postgres_address, master_secret_arn = module.region_b.postgres_master_secret_arn }
  }
}

output "nat_public_ips" {
  description = "Per region id: the NAT gateways' addresses (what the internet, and a NAS network's firewall, sees from the instances)."
  value = {
    (var.region_a.id) = module.network_a.nat_public_ips
    (var.region_b.id) = module.network_b.nat_public_ips
  }
}

output "debezium_bootstrap_servers" {
  description = "Per region id: the MSK bootstrap servers (TLS) of its Debezium topics; empty with cdc = \"pgoutput\"."
  value = {
    (var.region_a.id) = one(module.debezium_a[*].bootstrap_servers)
    (var.region_b.id) = one(module.debezium_b[*].bootstrap_servers)
  }
}
