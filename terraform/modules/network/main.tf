# Pinned by zone id, so the subnets never move when AWS adds a zone.
data "aws_availability_zones" "selected" {
  filter {
    name   = "zone-id"
    values = var.availability_zone_ids
  }
}

data "aws_region" "current" {}

locals {
  azs = data.aws_availability_zones.selected.names

  # Interface endpoints for every AWS API the functions call (no NAT gateway: no internet route at all).
  interface_services = toset(var.interface_endpoint_services)
  gateway_services   = toset(["s3", "dynamodb"])
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs are left to the account's central network logging; the VPC has no internet route, only AWS endpoints.
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

# Lock the default security group down: nothing uses it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index)

  tags = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-private" }
}

resource "aws_route_table_association" "private" {
  count = length(aws_subnet.private)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

resource "aws_vpc_endpoint" "gateway" {
  for_each = local.gateway_services

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  tags = { Name = "${var.name}-${each.key}" }
}

resource "aws_security_group" "lambda" {
  name        = "${var.name}-lambda"
  description = "Pixel-Pipe Lambdas: HTTPS out to VPC endpoints only"
  vpc_id      = aws_vpc.this.id

  egress {
    description = "HTTPS to interface endpoints in the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.cidr_block]
  }

  egress {
    description     = "HTTPS to S3 and DynamoDB through the gateway endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [for endpoint in aws_vpc_endpoint.gateway : endpoint.prefix_list_id]
  }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Pixel-Pipe interface endpoints: HTTPS in from the Lambdas"
  vpc_id      = aws_vpc.this.id

  ingress {
    description     = "HTTPS from the Lambdas"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.lambda.id]
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_services

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = { Name = "${var.name}-${each.key}" }
}
