# The same 25-resource setup as bench/program, written as Terraform for checkov (benchmark input only).
provider "aws" {
  region = "us-east-1"
}

locals {
  kinds = ["site-id", "track-api-key", "app-api-key"]
  signals = {
    api_error_rate     = ["GreaterThanThreshold", 0.01]
    api_p99_latency_ms = ["GreaterThanThreshold", 5000]
    bounce_rate        = ["GreaterThanThreshold", 0.05]
    complaint_rate     = ["GreaterThanThreshold", 0.001]
    delivery_rate      = ["LessThanThreshold", 0.95]
    queue_depth        = ["GreaterThanThreshold", 10000]
    webhook_error_rate = ["GreaterThanThreshold", 0.05]
  }
  dkim = "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuS51e5dQO3mv1zUD9sADUv7iYiHBm3mqSMQ9vllR/CwRHeXTEPSJ+s4D1bN3nlRGcJARYXFpevqyA6jW+dZZbZ8WFv4nocr6za0HzSHN4UTS4jJTm8dFK3NyoFTtxy7W+kMHY3DqJ6DhLjdcQXkCTxDFm9G5MBaD/Qa3+U7OATv9xSlonOcKwHNyp5rYDTc6LPCe+Ff5nWjZ+aEoOqgd7BduOYsFoMHbX3Du2eyI2QWi2a0yCQWkDZCm9DtYDgMwvjcx5JtKTrC7U7xhgHmwUoOeAyL/6/3Ur3hI3WbHb06konNq/Lv2CqHEOwLXgPy+AmuKt1Ses06le5K52nTUHwIDAQAB"
}

resource "aws_kms_key" "cio" {
  enable_key_rotation = true
}

resource "aws_iam_role" "rotation" {
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_lambda_function" "rotation" {
  function_name = "customerio-rotation"
  runtime       = "python3.12"
  handler       = "handler.handler"
  role          = aws_iam_role.rotation.arn
  filename      = "rotation.zip"
}

resource "aws_lambda_permission" "rotation" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.rotation.function_name
  principal     = "secretsmanager.amazonaws.com"
}

resource "aws_secretsmanager_secret" "cio" {
  for_each   = toset(local.kinds)
  name       = "customerio/production/${each.key}"
  kms_key_id = aws_kms_key.cio.arn
  tags       = { "customerio:credential" = each.key, "customerio:region" = "us" }
}

resource "aws_secretsmanager_secret_rotation" "cio" {
  for_each            = toset(local.kinds)
  secret_id           = aws_secretsmanager_secret.cio[each.key].id
  rotation_lambda_arn = aws_lambda_function.rotation.arn
  rotation_rules {
    automatically_after_days = 90
  }
}

resource "aws_sns_topic" "alerts" {
  name = "customerio-alerts"
}

resource "aws_sns_topic_subscription" "oncall" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = "oncall@example.com"
}

resource "aws_cloudwatch_metric_alarm" "signal" {
  for_each            = local.signals
  alarm_name          = each.key
  comparison_operator = each.value[0]
  threshold           = each.value[1]
  evaluation_periods  = 2
  namespace           = "Customer.io/Integration"
  metric_name         = each.key
  statistic           = contains(["api_p99_latency_ms", "queue_depth"], each.key) ? "Maximum" : "Average"
  period              = 300
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = { "customerio:signal" = each.key }
}

resource "aws_route53_record" "mx" {
  zone_id = "Z0123456789EXAMPLE"
  name    = "cio12345.example.com"
  type    = "MX"
  ttl     = 300
  records = ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]
}

resource "aws_route53_record" "spf" {
  zone_id = "Z0123456789EXAMPLE"
  name    = "cio12345.example.com"
  type    = "TXT"
  ttl     = 300
  records = ["v=spf1 include:mailgun.org ~all"]
}

resource "aws_route53_record" "dkim" {
  zone_id = "Z0123456789EXAMPLE"
  name    = "krs._domainkey.cio12345.example.com"
  type    = "TXT"
  ttl     = 300
  records = ["${substr(local.dkim, 0, 255)}\"\"${substr(local.dkim, 255, -1)}"]
}

resource "aws_route53_record" "dmarc" {
  zone_id = "Z0123456789EXAMPLE"
  name    = "_dmarc.example.com"
  type    = "TXT"
  ttl     = 300
  records = ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"]
}

resource "aws_route53_record" "links" {
  zone_id = "Z0123456789EXAMPLE"
  name    = "links.example.com"
  type    = "CNAME"
  ttl     = 300
  records = ["e.customeriomail.com"]
}

resource "aws_ssm_parameter" "rollout" {
  name  = "/customerio/production/rollout"
  type  = "String"
  value = "0"
  tags  = { "customerio:rollout-flag" = "true" }
  lifecycle {
    ignore_changes = [value]
  }
}
