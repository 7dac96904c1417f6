"""Provisioning: Terraform in terraform/ through python-terraform, and the inventory it yields."""
