# Three kinds of instance, each an auto scaling group over the private subnets with its own launch template:
# region nodes (node_count, behind both NLBs), the replicator (exactly one) and the routers (router_count).

locals {
  # IMDSv2 only: session tokens are required for the instance metadata service.
  imdsv2_mode = "required"

  instance_kinds = {
    node = {
      instance_type  = var.node_instance_type
      security_group = aws_security_group.node.id
      user_data      = local.node_user_data
      config         = local.node_config
    }
    replicator = {
      instance_type  = var.replicator_instance_type
      security_group = aws_security_group.replicator.id
      user_data      = local.replicator_user_data
      config         = local.replicator_config
    }
    router = {
      instance_type  = var.router_instance_type
      security_group = aws_security_group.router.id
      user_data      = local.router_user_data
      config         = local.router_config
    }
  }
}

resource "aws_launch_template" "this" {
  for_each = local.instance_kinds

  name_prefix   = "${local.name}-${each.key}-"
  description   = "Geo ${var.region_id} ${each.key} ${var.geo_version}"
  image_id      = local.ami_id
  instance_type = each.value.instance_type
  user_data     = base64encode(each.value.user_data)

  update_default_version = true
  vpc_security_group_ids = [each.value.security_group]

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance[each.key].arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = local.imdsv2_mode
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${local.name}-${each.key}", "geo:role" = each.key })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = "${local.name}-${each.key}", "geo:role" = each.key })
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = can(jsondecode(each.value.config))
      error_message = "The rendered /etc/geo configuration of the ${each.key} is not valid JSON."
    }

    precondition {
      condition     = alltrue([for s in var.kafka_shards : contains(keys(var.peer_postgres_hosts), s.home_region)])
      error_message = "Every kafka_shards home_region must be a key of peer_postgres_hosts (a region other than this one)."
    }
  }
}

resource "aws_autoscaling_group" "node" {
  name                = "${local.name}-node"
  min_size            = var.node_count
  max_size            = var.node_count + 1
  desired_capacity    = var.node_count
  vpc_zone_identifier = var.private_subnet_ids
  # EC2, not ELB: before the databases are migrated (after the first apply) the services are not ready, and ELB health
  # would replace the instances in a loop. The load balancers route only to ready targets; systemd restarts a service.
  health_check_type         = "EC2"
  health_check_grace_period = 600
  default_instance_warmup   = 120
  target_group_arns         = concat([for tg in aws_lb_target_group.radius : tg.arn], [aws_lb_target_group.api.arn])

  launch_template {
    id      = aws_launch_template.this["node"].id
    version = aws_launch_template.this["node"].latest_version
  }

  # One node at a time: the others keep answering RADIUS while a new node boots.
  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 150
      instance_warmup        = 120
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${local.name}-node" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }
}

# Exactly one replicator: two would apply the same streams twice. The group replaces it when it fails.
resource "aws_autoscaling_group" "replicator" {
  name                      = "${local.name}-replicator"
  min_size                  = 1
  max_size                  = 1
  desired_capacity          = 1
  vpc_zone_identifier       = var.private_subnet_ids
  health_check_type         = "EC2"
  health_check_grace_period = 600

  launch_template {
    id      = aws_launch_template.this["replicator"].id
    version = aws_launch_template.this["replicator"].latest_version
  }

  # Terminate first, then launch: never two replicators at once.
  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 0
      max_healthy_percentage = 100
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${local.name}-replicator" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }
}

resource "aws_autoscaling_group" "router" {
  count = var.router_count > 0 ? 1 : 0

  name                = "${local.name}-router"
  min_size            = var.router_count
  max_size            = var.router_count + 1
  desired_capacity    = var.router_count
  vpc_zone_identifier = var.private_subnet_ids
  # EC2, not ELB: before the databases are migrated (after the first apply) the services are not ready, and ELB health
  # would replace the instances in a loop. The load balancers route only to ready targets; systemd restarts a service.
  health_check_type         = "EC2"
  health_check_grace_period = 600
  default_instance_warmup   = 120
  target_group_arns         = [aws_lb_target_group.router[0].arn]

  launch_template {
    id      = aws_launch_template.this["router"].id
    version = aws_launch_template.this["router"].latest_version
  }

  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 150
      instance_warmup        = 120
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${local.name}-router" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }
}
