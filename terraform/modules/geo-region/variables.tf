# ---------------------------------------------------------------------------------------------------------------------
# Identity and placement
# ---------------------------------------------------------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name (the region id is appended), e.g. \"geo\" gives \"geo-a-...\"."
  type        = string
  default     = "geo"

  validation {
    condition     = can(regex("^[a-z](-?[a-z0-9])*$", var.name_prefix)) && length(var.name_prefix) <= 16
    error_message = "name_prefix must be lower-case letters, digits and '-', starting with a letter, at most 16 characters."
  }
}

variable "region_id" {
  description = "Geo region id of this data center (the directory's regions.id, e.g. \"a\"). Becomes part of shard database names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.region_id)) && length(var.region_id) <= 31
    error_message = "region_id must match ^[a-z][a-z0-9-]*$ and be at most 31 characters."
  }
}

variable "vpc_id" {
  description = "VPC of this region."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (one per zone) of the internet-facing NLB; each gets one Elastic IP, the fixed RADIUS addresses of this region."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids needs at least two subnets in different zones."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (one per zone) of the instances, the internal NLB, PostgreSQL and Redis."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs at least two subnets in different zones."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------------------------
# Network access
# ---------------------------------------------------------------------------------------------------------------------

variable "nas_cidrs" {
  description = "Source CIDRs of the NAS devices (BNGs) allowed to send RADIUS (UDP 1812/1813) to this region."
  type        = list(string)

  validation {
    condition     = length(var.nas_cidrs) > 0 && alltrue([for c in var.nas_cidrs : can(cidrhost(c, 0))])
    error_message = "nas_cidrs needs at least one valid IPv4 CIDR."
  }
}

variable "peer_cidrs" {
  description = "Private subnet CIDRs of the peer regions (their region nodes, replicator and routers), reached over VPC peering: RADIUS forwards and Status-Server heartbeats to the nodes, the API from their routers, PostgreSQL from their replicator and routers."
  type        = list(string)
  default     = []
}

variable "peer_radius_source_cidrs" {
  description = "Extra sources allowed to send RADIUS to the public NLB besides nas_cidrs, e.g. the peer regions' NAT gateway addresses (/32) when a peer forwards to this region's public RADIUS address."
  type        = list(string)
  default     = []
}

variable "router_client_cidrs" {
  description = "Sources allowed to reach the routers' public listener. Must include Route 53's health checkers; the default is the internet (the tenant API authenticates with API keys)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "management_cidrs" {
  description = "Sources allowed to scrape management and metrics ports (region node 9081, replicator 9464/9465, router 8080), e.g. the Prometheus subnets. Empty opens none."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------------------------------------------------

variable "ami_id" {
  description = "AMI of every instance. null picks the latest official Debian 12 (bookworm) amd64 image, which the Microsoft apt repository and the .deb packages target."
  type        = string
  default     = null
}

variable "node_count" {
  description = "Number of region nodes (geo-region) behind the NLB."
  type        = number
  default     = 2

  validation {
    condition     = var.node_count >= 2 && floor(var.node_count) == var.node_count
    error_message = "node_count must be a whole number of at least 2: one node is a single point of failure for the region."
  }
}

variable "node_instance_type" {
  description = "Instance type of the region nodes."
  type        = string
  default     = "c7i.xlarge"
}

variable "router_count" {
  description = "Number of geo-router instances in this region (0 runs none here; geo-global then must not list this region)."
  type        = number
  default     = 2

  validation {
    condition     = var.router_count >= 0 && floor(var.router_count) == var.router_count
    error_message = "router_count must be a whole number, 0 or more."
  }
}

variable "router_instance_type" {
  description = "Instance type of the routers."
  type        = string
  default     = "c7i.large"
}

variable "replicator_instance_type" {
  description = "Instance type of the replicator (one instance, kept alive by an auto scaling group of 1)."
  type        = string
  default     = "m7i.large"
}

variable "root_volume_size" {
  description = "Root volume size in GiB of every instance."
  type        = number
  default     = 30
}

variable "enable_ssm" {
  description = "Attach AmazonSSMManagedInstanceCore so operators reach instances with Session Manager (no SSH port is opened)."
  type        = bool
  default     = true
}

variable "load_balancer_deletion_protection" {
  description = "Protect the public NLB (it holds the NAS-facing Elastic IPs) from deletion."
  type        = bool
  default     = true
}

variable "router_certificate_arn" {
  description = "ACM certificate (in this AWS region) for the router DNS name. Set: the routers listen on TLS 443 at the NLB. null: plain TCP 8080 (not for production)."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------------------------------------------------

variable "package_bucket" {
  description = "S3 bucket holding the Geo .deb packages."
  type        = string
}

variable "package_prefix" {
  description = "Key prefix of the packages in package_bucket (no leading or trailing '/'); files are <prefix>/<name>_<geo_version>_amd64.deb."
  type        = string
  default     = "geo"
}

variable "package_bucket_region" {
  description = "AWS region of package_bucket. null means this region."
  type        = string
  default     = null
}

variable "geo_version" {
  description = "Version of the Geo packages to install (e.g. \"1.4.0\"). Changing it rolls the auto scaling groups."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z.+~-]+$", var.geo_version))
    error_message = "geo_version must be a Debian version string (digits, letters, '.', '+', '~', '-')."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Databases and cache
# ---------------------------------------------------------------------------------------------------------------------

variable "postgres_engine_version" {
  description = "RDS PostgreSQL engine version (major, or major.minor). The parameter group family follows the major version."
  type        = string
  default     = "16"
}

variable "postgres_instance_class" {
  description = "RDS instance class of this region's PostgreSQL (every shard and replica database of the region)."
  type        = string
  default     = "db.r7g.xlarge"
}

variable "postgres_allocated_storage" {
  description = "Initial storage in GiB of this region's PostgreSQL."
  type        = number
  default     = 200
}

variable "postgres_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB (0 disables autoscaling)."
  type        = number
  default     = 1000
}

variable "postgres_multi_az" {
  description = "Run this region's PostgreSQL Multi-AZ (a synchronous standby in another zone)."
  type        = bool
  default     = true
}

variable "postgres_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) of this region's PostgreSQL."
  type        = number
  default     = 14
}

variable "postgres_deletion_protection" {
  description = "Protect this region's PostgreSQL from deletion."
  type        = bool
  default     = true
}

variable "postgres_master_username" {
  description = "Master user of this region's PostgreSQL. Its password is generated and kept by RDS in Secrets Manager (manage_master_user_password); no service uses it."
  type        = string
  default     = "geo_master"
}

variable "postgres_max_replication_slots" {
  description = "max_replication_slots and max_wal_senders: one logical slot per shard homed here and streamed to a standby, plus headroom."
  type        = number
  default     = 64
}

variable "postgres_client_security_group_ids" {
  description = "Extra security groups allowed to connect to this region's PostgreSQL (e.g. the Debezium connectors' group)."
  type        = list(string)
  default     = []
}

variable "peer_postgres_hosts" {
  description = "PostgreSQL host of every other region, by region id (e.g. { b = \"geo-b-pg.xxxx.eu-central-1.rds.amazonaws.com\" }). Feeds the replicator's and the routers' Servers maps."
  type        = map(string)

  validation {
    condition     = alltrue([for id in keys(var.peer_postgres_hosts) : can(regex("^[a-z][a-z0-9-]*$", id))])
    error_message = "peer_postgres_hosts keys must be region ids matching ^[a-z][a-z0-9-]*$."
  }
}

variable "redis_node_type" {
  description = "ElastiCache node type of the region's Redis (a cache only: losing it loses no data)."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_engine_version" {
  description = "ElastiCache Redis engine version."
  type        = string
  default     = "7.1"
}

variable "redis_replicas" {
  description = "Read replicas of the Redis primary (0 or more); 1 or more turns on automatic failover and Multi-AZ."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------------------------------------------------------------
# The directory
# ---------------------------------------------------------------------------------------------------------------------

variable "directory_host" {
  description = "Host of the directory PostgreSQL (geo-global's directory_address)."
  type        = string
}

variable "directory_port" {
  description = "Port of the directory PostgreSQL."
  type        = number
  default     = 5432
}

variable "directory_database" {
  description = "Name of the directory database."
  type        = string
  default     = "geo_directory"
}

# ---------------------------------------------------------------------------------------------------------------------
# PostgreSQL roles (created by geo-migrate / the operator; passwords only in the pgpass secrets)
# ---------------------------------------------------------------------------------------------------------------------

variable "node_db_username" {
  description = "PostgreSQL role of the region nodes, in this region's server and in the directory (the schema's ServiceRoles.RegionNode)."
  type        = string
  default     = "geo_node"
}

variable "router_db_username" {
  description = "PostgreSQL role of the routers in the directory (the schema's ServiceRoles.Router)."
  type        = string
  default     = "geo_router"
}

variable "replicator_db_username" {
  description = "PostgreSQL role of the replicator, in every region's server and in the directory (the schema's ServiceRoles.Replicator: replication, rows, no schema)."
  type        = string
  default     = "geo_replicator"
}

variable "admin_db_username" {
  description = "PostgreSQL administrator role (CREATEDB, not the RDS master) used by the routers' admin API in every region's server."
  type        = string
  default     = "geo_admin"
}

# ---------------------------------------------------------------------------------------------------------------------
# Secrets (Secrets Manager ARNs only; values never pass through Terraform)
# ---------------------------------------------------------------------------------------------------------------------

variable "secrets_dir" {
  description = "Directory the secrets are written to at boot and that the rendered configuration points at."
  type        = string
  default     = "/etc/geo/secrets"
}

variable "node_pgpass_secret_arn" {
  description = "Secret (plain text, pgpass format) of the region nodes: lines for node_db_username at this region's PostgreSQL and at the directory. Written to <secrets_dir>/pgpass."
  type        = string
}

variable "replicator_pgpass_secret_arn" {
  description = "Secret (plain text, pgpass format) of the replicator: lines for replicator_db_username at every region's PostgreSQL and at the directory. Written to <secrets_dir>/pgpass."
  type        = string
}

variable "router_pgpass_secret_arn" {
  description = "Secret (plain text, pgpass format) of the routers: router_db_username at the directory, admin_db_username at every region's PostgreSQL. Written to <secrets_dir>/pgpass."
  type        = string
}

variable "keyring_secret_arn" {
  description = "Secret holding the region nodes' key ring (the KeyringFile contents). Written to <secrets_dir>/keyring."
  type        = string
}

variable "inter_region_secret_arn" {
  description = "Secret shared by all regions that signs forwarded RADIUS packets (InterRegionSecretFile). Written to <secrets_dir>/inter-region-secret."
  type        = string
}

variable "redis_password_secret_arn" {
  description = "Secret with the Redis password, written to <secrets_dir>/redis-password. null: none, the nodes connect without AUTH (the ElastiCache cluster created here has none; see README)."
  type        = string
  default     = null
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys encrypting the secrets above (kms:Decrypt is granted on them). Empty when the secrets use the AWS managed key."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------------------------------

variable "operator_key_sha256" {
  description = "Hex SHA-256 of the bootstrap operator key of the routers' admin API (printf %s \"$KEY\" | sha256sum). A hash, not a secret. Empty turns the admin API off."
  type        = string
  default     = ""

  validation {
    condition     = var.operator_key_sha256 == "" || can(regex("^[0-9a-f]{64}$", var.operator_key_sha256))
    error_message = "operator_key_sha256 must be 64 lower-case hex digits, or empty."
  }
}

variable "cdc" {
  description = "How the replicator gets the other regions' changes: \"pgoutput\" (straight from their PostgreSQL, shards discovered in the directory) or \"debezium\" (Debezium topics in Kafka, shards listed in kafka_shards)."
  type        = string
  default     = "pgoutput"

  validation {
    condition     = contains(["pgoutput", "debezium"], var.cdc)
    error_message = "cdc must be \"pgoutput\" or \"debezium\"."
  }
}

variable "kafka_shards" {
  description = "With cdc = \"debezium\": the shards this region stands by for, each with its tenant, home region and the Kafka bootstrap servers (TLS) its Debezium topics are in."
  type = list(object({
    tenant            = string
    home_region       = string
    bootstrap_servers = string
  }))
  default = []
}
