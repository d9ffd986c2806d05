locals {
  tags = merge(var.tags, { Application = "geo" })

  debezium = var.cdc == "debezium"

  region_ids = [var.region_a.id, var.region_b.id]

  tenants_homed = {
    a = sort([for id, t in var.tenants : id if t.home_region == var.region_a.id])
    b = sort([for id, t in var.tenants : id if t.home_region == var.region_b.id])
  }

  # The peer regions as the region module sees them: private CIDRs (known at plan: they come from configuration).
  private_cidrs_a = module.network_a.private_subnet_cidrs
  private_cidrs_b = module.network_b.private_subnet_cidrs

  # Inputs both regions share.
  region_common = {
    nas_cidrs                = var.nas_cidrs
    management_cidrs         = var.management_cidrs
    router_client_cidrs      = var.router_client_cidrs
    node_count               = var.node_count
    node_instance_type       = var.node_instance_type
    router_count             = var.router_count
    router_instance_type     = var.router_instance_type
    replicator_instance_type = var.replicator_instance_type
    postgres_engine_version  = var.postgres_engine_version
    postgres_instance_class  = var.postgres_instance_class
    postgres_storage         = var.postgres_allocated_storage
    redis_node_type          = var.redis_node_type
  }
}

check "tenant_home_regions" {
  assert {
    condition     = alltrue([for t in values(var.tenants) : contains(local.region_ids, t.home_region)])
    error_message = "Every tenant's home_region must be region_a.id or region_b.id."
  }
}

# --- The directory (witness site) and the routers' DNS name ---------------------------------------------------------------

module "global" {
  source    = "../../modules/geo-global"
  providers = { aws = aws.witness }

  name_prefix = var.name_prefix
  tags        = var.tags

  vpc_id                   = module.network_witness.vpc_id
  subnet_ids               = module.network_witness.private_subnet_ids
  client_cidrs             = concat(local.private_cidrs_a, local.private_cidrs_b)
  directory_engine_version = var.postgres_engine_version
  directory_instance_class = var.directory_instance_class

  route53_zone_id = var.route53_zone_id
  router_dns_name = var.router_dns_name
  # A region with router_count = 0 has no router endpoint and gets no record.
  routers = {
    for id, endpoint in {
      (var.region_a.id) = module.region_a.router_endpoint
      (var.region_b.id) = module.region_b.router_endpoint
    } : id => endpoint if endpoint != null
  }
}

# --- Region a ------------------------------------------------------------------------------------------------------------

module "region_a" {
  source    = "../../modules/geo-region"
  providers = { aws = aws.a }

  name_prefix        = var.name_prefix
  region_id          = var.region_a.id
  vpc_id             = module.network_a.vpc_id
  public_subnet_ids  = module.network_a.public_subnet_ids
  private_subnet_ids = module.network_a.private_subnet_ids
  tags               = var.tags

  nas_cidrs           = local.region_common.nas_cidrs
  peer_cidrs          = local.private_cidrs_b
  management_cidrs    = local.region_common.management_cidrs
  router_client_cidrs = local.region_common.router_client_cidrs

  node_count               = local.region_common.node_count
  node_instance_type       = local.region_common.node_instance_type
  router_count             = local.region_common.router_count
  router_instance_type     = local.region_common.router_instance_type
  replicator_instance_type = local.region_common.replicator_instance_type
  router_certificate_arn   = var.router_certificate_arns.a

  package_bucket        = var.package_bucket
  package_bucket_region = var.package_bucket_region
  package_prefix        = var.package_prefix
  geo_version           = var.geo_version

  postgres_engine_version            = local.region_common.postgres_engine_version
  postgres_instance_class            = local.region_common.postgres_instance_class
  postgres_allocated_storage         = local.region_common.postgres_storage
  postgres_client_security_group_ids = local.debezium ? [module.debezium_a[0].connector_security_group_id] : []
  peer_postgres_hosts                = { (var.region_b.id) = module.region_b.postgres_address }
  redis_node_type                    = local.region_common.redis_node_type

  directory_host     = module.global.directory_address
  directory_port     = module.global.directory_port
  directory_database = module.global.directory_database

  node_pgpass_secret_arn       = var.region_a_secrets.node_pgpass
  replicator_pgpass_secret_arn = var.region_a_secrets.replicator_pgpass
  router_pgpass_secret_arn     = var.region_a_secrets.router_pgpass
  keyring_secret_arn           = var.region_a_secrets.keyring
  inter_region_secret_arn      = var.region_a_secrets.inter_region_secret
  redis_password_secret_arn    = var.region_a_secrets.redis_password
  secrets_kms_key_arns         = var.secrets_kms_key_arns

  operator_key_sha256 = var.operator_key_sha256
  cdc                 = var.cdc
  kafka_shards = [
    for tenant in local.tenants_homed.b : {
      tenant            = tenant
      home_region       = var.region_b.id
      bootstrap_servers = module.debezium_b[0].bootstrap_servers
    } if local.debezium
  ]
}

# --- Region b ------------------------------------------------------------------------------------------------------------

module "region_b" {
  source    = "../../modules/geo-region"
  providers = { aws = aws.b }

  name_prefix        = var.name_prefix
  region_id          = var.region_b.id
  vpc_id             = module.network_b.vpc_id
  public_subnet_ids  = module.network_b.public_subnet_ids
  private_subnet_ids = module.network_b.private_subnet_ids
  tags               = var.tags

  nas_cidrs           = local.region_common.nas_cidrs
  peer_cidrs          = local.private_cidrs_a
  management_cidrs    = local.region_common.management_cidrs
  router_client_cidrs = local.region_common.router_client_cidrs

  node_count               = local.region_common.node_count
  node_instance_type       = local.region_common.node_instance_type
  router_count             = local.region_common.router_count
  router_instance_type     = local.region_common.router_instance_type
  replicator_instance_type = local.region_common.replicator_instance_type
  router_certificate_arn   = var.router_certificate_arns.b

  package_bucket        = var.package_bucket
  package_bucket_region = var.package_bucket_region
  package_prefix        = var.package_prefix
  geo_version           = var.geo_version

  postgres_engine_version            = local.region_common.postgres_engine_version
  postgres_instance_class            = local.region_common.postgres_instance_class
  postgres_allocated_storage         = local.region_common.postgres_storage
  postgres_client_security_group_ids = local.debezium ? [module.debezium_b[0].connector_security_group_id] : []
  peer_postgres_hosts                = { (var.region_a.id) = module.region_a.postgres_address }
  redis_node_type                    = local.region_common.redis_node_type

  directory_host     = module.global.directory_address
  directory_port     = module.global.directory_port
  directory_database = module.global.directory_database

  node_pgpass_secret_arn       = var.region_b_secrets.node_pgpass
  replicator_pgpass_secret_arn = var.region_b_secrets.replicator_pgpass
  router_pgpass_secret_arn     = var.region_b_secrets.router_pgpass
  keyring_secret_arn           = var.region_b_secrets.keyring
  inter_region_secret_arn      = var.region_b_secrets.inter_region_secret
  redis_password_secret_arn    = var.region_b_secrets.redis_password
  secrets_kms_key_arns         = var.secrets_kms_key_arns

  operator_key_sha256 = var.operator_key_sha256
  cdc                 = var.cdc
  kafka_shards = [
    for tenant in local.tenants_homed.a : {
      tenant            = tenant
      home_region       = var.region_a.id
      bootstrap_servers = module.debezium_a[0].bootstrap_servers
    } if local.debezium
  ]
}
