# One role per kind of instance, each allowed to read exactly its own secrets and the packages.

locals {
  instance_secrets = {
    node       = local.node_secrets
    replicator = local.replicator_secrets
    router     = local.router_secrets
  }

  package_object_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.package_bucket}/${var.package_prefix}/*"
}

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "instance" {
  for_each = local.instance_secrets

  # Skipped when a kind of instance has no secret: IAM refuses a statement without resources.
  dynamic "statement" {
    for_each = length(compact(values(each.value))) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = sort(compact(values(each.value)))
    }
  }

  statement {
    sid       = "ReadPackages"
    actions   = ["s3:GetObject"]
    resources = [local.package_object_arn]
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["secretsmanager.*.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "instance" {
  for_each = local.instance_secrets

  name               = "${local.name}-${each.key}"
  description        = "Geo ${var.region_id} ${each.key} instances"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "instance" {
  for_each = local.instance_secrets

  name   = "geo-${each.key}"
  role   = aws_iam_role.instance[each.key].id
  policy = data.aws_iam_policy_document.instance[each.key].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = var.enable_ssm ? local.instance_secrets : {}

  role       = aws_iam_role.instance[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  for_each = local.instance_secrets

  name = "${local.name}-${each.key}"
  role = aws_iam_role.instance[each.key].name
  tags = local.tags
}

data "aws_partition" "current" {}
