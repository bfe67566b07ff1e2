output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets the Lambdas attach to."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group of the Lambdas (HTTPS out to endpoints only)."
  value       = aws_security_group.lambda.id
}

output "interface_endpoint_ids" {
  description = "Interface endpoint IDs by service."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}
