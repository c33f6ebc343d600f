# Hypasis Sync on AWS: see README.md in this folder for `terraform apply` step by step.
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "hypasis-sync"
      Cluster   = var.name
      ManagedBy = "terraform"
    }
  }
}
