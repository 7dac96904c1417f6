# Scheduled snapshots of the datastore's data volume (Redis AOF/RDB, Milvus) with AWS Data Lifecycle
# Manager: the policy targets the tag below, which modules/host puts on the datastore data volumes
# only, and runs as a role with the AWS managed policy for DLM.

locals {
  datastore_snapshots            = var.datastore_snapshots_enabled && var.datastore_count > 0 && try(local.profile.aws.roles.datastore.data_volume_gib, 0) > 0
  datastore_snapshot_target_tags = { SnapshotPolicy = "${var.name}-datastore" }
}

data "aws_partition" "current" {}

resource "aws_iam_role" "dlm" {
  count = local.datastore_snapshots ? 1 : 0

  name        = "${var.name}-dlm"
  description = "Lets AWS Data Lifecycle Manager snapshot the datastore volume of ragfleet deployment ${var.name}."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "dlm.amazonaws.com" }
    }]
  })

  tags = merge(local.tags, { Name = "${var.name}-dlm" })
}

resource "aws_iam_role_policy_attachment" "dlm" {
  count = local.datastore_snapshots ? 1 : 0

  role       = aws_iam_role.dlm[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
}

resource "aws_dlm_lifecycle_policy" "datastore" {
  count = local.datastore_snapshots ? 1 : 0

  description        = "${var.name} datastore volume snapshots"
  execution_role_arn = aws_iam_role.dlm[0].arn
  state              = "ENABLED"

  policy_details {
    policy_type    = "EBS_SNAPSHOT_MANAGEMENT"
    resource_types = ["VOLUME"]
    target_tags    = local.datastore_snapshot_target_tags

    schedule {
      name      = "every ${var.datastore_snapshot_interval_hours}h, keep ${var.datastore_snapshot_retain_count}"
      copy_tags = true

      create_rule {
        interval      = var.datastore_snapshot_interval_hours
        interval_unit = "HOURS"
        times         = ["03:00"]
      }

      retain_rule {
        count = var.datastore_snapshot_retain_count
      }

      tags_to_add = {
        SnapshotCreator = "dlm"
      }
    }
  }

  tags = merge(local.tags, { Name = "${var.name}-datastore-snapshots" })

  depends_on = [aws_iam_role_policy_attachment.dlm]
}
