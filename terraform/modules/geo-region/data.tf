# --- PostgreSQL: every shard database homed here and every replica of the peers' shards ---------------------------------

locals {
  postgres_major = split(".", var.postgres_engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name        = "${local.name}-postgres"
  description = "Geo ${var.region_id} PostgreSQL"
  subnet_ids  = var.private_subnet_ids
  tags        = local.tags
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${local.name}-pg${local.postgres_major}-"
  family      = "postgres${local.postgres_major}"
  description = "Geo ${var.region_id}: logical replication for the replicator (and Debezium), TLS only"

  # wal_level=logical: the replicator streams each shard with pgoutput.
  parameter {
    name         = "rds.logical_replication"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "max_replication_slots"
    value        = tostring(var.postgres_max_replication_slots)
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "max_wal_senders"
    value        = tostring(var.postgres_max_replication_slots)
    apply_method = "pending-reboot"
  }

  # Connection strings say SSL Mode=Require; refuse anything else.
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier     = "${local.name}-postgres"
  engine         = "postgres"
  engine_version = var.postgres_engine_version
  instance_class = var.postgres_instance_class

  allocated_storage     = var.postgres_allocated_storage
  max_allocated_storage = var.postgres_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  # No database here: geo-migrate and the routers' admin API create one per shard.
  username                    = var.postgres_master_username
  manage_master_user_password = true

  multi_az               = var.postgres_multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.postgres.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.postgres_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.postgres_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-postgres-final"

  auto_minor_version_upgrade   = true
  allow_major_version_upgrade  = false
  apply_immediately            = false
  performance_insights_enabled = true

  tags = merge(local.tags, { Name = "${local.name}-postgres" })
}

# --- Redis: the region's cache (nothing in it is the only copy) ---------------------------------------------------------

resource "aws_elasticache_subnet_group" "this" {
  name        = "${local.name}-redis"
  description = "Geo ${var.region_id} Redis"
  subnet_ids  = var.private_subnet_ids
  tags        = local.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = "${local.name}-redis"
  description          = "Geo ${var.region_id} cache"

  engine               = "redis"
  engine_version       = var.redis_engine_version
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = "default.redis${split(".", var.redis_engine_version)[0]}"

  num_cache_clusters         = 1 + var.redis_replicas
  automatic_failover_enabled = var.redis_replicas > 0
  multi_az_enabled           = var.redis_replicas > 0

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  # The region node connects without TLS (RedisEndpoint host:port), and ElastiCache allows AUTH only with TLS:
  # access is limited to the region nodes' security group instead.
  transit_encryption_enabled = false

  snapshot_retention_limit = 0
  apply_immediately        = false

  tags = merge(local.tags, { Name = "${local.name}-redis" })
}
