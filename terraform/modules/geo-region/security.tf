# Security groups: each opens only what its service needs. Within the VPC, rules reference security groups; across
# regions (VPC peering) they use the peers' private subnet CIDRs, since security groups cannot be referenced there.

resource "aws_security_group" "radius_lb" {
  name        = "${local.name}-radius-lb"
  description = "Geo ${var.region_id}: public NLB (RADIUS from the NAS devices, router listener)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-radius-lb" })
}

resource "aws_security_group" "api_lb" {
  name        = "${local.name}-api-lb"
  description = "Geo ${var.region_id}: internal NLB (tenant API of the region nodes, for the routers)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-api-lb" })
}

resource "aws_security_group" "node" {
  name        = "${local.name}-node"
  description = "Geo ${var.region_id}: region nodes"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-node" })
}

resource "aws_security_group" "replicator" {
  name        = "${local.name}-replicator"
  description = "Geo ${var.region_id}: replicator"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-replicator" })
}

resource "aws_security_group" "router" {
  name        = "${local.name}-router"
  description = "Geo ${var.region_id}: routers"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-router" })
}

resource "aws_security_group" "postgres" {
  name        = "${local.name}-postgres"
  description = "Geo ${var.region_id}: PostgreSQL (shards and replicas)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-postgres" })
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "Geo ${var.region_id}: Redis (cache)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-redis" })
}

locals {
  radius_ports = {
    auth = local.auth_port
    acct = local.acct_port
  }

  # Ingress from CIDR blocks: key => rule. Keys hold only known values (names, ports, CIDRs).
  cidr_ingress = merge(
    # RADIUS from the NAS devices (and any extra source, e.g. peer NAT addresses) to the public NLB.
    { for pair in setproduct(keys(local.radius_ports), distinct(concat(var.nas_cidrs, var.peer_radius_source_cidrs))) :
      "radius_lb-${pair[0]}-${pair[1]}" => {
        security_group_id = aws_security_group.radius_lb.id, protocol = "udp", port = local.radius_ports[pair[0]], cidr = pair[1]
        description       = "RADIUS ${pair[0]} from NAS devices"
      }
    },
    # The routers' public listener (tenants, operators and Route 53 health checkers).
    { for cidr in(var.router_count > 0 ? var.router_client_cidrs : []) :
      "radius_lb-router-${cidr}" => {
        security_group_id = aws_security_group.radius_lb.id, protocol = "tcp", port = local.router_lb_port, cidr = cidr
        description       = "Router listener"
      }
    },
    # The tenant API through the internal NLB: this VPC's routers and the peer regions' routers.
    {
      "api_lb-api-vpc" = {
        security_group_id = aws_security_group.api_lb.id, protocol = "tcp", port = local.api_port, cidr = local.vpc_cidr
        description       = "Tenant API from the routers in this region"
      }
    },
    { for cidr in var.peer_cidrs :
      "api_lb-api-${cidr}" => {
        security_group_id = aws_security_group.api_lb.id, protocol = "tcp", port = local.api_port, cidr = cidr
        description       = "Tenant API from peer region routers"
      }
    },
    # RADIUS forwards and Status-Server heartbeats straight from the peer regions' nodes (over peering).
    { for pair in setproduct(keys(local.radius_ports), var.peer_cidrs) :
      "node-${pair[0]}-${pair[1]}" => {
        security_group_id = aws_security_group.node.id, protocol = "udp", port = local.radius_ports[pair[0]], cidr = pair[1]
        description       = "RADIUS ${pair[0]} from peer region nodes"
      }
    },
    # The peer regions' replicator (replication client) and routers (admin API) to this region's PostgreSQL.
    { for cidr in var.peer_cidrs :
      "postgres-${cidr}" => {
        security_group_id = aws_security_group.postgres.id, protocol = "tcp", port = local.postgres_port, cidr = cidr
        description       = "PostgreSQL from peer region replicator and routers"
      }
    },
    # Monitoring.
    { for cidr in var.management_cidrs :
      "node-management-${cidr}" => {
        security_group_id = aws_security_group.node.id, protocol = "tcp", port = 9081, cidr = cidr
        description       = "Region node management and metrics"
      }
    },
    { for pair in setproduct(["9464", "9465"], var.management_cidrs) :
      "replicator-${pair[0]}-${pair[1]}" => {
        security_group_id = aws_security_group.replicator.id, protocol = "tcp", port = tonumber(pair[0]), cidr = pair[1]
        description       = "Replicator health and metrics"
      }
    },
    { for cidr in var.management_cidrs :
      "router-management-${cidr}" => {
        security_group_id = aws_security_group.router.id, protocol = "tcp", port = local.router_port, cidr = cidr
        description       = "Router health and metrics"
      }
    },
  )

  # Ingress from other security groups of this VPC.
  group_ingress = merge(
    {
      node-auth-from-lb = {
        security_group_id = aws_security_group.node.id, source = aws_security_group.radius_lb.id, protocol = "udp", port = local.auth_port
        description       = "RADIUS auth through the public NLB (client IP preserved)"
      }
      node-acct-from-lb = {
        security_group_id = aws_security_group.node.id, source = aws_security_group.radius_lb.id, protocol = "udp", port = local.acct_port
        description       = "RADIUS acct through the public NLB (client IP preserved)"
      }
      node-health-from-radius-lb = {
        security_group_id = aws_security_group.node.id, source = aws_security_group.radius_lb.id, protocol = "tcp", port = local.api_port
        description       = "Health checks of the RADIUS target groups (/health/ready)"
      }
      node-api-from-api-lb = {
        security_group_id = aws_security_group.node.id, source = aws_security_group.api_lb.id, protocol = "tcp", port = local.api_port
        description       = "Tenant API through the internal NLB"
      }
      router-from-lb = {
        security_group_id = aws_security_group.router.id, source = aws_security_group.radius_lb.id, protocol = "tcp", port = local.router_port
        description       = "Router traffic and health checks through the public NLB"
      }
      postgres-from-node = {
        security_group_id = aws_security_group.postgres.id, source = aws_security_group.node.id, protocol = "tcp", port = local.postgres_port
        description       = "PostgreSQL from the region nodes"
      }
      postgres-from-replicator = {
        security_group_id = aws_security_group.postgres.id, source = aws_security_group.replicator.id, protocol = "tcp", port = local.postgres_port
        description       = "PostgreSQL from the replicator (applies replicas here)"
      }
      postgres-from-router = {
        security_group_id = aws_security_group.postgres.id, source = aws_security_group.router.id, protocol = "tcp", port = local.postgres_port
        description       = "PostgreSQL from the routers (admin API creates shard databases)"
      }
      redis-from-node = {
        security_group_id = aws_security_group.redis.id, source = aws_security_group.node.id, protocol = "tcp", port = 6379
        description       = "Redis from the region nodes"
      }
    },
    { for i, sg in var.postgres_client_security_group_ids :
      "postgres-from-extra-${i}" => {
        security_group_id = aws_security_group.postgres.id, source = sg, protocol = "tcp", port = local.postgres_port
        description       = "PostgreSQL from an extra client group"
      }
    },
  )
}

resource "aws_vpc_security_group_ingress_rule" "cidr" {
  for_each = local.cidr_ingress

  security_group_id = each.value.security_group_id
  description       = each.value.description
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "group" {
  for_each = local.group_ingress

  security_group_id            = each.value.security_group_id
  description                  = each.value.description
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.source
  tags                         = local.tags
}

# The load balancers only talk to their targets in this VPC.
resource "aws_vpc_security_group_egress_rule" "lb_to_vpc" {
  for_each = {
    radius_lb = aws_security_group.radius_lb.id
    api_lb    = aws_security_group.api_lb.id
  }

  security_group_id = each.value
  description       = "To the targets in this VPC"
  ip_protocol       = "-1"
  cidr_ipv4         = local.vpc_cidr
  tags              = local.tags
}

# Instances: packages (S3, packages.microsoft.com), Secrets Manager, the directory, peer regions.
resource "aws_vpc_security_group_egress_rule" "instances" {
  for_each = {
    node       = aws_security_group.node.id
    replicator = aws_security_group.replicator.id
    router     = aws_security_group.router.id
  }

  security_group_id = each.value
  description       = "Outbound"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}
