output "upload_bucket_name" {
  description = "Name of the upload bucket."
  value       = aws_s3_bucket.this["uploads"].bucket
}

output "upload_bucket_arn" {
  description = "ARN of the upload bucket."
  value       = aws_s3_bucket.this["uploads"].arn
}

output "thumbnail_bucket_name" {
  description = "Name of the thumbnail bucket."
  value       = aws_s3_bucket.this["thumbnails"].bucket
}

output "thumbnail_bucket_arn" {
  description = "ARN of the thumbnail bucket."
  value       = aws_s3_bucket.this["thumbnails"].arn
}
