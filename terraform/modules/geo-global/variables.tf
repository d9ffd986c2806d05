variable "name_prefix" {
  description = "Prefix of every resource name, e.g. \"geo\"."
  type        = string
  default     = "geo"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# --- The directory (witness site) --------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the witness site (the AWS provider's region: neither Geo region)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the witness VPC in at least two zones (the Multi-AZ directory)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets in different zones."
  }
}

variable "client_cidrs" {
  description = "CIDRs allowed to reach the directory on 5432: every region's private subnets (region nodes, replicators, routers), over VPC peering, plus any operator network."
  type        = list(string)

  validation {
    condition     = length(var.client_cidrs) > 0 && alltrue([for c in var.client_cidrs : can(cidrhost(c, 0))])
    error_message = "client_cidrs needs at least one valid IPv4 CIDR."
  }
}

variable "directory_database" {
  description = "Name of the directory database created in the instance."
  type        = string
  default     = "geo_directory"
}

variable "directory_engine_version" {
  description = "RDS PostgreSQL engine version of the directory (major, or major.minor)."
  type        = string
  default     = "16"
}

variable "directory_instance_class" {
  description = "RDS instance class of the directory. It holds regions, tenants, shards, NAS devices and placements: small, but every fencing transaction waits on it."
  type        = string
  default     = "db.r7g.large"
}

variable "directory_allocated_storage" {
  description = "Initial storage in GiB of the directory."
  type        = number
  default     = 100
}

variable "directory_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB of the directory (0 disables autoscaling)."
  type        = number
  default     = 500
}

variable "directory_multi_az" {
  description = "Run the directory Multi-AZ. Leave true outside tests: the directory must survive the loss of a zone of the witness site."
  type        = bool
  default     = true
}

variable "directory_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) of the directory."
  type        = number
  default     = 35
}

variable "directory_deletion_protection" {
  description = "Protect the directory from deletion."
  type        = bool
  default     = true
}

variable "directory_master_username" {
  description = "Master user of the directory. Its password is generated and kept by RDS in Secrets Manager (manage_master_user_password)."
  type        = string
  default     = "geo_master"
}

# --- The routers' DNS name -------------------------------------------------------------------------------------------

variable "route53_zone_id" {
  description = "Route 53 hosted zone of router_dns_name."
  type        = string
}

variable "router_dns_name" {
  description = "Fully qualified name tenants and operators use for the routers, e.g. \"api.geo.example.net\"."
  type        = string
}

variable "routers" {
  description = "Each region's router listener, by region id (the geo-region module's router_endpoint output). Each gets a health check on /health/ready and a latency record that is withdrawn while unhealthy."
  type = map(object({
    aws_region = string
    dns_name   = string
    zone_id    = string
    port       = number
    protocol   = string
  }))

  validation {
    condition     = length(var.routers) >= 1
    error_message = "routers needs at least one region."
  }

  validation {
    condition     = alltrue([for r in values(var.routers) : contains(["TCP", "TLS"], r.protocol)])
    error_message = "Each router protocol must be TCP or TLS."
  }

  validation {
    condition     = length(distinct([for r in values(var.routers) : "${r.protocol}:${r.port}"])) <= 1
    error_message = "Every region's router listener must use the same protocol and port (one URL for all)."
  }
}

variable "health_check_interval" {
  description = "Seconds between Route 53 health checks of each region's routers (10 or 30)."
  type        = number
  default     = 10

  validation {
    condition     = contains([10, 30], var.health_check_interval)
    error_message = "health_check_interval must be 10 or 30."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failed health checks that withdraw a region's record."
  type        = number
  default     = 3
}

