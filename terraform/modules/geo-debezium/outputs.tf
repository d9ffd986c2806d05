output "bootstrap_servers" {
  description = "TLS bootstrap servers of the MSK cluster (the standby replicators' Kafka:BootstrapServers)."
  value       = aws_msk_cluster.this.bootstrap_brokers_tls
}

output "connector_security_group_id" {
  description = "Security group of the connectors: allow it to this region's PostgreSQL (geo-region's postgres_client_security_group_ids)."
  value       = aws_security_group.connect.id
}

output "topic_prefixes" {
  description = "Debezium topic prefix (the shard database name) by tenant."
  value       = { for tenant in var.tenants : tenant => "geo_${tenant}_${var.region_id}" }
}

output "connector_arns" {
  description = "MSK Connect connector ARN by tenant."
  value       = { for tenant, c in aws_mskconnect_connector.shard : tenant => c.arn }
}
