# The instance metadata service is never consulted for credentials or region, so nothing here can
# reach 169.254.169.254: give credentials through the environment or a shared profile.
# The test-only hook testing.aws_endpoint_url points EC2, STS, IAM and DLM at an emulator (moto)
# and skips the checks that need AWS. The account ID is still requested (from the emulator's STS):
# without it the provider cannot tell its own security groups from another account's and reports
# rule references as drift.
provider "aws" {
  region = var.region

  skip_metadata_api_check     = true
  skip_credentials_validation = local.emulator_endpoint != null
  skip_region_validation      = local.emulator_endpoint != null

  endpoints {
    ec2 = local.emulator_endpoint
    sts = local.emulator_endpoint
    iam = local.emulator_endpoint
    dlm = local.emulator_endpoint
  }
}
