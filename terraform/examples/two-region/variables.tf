# --- Sites ---------------------------------------------------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "geo"
}

variable "region_a" {
  description = "Geo region a: its id (the directory's regions.id), AWS region and VPC CIDR."
  type = object({
    id         = string
    aws_region = string
    vpc_cidr   = string
  })
  default = {
    id         = "a"
    aws_region = "eu-west-1"
    vpc_cidr   = "10.10.0.0/16"
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.region_a.id)) && can(cidrhost(var.region_a.vpc_cidr, 0))
    error_message = "region_a.id must match ^[a-z][a-z0-9-]*$ and vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "region_b" {
  description = "Geo region b: its id, AWS region and VPC CIDR."
  type = object({
    id         = string
    aws_region = string
    vpc_cidr   = string
  })
  default = {
    id         = "b"
    aws_region = "eu-central-1"
    vpc_cidr   = "10.20.0.0/16"
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.region_b.id)) && can(cidrhost(var.region_b.vpc_cidr, 0))
    error_message = "region_b.id must match ^[a-z][a-z0-9-]*$ and vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "witness_aws_region" {
  description = "AWS region of the witness site that holds the directory: neither Geo region."
  type        = string
  default     = "eu-west-3"
}

variable "witness_vpc_cidr" {
  description = "VPC CIDR of the witness site."
  type        = string
  default     = "10.30.0.0/16"
}

variable "az_count" {
  description = "Availability zones per site (2 or 3): one public and one private subnet each, and one RADIUS Elastic IP per zone."
  type        = number
  default     = 2
}

variable "tags" {
  description = "Tags added to every resource (through the providers' default_tags and the modules)."
  type        = map(string)
  default     = {}
}

# --- Access --------------------------------------------------------------------------------------------------------------

variable "nas_cidrs" {
  description = "Source CIDRs of the NAS devices (BNGs) of both regions: each region accepts RADIUS from all of them (a NAS fails over to its backup region)."
  type        = list(string)
}

variable "management_cidrs" {
  description = "Sources allowed to scrape management and metrics ports (e.g. Prometheus). Empty opens none."
  type        = list(string)
  default     = []
}

variable "router_client_cidrs" {
  description = "Sources allowed to reach the routers (tenants, operators, and Route 53 health checkers)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- Sizes ---------------------------------------------------------------------------------------------------------------

variable "node_count" {
  description = "Region nodes per region (at least 2)."
  type        = number
  default     = 2
}

variable "node_instance_type" {
  description = "Instance type of the region nodes."
  type        = string
  default     = "c7i.xlarge"
}

variable "router_count" {
  description = "Routers per region."
  type        = number
  default     = 2
}

variable "router_instance_type" {
  description = "Instance type of the routers."
  type        = string
  default     = "c7i.large"
}

variable "replicator_instance_type" {
  description = "Instance type of the replicators (one per region)."
  type        = string
  default     = "m7i.large"
}

variable "postgres_instance_class" {
  description = "RDS instance class of each region's PostgreSQL."
  type        = string
  default     = "db.r7g.xlarge"
}

variable "postgres_allocated_storage" {
  description = "Initial storage in GiB of each region's PostgreSQL."
  type        = number
  default     = 200
}

variable "postgres_engine_version" {
  description = "RDS PostgreSQL engine version of the regions and the directory."
  type        = string
  default     = "16"
}

variable "redis_node_type" {
  description = "ElastiCache node type of each region's Redis."
  type        = string
  default     = "cache.r7g.large"
}

variable "directory_instance_class" {
  description = "RDS instance class of the directory (Multi-AZ, witness site)."
  type        = string
  default     = "db.r7g.large"
}

# --- Packages ------------------------------------------------------------------------------------------------------------

variable "package_bucket" {
  description = "S3 bucket holding the Geo .deb packages."
  type        = string
}

variable "package_bucket_region" {
  description = "AWS region of package_bucket."
  type        = string
}

variable "package_prefix" {
  description = "Key prefix of the packages in package_bucket."
  type        = string
  default     = "geo"
}

variable "geo_version" {
  description = "Version of the Geo packages to install."
  type        = string
}

# --- Secrets (ARNs only) -------------------------------------------------------------------------------------------------

variable "region_a_secrets" {
  description = "Full Secrets Manager ARNs of region a's secrets: pgpass files of the nodes, replicator and routers, the key ring, the inter-region secret, and optionally the Redis password."
  type = object({
    node_pgpass         = string
    replicator_pgpass   = string
    router_pgpass       = string
    keyring             = string
    inter_region_secret = string
    redis_password      = optional(string)
  })
}

variable "region_b_secrets" {
  description = "Full Secrets Manager ARNs of region b's secrets (same shape as region_a_secrets)."
  type = object({
    node_pgpass         = string
    replicator_pgpass   = string
    router_pgpass       = string
    keyring             = string
    inter_region_secret = string
    redis_password      = optional(string)
  })
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys of the secrets, if any."
  type        = list(string)
  default     = []
}

variable "operator_key_sha256" {
  description = "Hex SHA-256 of the routers' bootstrap operator key (a hash, not a secret). Empty turns the admin API off."
  type        = string
  default     = ""
}

# --- DNS -----------------------------------------------------------------------------------------------------------------

variable "route53_zone_id" {
  description = "Route 53 hosted zone of router_dns_name."
  type        = string
}

variable "router_dns_name" {
  description = "DNS name of the routers, e.g. \"api.geo.example.net\"."
  type        = string
}

variable "router_certificate_arns" {
  description = "ACM certificate ARN for router_dns_name in each region's AWS region, by \"a\" and \"b\". Both set: TLS on 443. Both null: TCP 8080 (tests only)."
  type = object({
    a = optional(string)
    b = optional(string)
  })
  default = {}

  validation {
    condition     = (var.router_certificate_arns.a == null) == (var.router_certificate_arns.b == null)
    error_message = "Set both router certificates or neither: the DNS name has one scheme and port."
  }
}

# --- Tenants and change data capture -------------------------------------------------------------------------------------

variable "tenants" {
  description = "Tenants by id with their home region (region_a.id or region_b.id). Only used with cdc = \"debezium\" (one connector per tenant); with pgoutput, tenants are onboarded through the routers' admin API and found in the directory."
  type = map(object({
    home_region = string
  }))
  default = {}

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z][a-z0-9_]{0,30}$", id))])
    error_message = "Tenant ids must match ^[a-z][a-z0-9_]{0,30}$."
  }
}

variable "cdc" {
  description = "Change data capture between the regions: \"pgoutput\" (the replicators stream straight from the peer's PostgreSQL) or \"debezium\" (Debezium on MSK Connect into an MSK cluster per region)."
  type        = string
  default     = "pgoutput"

  validation {
    condition     = contains(["pgoutput", "debezium"], var.cdc)
    error_message = "cdc must be \"pgoutput\" or \"debezium\"."
  }
}

variable "debezium" {
  description = "With cdc = \"debezium\": the connector plugin ZIP in S3 (per AWS region: MSK Connect reads it from its own region), the connectors' PostgreSQL role secret per region, and the MSK sizes."
  type = object({
    plugin_bucket_a      = string
    plugin_bucket_b      = string
    plugin_key           = string
    db_secret_arn_a      = string
    db_secret_arn_b      = string
    broker_instance_type = optional(string, "kafka.m7g.large")
    broker_volume_size   = optional(number, 200)
    table_include_list   = optional(list(string), [])
  })
  default = null
}
