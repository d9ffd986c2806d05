# cdc = "debezium": per region, an MSK cluster and one Debezium connector (MSK Connect) per tenant homed there. The
# other region's replicator consumes the topics over VPC peering. Nothing here exists with cdc = "pgoutput".

locals {
  # Brokers: a multiple of the zones, at least three (replication factor 3).
  msk_broker_count = var.az_count == 2 ? 4 : 3
}

check "debezium_settings" {
  assert {
    condition     = !local.debezium || var.debezium != null
    error_message = "cdc = \"debezium\" needs the debezium variable (plugin location and connector secrets)."
  }
}

module "debezium_a" {
  source    = "../../modules/geo-debezium"
  count     = local.debezium ? 1 : 0
  providers = { aws = aws.a }

  name_prefix          = var.name_prefix
  region_id            = var.region_a.id
  tenants              = local.tenants_homed.a
  vpc_id               = module.network_a.vpc_id
  subnet_ids           = module.network_a.private_subnet_ids
  client_cidrs         = local.private_cidrs_b
  broker_count         = local.msk_broker_count
  broker_instance_type = try(var.debezium.broker_instance_type, null)
  broker_volume_size   = try(var.debezium.broker_volume_size, null)
  plugin_bucket        = try(var.debezium.plugin_bucket_a, null)
  plugin_key           = try(var.debezium.plugin_key, null)
  postgres_host        = module.region_a.postgres_address
  db_secret_arn        = try(var.debezium.db_secret_arn_a, null)
  table_include_list   = try(var.debezium.table_include_list, null)
  tags                 = var.tags
}

module "debezium_b" {
  source    = "../../modules/geo-debezium"
  count     = local.debezium ? 1 : 0
  providers = { aws = aws.b }

  name_prefix          = var.name_prefix
  region_id            = var.region_b.id
  tenants              = local.tenants_homed.b
  vpc_id               = module.network_b.vpc_id
  subnet_ids           = module.network_b.private_subnet_ids
  client_cidrs         = local.private_cidrs_a
  broker_count         = local.msk_broker_count
  broker_instance_type = try(var.debezium.broker_instance_type, null)
  broker_volume_size   = try(var.debezium.broker_volume_size, null)
  plugin_bucket        = try(var.debezium.plugin_bucket_b, null)
  plugin_key           = try(var.debezium.plugin_key, null)
  postgres_host        = module.region_b.postgres_address
  db_secret_arn        = try(var.debezium.db_secret_arn_b, null)
  table_include_list   = try(var.debezium.table_include_list, null)
  tags                 = var.tags
}
