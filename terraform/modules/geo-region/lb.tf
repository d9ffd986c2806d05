# Fixed RADIUS addresses: one Elastic IP per public subnet, bound to the NLB through subnet_mapping. NAS devices are
# configured with these addresses (primary: their home region's, backup: the other region's); they survive any
# replacement of the instances and of the NLB's listeners.
resource "aws_eip" "radius" {
  count = length(var.public_subnet_ids)

  domain = "vpc"
  tags   = merge(local.tags, { Name = "${local.name}-radius-${count.index}" })

  lifecycle {
    # Re-addressing every NAS in the field is the price of losing one of these.
    prevent_destroy = true
  }
}

resource "aws_lb" "radius" {
  name                             = "${local.name}-radius"
  load_balancer_type               = "network"
  internal                         = false
  security_groups                  = [aws_security_group.radius_lb.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.load_balancer_deletion_protection

  dynamic "subnet_mapping" {
    for_each = var.public_subnet_ids

    content {
      subnet_id     = subnet_mapping.value
      allocation_id = aws_eip.radius[subnet_mapping.key].id
    }
  }

  tags = merge(local.tags, { Name = "${local.name}-radius" })

  lifecycle {
    precondition {
      condition     = length(local.name) <= 20
      error_message = "\"<name_prefix>-<region_id>\" must be at most 20 characters: load balancer and target group names are limited to 32."
    }
  }
}

# The tenant API of the region nodes, for the routers of every region (over VPC peering): the directory's api_url.
resource "aws_lb" "api" {
  name                             = "${local.name}-api"
  load_balancer_type               = "network"
  internal                         = true
  subnets                          = var.private_subnet_ids
  security_groups                  = [aws_security_group.api_lb.id]
  enable_cross_zone_load_balancing = true

  tags = merge(local.tags, { Name = "${local.name}-api" })
}

# --- Region nodes ------------------------------------------------------------------------------------------------------

resource "aws_lb_target_group" "radius" {
  for_each = local.radius_ports

  name                 = "${local.name}-${each.key}"
  port                 = each.value
  protocol             = "UDP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 15

  # UDP cannot be health-checked: a node is in service when its HTTP readiness says so.
  health_check {
    protocol            = "HTTP"
    port                = tostring(local.api_port)
    path                = "/health/ready"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(local.tags, { Name = "${local.name}-${each.key}" })
}

resource "aws_lb_listener" "radius" {
  for_each = local.radius_ports

  load_balancer_arn = aws_lb.radius.arn
  port              = each.value
  protocol          = "UDP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.radius[each.key].arn
  }

  tags = local.tags
}

resource "aws_lb_target_group" "api" {
  name                 = "${local.name}-api"
  port                 = local.api_port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = "/health/ready"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(local.tags, { Name = "${local.name}-api" })
}

resource "aws_lb_listener" "api" {
  load_balancer_arn = aws_lb.api.arn
  port              = local.api_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = local.tags
}

# --- Routers -----------------------------------------------------------------------------------------------------------

resource "aws_lb_target_group" "router" {
  count = var.router_count > 0 ? 1 : 0

  name                 = "${local.name}-router"
  port                 = local.router_port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = "/health/ready"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(local.tags, { Name = "${local.name}-router" })
}

resource "aws_lb_listener" "router" {
  count = var.router_count > 0 ? 1 : 0

  load_balancer_arn = aws_lb.radius.arn
  port              = local.router_lb_port
  protocol          = local.router_tls ? "TLS" : "TCP"
  certificate_arn   = var.router_certificate_arn
  ssl_policy        = local.router_tls ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.router[0].arn
  }

  tags = local.tags
}
