terraform {
  required_version = "~> 1.11"

  # Local state; `ragfleet provision` gives each deployment its own file with
  # -backend-config=path=... so several deployments share this configuration.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}
