data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  name = "${var.name_prefix}-${var.region_id}"
  tags = merge(var.tags, { ManagedBy = "terraform", "geo:region" = var.region_id, "geo:component" = "debezium" })

  replication_factor = min(3, var.broker_count)

  # Secrets Manager config provider reference: the password never appears in the connector configuration.
  secret_name          = replace(element(split(":", var.db_secret_arn), 6), "/-[A-Za-z0-9]{6}$/", "")
  db_password_provider = format("$${secretsmanager:%s:password}", local.secret_name)

  # As `geoctl debezium-config` writes it (library: DebeziumConnectorConfig.Create); topic prefix = database name.
  connectors = {
    for tenant in var.tenants : tenant => merge(
      {
        "connector.class"                               = "io.debezium.connector.postgresql.PostgresConnector"
        "tasks.max"                                     = "1"
        "plugin.name"                                   = "pgoutput"
        "database.hostname"                             = var.postgres_host
        "database.port"                                 = tostring(var.postgres_port)
        "database.user"                                 = var.db_username
        "database.password"                             = local.db_password_provider
        "database.dbname"                               = "geo_${tenant}_${var.region_id}"
        "database.sslmode"                              = "require"
        "topic.prefix"                                  = "geo_${tenant}_${var.region_id}"
        "slot.name"                                     = "debezium_geo_${tenant}_${replace(var.region_id, "-", "_")}"
        "publication.name"                              = "debezium_geo_${tenant}_${replace(var.region_id, "-", "_")}"
        "publication.autocreate.mode"                   = "filtered"
        "snapshot.mode"                                 = "initial"
        "provide.transaction.metadata"                  = "true"
        "skipped.operations"                            = "none"
        "tombstones.on.delete"                          = "true"
        "decimal.handling.mode"                         = "string"
        "binary.handling.mode"                          = "base64"
        "time.precision.mode"                           = "adaptive_time_microseconds"
        "interval.handling.mode"                        = "string"
        "heartbeat.interval.ms"                         = "10000"
        "key.converter"                                 = "org.apache.kafka.connect.json.JsonConverter"
        "key.converter.schemas.enable"                  = "true"
        "value.converter"                               = "org.apache.kafka.connect.json.JsonConverter"
        "value.converter.schemas.enable"                = "true"
        "topic.creation.default.replication.factor"     = tostring(local.replication_factor)
        "topic.creation.default.partitions"             = "1"
        "topic.creation.groups"                         = "transaction"
        "topic.creation.transaction.include"            = "geo_${tenant}_${var.region_id}\\.transaction"
        "topic.creation.transaction.partitions"         = "1"
        "topic.creation.transaction.replication.factor" = tostring(local.replication_factor)
      },
      length(var.table_include_list) > 0
      ? { "table.include.list" = join(",", var.table_include_list) }
      : { "schema.include.list" = "public" },
    )
  }
}

# --- Network -------------------------------------------------------------------------------------------------------------

resource "aws_security_group" "msk" {
  name        = "${local.name}-msk"
  description = "Geo ${var.region_id}: MSK brokers (Debezium topics)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-msk" })
}

resource "aws_security_group" "connect" {
  name        = "${local.name}-msk-connect"
  description = "Geo ${var.region_id}: Debezium connectors (MSK Connect)"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-msk-connect" })
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_connect" {
  security_group_id            = aws_security_group.msk.id
  description                  = "Kafka TLS from the connectors"
  ip_protocol                  = "tcp"
  from_port                    = 9094
  to_port                      = 9094
  referenced_security_group_id = aws_security_group.connect.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_clients" {
  for_each = toset(var.client_cidrs)

  security_group_id = aws_security_group.msk.id
  description       = "Kafka TLS from standby replicators"
  ip_protocol       = "tcp"
  from_port         = 9094
  to_port           = 9094
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "connect" {
  security_group_id = aws_security_group.connect.id
  description       = "To the brokers, PostgreSQL and Secrets Manager"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

# --- Kafka ---------------------------------------------------------------------------------------------------------------

resource "aws_msk_configuration" "this" {
  name           = "${local.name}-debezium"
  kafka_versions = [var.kafka_version]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "default.replication.factor=${local.replication_factor}",
    "min.insync.replicas=${local.replication_factor > 2 ? 2 : 1}",
    "log.retention.hours=168",
  ])
}

resource "aws_msk_cluster" "this" {
  cluster_name           = "${local.name}-debezium"
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size
      }
    }
  }

  client_authentication {
    unauthenticated = true
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  tags = local.tags
}

# --- Kafka Connect (MSK Connect) -----------------------------------------------------------------------------------------

resource "aws_mskconnect_custom_plugin" "debezium" {
  name         = "${local.name}-debezium-postgres"
  content_type = "ZIP"

  location {
    s3 {
      bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.plugin_bucket}"
      file_key   = var.plugin_key
    }
  }
}

resource "aws_mskconnect_worker_configuration" "this" {
  name = "${local.name}-debezium"
  properties_file_content = join("\n", [
    "key.converter=org.apache.kafka.connect.json.JsonConverter",
    "value.converter=org.apache.kafka.connect.json.JsonConverter",
    "config.providers=secretsmanager",
    "config.providers.secretsmanager.class=com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider",
    "config.providers.secretsmanager.param.region=${element(split(":", var.db_secret_arn), 3)}",
  ])
}

data "aws_iam_policy_document" "connect_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["kafkaconnect.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "connect" {
  statement {
    sid       = "ReadDatabasePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }
}

resource "aws_iam_role" "connect" {
  name               = "${local.name}-msk-connect"
  assume_role_policy = data.aws_iam_policy_document.connect_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "connect" {
  name   = "geo-debezium"
  role   = aws_iam_role.connect.id
  policy = data.aws_iam_policy_document.connect.json
}

resource "aws_cloudwatch_log_group" "connect" {
  name              = "/geo/${local.name}/debezium"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_mskconnect_connector" "shard" {
  for_each = local.connectors

  name                 = "${local.name}-${replace(each.key, "_", "-")}"
  kafkaconnect_version = var.connect_version

  capacity {
    provisioned_capacity {
      mcu_count    = var.mcu_count
      worker_count = 1
    }
  }

  connector_configuration = each.value

  kafka_cluster {
    apache_kafka_cluster {
      bootstrap_servers = aws_msk_cluster.this.bootstrap_brokers_tls

      vpc {
        security_groups = [aws_security_group.connect.id]
        subnets         = var.subnet_ids
      }
    }
  }

  kafka_cluster_client_authentication {
    authentication_type = "NONE"
  }

  kafka_cluster_encryption_in_transit {
    encryption_type = "TLS"
  }

  plugin {
    custom_plugin {
      arn      = aws_mskconnect_custom_plugin.debezium.arn
      revision = aws_mskconnect_custom_plugin.debezium.latest_revision
    }
  }

  worker_configuration {
    arn      = aws_mskconnect_worker_configuration.this.arn
    revision = aws_mskconnect_worker_configuration.this.latest_revision
  }

  log_delivery {
    worker_log_delivery {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.connect.name
      }
    }
  }

  service_execution_role_arn = aws_iam_role.connect.arn
}
