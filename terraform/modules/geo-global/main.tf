locals {
  tags = merge(var.tags, { ManagedBy = "terraform", "geo:component" = "global" })

  directory_major = split(".", var.directory_engine_version)[0]

  router_listener = one(distinct([for r in values(var.routers) : { protocol = r.protocol, port = r.port }]))
  router_url = (
    local.router_listener.protocol == "TLS"
    ? (local.router_listener.port == 443 ? "https://${var.router_dns_name}" : "https://${var.router_dns_name}:${local.router_listener.port}")
    : "http://${var.router_dns_name}:${local.router_listener.port}"
  )
}

# --- The directory: PostgreSQL Multi-AZ in the witness site -------------------------------------------------------------

resource "aws_security_group" "directory" {
  name        = "${var.name_prefix}-directory"
  description = "Geo directory: PostgreSQL from the nodes, replicators and routers of every region"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name_prefix}-directory" })
}

resource "aws_vpc_security_group_ingress_rule" "directory" {
  for_each = toset(var.client_cidrs)

  security_group_id = aws_security_group.directory.id
  description       = "PostgreSQL from Geo regions"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_db_subnet_group" "directory" {
  name        = "${var.name_prefix}-directory"
  description = "Geo directory"
  subnet_ids  = var.subnet_ids
  tags        = local.tags
}

resource "aws_db_parameter_group" "directory" {
  name_prefix = "${var.name_prefix}-directory-pg${local.directory_major}-"
  family      = "postgres${local.directory_major}"
  description = "Geo directory: TLS only"

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

resource "aws_db_instance" "directory" {
  identifier     = "${var.name_prefix}-directory"
  engine         = "postgres"
  engine_version = var.directory_engine_version
  instance_class = var.directory_instance_class

  allocated_storage     = var.directory_allocated_storage
  max_allocated_storage = var.directory_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name                     = var.directory_database
  username                    = var.directory_master_username
  manage_master_user_password = true

  multi_az               = var.directory_multi_az
  db_subnet_group_name   = aws_db_subnet_group.directory.name
  vpc_security_group_ids = [aws_security_group.directory.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.directory.name

  backup_retention_period   = var.directory_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.directory_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name_prefix}-directory-final"

  auto_minor_version_upgrade   = true
  allow_major_version_upgrade  = false
  apply_immediately            = false
  performance_insights_enabled = true

  tags = merge(local.tags, { Name = "${var.name_prefix}-directory" })
}

# --- The routers: one health-checked latency record per region ----------------------------------------------------------

resource "aws_route53_health_check" "router" {
  for_each = var.routers

  type              = each.value.protocol == "TLS" ? "HTTPS" : "HTTP"
  fqdn              = each.value.dns_name
  port              = each.value.port
  resource_path     = "/health/ready"
  request_interval  = var.health_check_interval
  failure_threshold = var.health_check_failure_threshold

  tags = merge(local.tags, { Name = "${var.name_prefix}-router-${each.key}", "geo:region" = each.key })
}

resource "aws_route53_record" "router" {
  for_each = var.routers

  zone_id         = var.route53_zone_id
  name            = var.router_dns_name
  type            = "A"
  set_identifier  = each.key
  health_check_id = aws_route53_health_check.router[each.key].id

  latency_routing_policy {
    region = each.value.aws_region
  }

  alias {
    name    = each.value.dns_name
    zone_id = each.value.zone_id
    # The NLB also carries RADIUS: its target health would withdraw the API record when the RADIUS nodes are down.
    # The health check above watches the routers themselves.
    evaluate_target_health = false
  }
}
