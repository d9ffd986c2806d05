# Three VPCs (region a, region b, the witness) peered with each other:
#   a <-> b        RADIUS forwards and heartbeats between nodes, the API from the other region's routers,
#                  PostgreSQL from the other region's replicator and routers;
#   a, b <-> w     every node, replicator and router speaks PostgreSQL to the directory.

module "network_a" {
  source    = "../../modules/geo-network"
  providers = { aws = aws.a }

  name       = "${var.name_prefix}-${var.region_a.id}"
  cidr_block = var.region_a.vpc_cidr
  az_count   = var.az_count
  tags       = var.tags
}

module "network_b" {
  source    = "../../modules/geo-network"
  providers = { aws = aws.b }

  name       = "${var.name_prefix}-${var.region_b.id}"
  cidr_block = var.region_b.vpc_cidr
  az_count   = var.az_count
  tags       = var.tags
}

module "network_witness" {
  source    = "../../modules/geo-network"
  providers = { aws = aws.witness }

  name           = "${var.name_prefix}-witness"
  cidr_block     = var.witness_vpc_cidr
  az_count       = var.az_count
  public_subnets = false
  tags           = var.tags
}

module "peering_a_b" {
  source = "../../modules/geo-peering"
  providers = {
    aws.requester = aws.a
    aws.accepter  = aws.b
  }

  name                      = "${var.name_prefix}-${var.region_a.id}-${var.region_b.id}"
  requester_vpc_id          = module.network_a.vpc_id
  requester_cidr_block      = module.network_a.cidr_block
  requester_route_table_ids = module.network_a.private_route_table_ids
  accepter_vpc_id           = module.network_b.vpc_id
  accepter_cidr_block       = module.network_b.cidr_block
  accepter_route_table_ids  = module.network_b.private_route_table_ids
  accepter_region           = var.region_b.aws_region
  tags                      = var.tags
}

module "peering_a_witness" {
  source = "../../modules/geo-peering"
  providers = {
    aws.requester = aws.a
    aws.accepter  = aws.witness
  }

  name                      = "${var.name_prefix}-${var.region_a.id}-witness"
  requester_vpc_id          = module.network_a.vpc_id
  requester_cidr_block      = module.network_a.cidr_block
  requester_route_table_ids = module.network_a.private_route_table_ids
  accepter_vpc_id           = module.network_witness.vpc_id
  accepter_cidr_block       = module.network_witness.cidr_block
  accepter_route_table_ids  = module.network_witness.private_route_table_ids
  accepter_region           = var.witness_aws_region
  tags                      = var.tags
}

module "peering_b_witness" {
  source = "../../modules/geo-peering"
  providers = {
    aws.requester = aws.b
    aws.accepter  = aws.witness
  }

  name                      = "${var.name_prefix}-${var.region_b.id}-witness"
  requester_vpc_id          = module.network_b.vpc_id
  requester_cidr_block      = module.network_b.cidr_block
  requester_route_table_ids = module.network_b.private_route_table_ids
  accepter_vpc_id           = module.network_witness.vpc_id
  accepter_cidr_block       = module.network_witness.cidr_block
  accepter_route_table_ids  = module.network_witness.private_route_table_ids
  accepter_region           = var.witness_aws_region
  tags                      = var.tags
}
