# Three AWS regions: the two Geo regions (data centers) and the witness site of the directory.

provider "aws" {
  alias  = "a"
  region = var.region_a.aws_region

  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "b"
  region = var.region_b.aws_region

  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "witness"
  region = var.witness_aws_region

  default_tags {
    tags = local.tags
  }
}
