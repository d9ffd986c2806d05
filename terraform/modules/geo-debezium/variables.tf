variable "name_prefix" {
  description = "Prefix of every resource name (the region id is appended)."
  type        = string
  default     = "geo"
}

variable "region_id" {
  description = "Geo region id whose shards this Kafka cluster carries (the source region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.region_id))
    error_message = "region_id must match ^[a-z][a-z0-9-]*$."
  }
}

variable "tenants" {
  description = "Tenants homed in this region: one Debezium connector each, on database geo_<tenant>_<region_id>."
  type        = list(string)

  validation {
    condition     = alltrue([for t in var.tenants : can(regex("^[a-z][a-z0-9_]{0,30}$", t))])
    error_message = "Tenant ids must match ^[a-z][a-z0-9_]{0,30}$."
  }
}

variable "vpc_id" {
  description = "VPC of the source region."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the brokers and connectors, one per zone (broker_count must be a multiple of their number)."
  type        = list(string)
}

variable "client_cidrs" {
  description = "CIDRs allowed to read the topics (TLS, 9094): the standby regions' private subnets, where their replicators run."
  type        = list(string)
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_count" {
  description = "Number of brokers (a multiple of the number of subnets)."
  type        = number
  default     = 3
}

variable "broker_volume_size" {
  description = "EBS storage per broker in GiB."
  type        = number
  default     = 200
}

variable "connect_version" {
  description = "Kafka Connect version of MSK Connect."
  type        = string
  default     = "2.7.1"
}

variable "plugin_bucket" {
  description = "S3 bucket holding the Debezium PostgreSQL connector plugin (a ZIP that also contains the MSK config providers, for the Secrets Manager reference)."
  type        = string
}

variable "plugin_key" {
  description = "S3 key of the plugin ZIP, e.g. \"debezium/debezium-connector-postgres-2.7.3-with-msk-config-providers.zip\"."
  type        = string
}

variable "postgres_host" {
  description = "This region's PostgreSQL host (the geo-region module's postgres_address)."
  type        = string
}

variable "postgres_port" {
  description = "This region's PostgreSQL port."
  type        = number
  default     = 5432
}

variable "db_username" {
  description = "PostgreSQL role of the connectors (REPLICATION via rds_replication, SELECT on the tenant tables, allowed to create the publication)."
  type        = string
  default     = "geo_debezium"
}

variable "db_secret_arn" {
  description = "Full ARN of the Secrets Manager secret (JSON with a \"password\" key) holding db_username's password. Referenced by the connectors through the config provider; never read by Terraform."
  type        = string
}

variable "table_include_list" {
  description = "Tables the connectors capture (Debezium table.include.list, e.g. [\"public.plans\", \"public.subscribers\"]). Empty captures the whole public schema."
  type        = list(string)
  default     = []
}

variable "mcu_count" {
  description = "MSK Connect units per worker of each connector."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
