# ---------------------------------------------------------------------------------------------------------
# X-Ray sampling (docs/deploy.md, "Which jobs have a trace"). A custom rule governs the services that
# consult X-Ray's sampling rules: here the reconcile state machine's executions started without a sampled
# trace header. Lambda does not consult them: an S3-invoked dispatch-tasks (no upstream header) is sampled
# at Lambda's fixed rate of 1 request a second plus 5 % of the rest, which sets how many jobs have a trace.
# ---------------------------------------------------------------------------------------------------------
resource "aws_xray_sampling_rule" "reconcile" {
  # At most 32 characters: name_prefix (<= 16) + "pixelpipe" + "-trace".
  rule_name = "${local.resource_prefix}-trace"
  # Lower numbers are evaluated first; the account's Default rule (10000) stays last.
  priority = 1000
  version  = 1
  # From pipeline.json "xray_sampling": traces recorded each second, then the fraction of the rest.
  reservoir_size = local.config.xray_sampling.reservoir_per_second
  fixed_rate     = local.config.xray_sampling.fixed_rate
  # Scoped to this stack's state machine: its segments carry its name and this origin.
  service_name = "${local.prefix}${local.config.state_machine.name}"
  service_type = "AWS::StepFunctions::StateMachine"
  # Required arguments with no meaning for a state machine: match anything.
  host         = "*"
  http_method  = "*"
  url_path     = "*"
  resource_arn = "*"
}
