data "aws_region" "current" {}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_ami" "debian" {
  count = var.ami_id == null ? 1 : 0

  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

locals {
  name     = "${var.name_prefix}-${var.region_id}"
  ami_id   = var.ami_id != null ? var.ami_id : data.aws_ami.debian[0].id
  vpc_cidr = data.aws_vpc.this.cidr_block

  tags = merge(var.tags, {
    "geo:region" = var.region_id
    ManagedBy    = "terraform"
  })

  auth_port      = 1812
  acct_port      = 1813
  api_port       = 8081
  router_port    = 8080
  router_tls     = var.router_certificate_arn != null
  router_lb_port = local.router_tls ? 443 : local.router_port
  postgres_port  = 5432

  # A PostgreSQL server without a database (the services pick one); the password is in the pgpass file.
  server_connection_format = "Host=%s;Port=${local.postgres_port};Username=%s;Passfile=${var.secrets_dir}/pgpass;SSL Mode=Require"

  postgres_hosts = merge(var.peer_postgres_hosts, { (var.region_id) = aws_db_instance.this.address })

  # Every region's server as the administrator role: the routers' admin API creates and drops shard databases in them.
  admin_servers = {
    for id, host in local.postgres_hosts : id => format(local.server_connection_format, host, var.admin_db_username)
  }

  # Every region's server as the replicator's role: it streams from and into them (no schema, no databases).
  replicator_servers = {
    for id, host in local.postgres_hosts : id => format(local.server_connection_format, host, var.replicator_db_username)
  }

  # cdc = "debezium": the shards this region stands by for, read from Debezium's topics (topic prefix = database name,
  # as `geoctl debezium-config` sets it).
  kafka_shards = [
    for s in var.kafka_shards : {
      Name                    = "${s.tenant}@${s.home_region}"
      Source                  = "Kafka"
      SourceConnectionString  = "${format(local.server_connection_format, lookup(local.postgres_hosts, s.home_region, ""), var.replicator_db_username)};Database=geo_${s.tenant}_${s.home_region}"
      ReplicaConnectionString = "${local.replicator_servers[var.region_id]};Database=geo_${s.tenant}_${s.home_region}"
      ApplyTenantMigrations   = true
      Kafka = {
        BootstrapServers = s.bootstrap_servers
        TopicPrefix      = "geo_${s.tenant}_${s.home_region}"
        GroupId          = "geo-replicator-${var.region_id}-${s.tenant}-${s.home_region}"
        ClientSettings = {
          "security.protocol" = "SSL"
          "ssl.ca.location"   = "/etc/ssl/certs/ca-certificates.crt"
        }
      }
    }
  ]

  # --- Rendered /etc/geo configuration -------------------------------------------------------------------------------

  node_config = templatefile("${path.module}/templates/geo-region.json.tftpl", {
    region_id          = var.region_id
    directory_host     = var.directory_host
    directory_port     = var.directory_port
    directory_database = var.directory_database
    db_username        = var.node_db_username
    postgres_host      = aws_db_instance.this.address
    postgres_port      = local.postgres_port
    redis_endpoint     = "${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
    secrets_dir        = var.secrets_dir
    # Without a Redis password secret the node connects without AUTH (no file to read).
    redis_password_file = var.redis_password_secret_arn == null ? "" : "${var.secrets_dir}/redis-password"
    # Forwards and heartbeats from the peer region's nodes leave from each node's own address.
    peer_source_networks_json = jsonencode(concat(var.peer_cidrs, var.peer_radius_source_cidrs))
  })

  replicator_config = var.cdc == "pgoutput" ? templatefile("${path.module}/templates/geo-replicator.json.tftpl", {
    region_id          = var.region_id
    directory_host     = var.directory_host
    directory_port     = var.directory_port
    directory_database = var.directory_database
    db_username        = var.replicator_db_username
    servers_json       = jsonencode(local.replicator_servers)
    secrets_dir        = var.secrets_dir
    }) : templatefile("${path.module}/templates/geo-replicator-kafka.json.tftpl", {
    region_id   = var.region_id
    shards_json = jsonencode(local.kafka_shards)
  })

  router_config = templatefile("${path.module}/templates/geo-router.json.tftpl", {
    directory_host      = var.directory_host
    directory_port      = var.directory_port
    directory_database  = var.directory_database
    db_username         = var.router_db_username
    operator_key_sha256 = var.operator_key_sha256
    servers_json        = jsonencode(local.admin_servers)
    secrets_dir         = var.secrets_dir
  })

  # --- Secrets each kind of instance gets (file name under secrets_dir => ARN; "" writes an empty file) ---------------

  node_secrets = merge({
    "pgpass"              = var.node_pgpass_secret_arn
    "keyring"             = var.keyring_secret_arn
    "inter-region-secret" = var.inter_region_secret_arn
  }, var.redis_password_secret_arn == null ? {} : { "redis-password" = var.redis_password_secret_arn })
  replicator_secrets = {
    "pgpass" = var.replicator_pgpass_secret_arn
  }
  router_secrets = {
    "pgpass" = var.router_pgpass_secret_arn
  }

  # --- cloud-init per kind of instance ----------------------------------------------------------------------------------

  cloud_init_common = {
    region_id             = var.region_id
    package_bucket        = var.package_bucket
    package_bucket_region = coalesce(var.package_bucket_region, data.aws_region.current.name)
    package_prefix        = var.package_prefix
    geo_version           = var.geo_version
    secrets_dir           = var.secrets_dir
    enable_ssm            = var.enable_ssm
    aws_region            = data.aws_region.current.name
  }

  node_user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", merge(local.cloud_init_common, {
    service    = "geo-region"
    packages   = ["geo-region"]
    config_b64 = base64encode(local.node_config)
    secrets    = local.node_secrets
  }))

  replicator_user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", merge(local.cloud_init_common, {
    service    = "geo-replicator"
    packages   = ["geo-replicator"]
    config_b64 = base64encode(local.replicator_config)
    secrets    = local.replicator_secrets
  }))

  # Routers also carry the operator tools (geoctl, geo-migrate): run them there through Session Manager.
  router_user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", merge(local.cloud_init_common, {
    service    = "geo-router"
    packages   = ["geo-router", "geoctl", "geo-migrate"]
    config_b64 = base64encode(local.router_config)
    secrets    = local.router_secrets
  }))
}
