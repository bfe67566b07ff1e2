"""The deploy path cannot be used to escalate: terraform/bootstrap's roles, read from their policy documents.

Each test asks the IAM evaluator in iam_policy.py what a role may do, for every role the bootstrap
creates (found by scanning it, not by name), so a new role is held to the same promises. Each promise
is also shown to be reachable the legitimate way (e.g. creating a role *with* the boundary is allowed),
so a test cannot pass because a policy allows nothing. These tests fail on the single `deploy` role the
bootstrap had before issue 9 (iam:* on role/pixelpipe-*, pull requests trusted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pytest
from iam_policy import ALLOW, DENY, Statement, decide, document
from tf_model import (
    TERRAFORM,
    Scope,
    arn_of,
    child,
    evaluate,
    expression,
    load_module,
    parse_file,
    root,
)

from pixelpipe.config import settings, workers

BOOTSTRAP = TERRAFORM / "bootstrap"
OWNER_REPO = "example-owner/pixel-pipe"
SUB = "token.actions.githubusercontent.com:sub"
DEPLOY_WORKFLOW = f"{OWNER_REPO}/.github/workflows/deploy.yml"


def subject(context: str, workflow_ref: str) -> dict[str, str]:
    """A GitHub OIDC `sub` under the repository's customised template (repo, context, job_workflow_ref)."""
    return {SUB: f"repo:{OWNER_REPO}:{context}:job_workflow_ref:{workflow_ref}"}


PULL_REQUEST = subject("pull_request", f"{DEPLOY_WORKFLOW}@refs/pull/17/merge")
PRODUCTION = subject("environment:production", f"{DEPLOY_WORKFLOW}@refs/heads/main")
# Tokens that must never assume the role that applies: a pull request (in any environment it names, under
# the default or the customised template), another branch, another workflow, another repository.
NOT_PRODUCTION_FROM_MAIN = {
    "pull request (default subject)": {SUB: f"repo:{OWNER_REPO}:pull_request"},
    "pull request": PULL_REQUEST,
    "pull request naming the production environment (default subject)": {
        SUB: f"repo:{OWNER_REPO}:environment:production"
    },
    "pull request naming the production environment": subject(
        "environment:production", f"{DEPLOY_WORKFLOW}@refs/pull/17/merge"
    ),
    "feature branch in the production environment": subject(
        "environment:production", f"{DEPLOY_WORKFLOW}@refs/heads/feature"
    ),
    "another workflow on main in the production environment": subject(
        "environment:production", f"{OWNER_REPO}/.github/workflows/ci.yml@refs/heads/main"
    ),
    "main outside the environment": subject("ref:refs/heads/main", f"{DEPLOY_WORKFLOW}@refs/heads/main"),
    "a staging environment": subject("environment:staging", f"{DEPLOY_WORKFLOW}@refs/heads/main"),
    "a fork": {
        SUB: "repo:someone-else/pixel-pipe:environment:production:job_workflow_ref:"
        "someone-else/pixel-pipe/.github/workflows/deploy.yml@refs/heads/main"
    },
}
AUDIENCE = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
# Calls that change what a role may do or who may assume it.
ROLE_CHANGES = [
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRole",
    "iam:PassRole",
]
POLICY_CHANGES = [
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:DeletePolicy",
]


@dataclass
class Role:
    name: str
    arn: str
    trust: list[Statement]
    policy: list[Statement]


def bootstrap_scope(enable_vpc: bool = False) -> Scope:
    arguments = {"github_owner": "example-owner", "github_repo": "pixel-pipe", "enable_vpc": enable_vpc}
    return Scope(load_module(BOOTSTRAP), arguments=arguments)


def _document_name(reference: str) -> str:
    match = re.fullmatch(r"data\.aws_iam_policy_document\.(\w+)\.json", expression(reference))
    assert match, reference
    return match.group(1)


def bootstrap_roles(enable_vpc: bool = False) -> dict[str, Role]:
    module, scope = load_module(BOOTSTRAP), bootstrap_scope(enable_vpc)
    roles = {}
    for key, body in module.resources_of("aws_iam_role").items():
        arn = arn_of(evaluate(f"${{aws_iam_role.{key}.arn}}", scope))
        policy: list[Statement] = []
        for attached in module.resources_of("aws_iam_role_policy").values():
            if expression(attached["role"]) == f"aws_iam_role.{key}.id":
                policy += document(module, _document_name(attached["policy"]), scope)
        assert not module.resources_of("aws_iam_role_policy_attachment"), "model managed-policy attachments"
        trust = document(module, _document_name(body["assume_role_policy"]), scope)
        roles[key] = Role(key, arn, trust, policy)
    assert roles, "the bootstrap creates no role"
    return roles


def role_arn(name: str) -> str:
    return evaluate(f"${{local.arn}}:iam::${{local.account_id}}:role/{name}", bootstrap_scope())


def boundary_arn() -> str:
    module = load_module(BOOTSTRAP)
    policies = module.resources_of("aws_iam_policy")
    assert "boundary" in policies, "the bootstrap makes no permissions boundary policy"
    return arn_of(evaluate("${aws_iam_policy.boundary.arn}", bootstrap_scope()))


def stack_default_tags() -> dict[str, str]:
    """The tags the main stack's provider puts on every resource it creates (terraform/versions.tf)."""
    provider = parse_file(TERRAFORM / "versions.tf")["provider"][0]["aws"]
    return evaluate(provider["default_tags"][0]["tags"], Scope(root()))


def project_tag(kind: str) -> dict[str, str]:
    """The stack's `Project` tag as `kind` (aws:RequestTag or aws:ResourceTag) in a request's context."""
    return {f"{kind}/Project": stack_default_tags()["Project"]}


def assumable_by(role: Role, token: dict[str, str]) -> bool:
    return decide(role.trust, "sts:AssumeRoleWithWebIdentity", "*", {**AUDIENCE, **token}) == ALLOW


def can_write(role: Role) -> bool:
    """Whether any allow statement grants something other than reading (the state lock file aside)."""
    for statement in role.policy:
        if statement.effect != ALLOW:
            continue
        for action in statement.actions:
            verb = action.split(":", 1)[1]
            if (
                verb.startswith(("Get", "List", "Describe", "Head"))
                or action == "states:ValidateStateMachineDefinition"
            ):
                continue
            if action in ("s3:PutObject", "s3:DeleteObject") and all(
                r.endswith(".tflock") for r in statement.resources
            ):
                continue
            return True
    return False


@pytest.fixture(scope="module")
def roles() -> dict[str, Role]:
    return bootstrap_roles()


def test_pull_requests_never_reach_a_role_that_can_change_anything(roles):
    for role in roles.values():
        if assumable_by(role, PULL_REQUEST):
            assert not can_write(role), f"{role.name}: pull requests assume it and it can write"
    assert any(assumable_by(r, PULL_REQUEST) for r in roles.values()), "no role for terraform plan on PRs"


def test_only_the_production_environment_assumes_the_role_that_applies(roles):
    writers = [role for role in roles.values() if can_write(role)]
    assert writers, "no role can apply"
    for role in writers:
        assert assumable_by(role, PRODUCTION), role.name
        for who, token in NOT_PRODUCTION_FROM_MAIN.items():
            assert not assumable_by(role, token), (role.name, who)


def test_a_pull_requests_token_assumes_no_role_but_the_read_only_one(roles):
    """Whatever a pull request's workflow declares (the production environment included), its token's
    subject names refs/pull/<n>/merge: only the plan role, which writes nothing, accepts it."""
    pull_request_tokens = [t for who, t in NOT_PRODUCTION_FROM_MAIN.items() if who.startswith("pull request")]
    for role in roles.values():
        if any(assumable_by(role, token) for token in pull_request_tokens):
            assert not can_write(role), role.name
    assert assumable_by(roles["plan"], PULL_REQUEST)
    assert not assumable_by(roles["apply"], PULL_REQUEST)


def test_no_role_can_change_its_own_or_another_deploy_roles_policies_or_trust(roles):
    def assert_unchangeable(context: dict[str, str]) -> None:
        for role in roles.values():
            for target in roles.values():
                for action in ROLE_CHANGES:
                    assert decide(role.policy, action, target.arn, context) != ALLOW, (
                        role.name,
                        action,
                        target.name,
                    )

    assert_unchangeable({})
    # Even a request that names the boundary (the deploy roles carry none) changes nothing.
    assert_unchangeable({"iam:PermissionsBoundary": boundary_arn()})


def test_no_role_can_create_or_reshape_a_role_without_the_boundary(roles):
    new_role = role_arn(f"{settings().project}-resize-worker")
    without = [{}, {"iam:PermissionsBoundary": role_arn("x").replace(":role/x", ":policy/another-boundary")}]
    for role in roles.values():
        for action in (
            "iam:CreateRole",
            "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
        ):
            for context in without:
                assert decide(role.policy, action, new_role, context) != ALLOW, (role.name, action, context)
    # The legitimate way works: the apply role creates the stack's roles with the boundary.
    with_boundary = {"iam:PermissionsBoundary": boundary_arn(), **project_tag("aws:RequestTag")}
    assert any(decide(r.policy, "iam:CreateRole", new_role, with_boundary) == ALLOW for r in roles.values())


def test_no_role_can_remove_the_boundary_or_edit_the_boundary_policy(roles):
    stack_role = role_arn(f"{settings().project}-resize-worker")
    for role in roles.values():
        assert decide(role.policy, "iam:DeleteRolePermissionsBoundary", stack_role) == DENY, role.name
        for action in POLICY_CHANGES:
            assert decide(role.policy, action, boundary_arn()) != ALLOW, (role.name, action)


def test_pass_role_is_always_conditioned_on_the_receiving_service(roles):
    stack_role = role_arn(f"{settings().project}-resize-worker")
    for role in roles.values():
        for statement in role.policy:
            if statement.effect == ALLOW and statement.covers_action("iam:PassRole"):
                variables = {c.variable for c in statement.conditions}
                assert "iam:PassedToService" in variables, (role.name, statement.sid)
        assert (
            decide(role.policy, "iam:PassRole", stack_role, {"iam:PassedToService": "ec2.amazonaws.com"})
            != ALLOW
        )
        assert decide(role.policy, "iam:PassRole", stack_role) != ALLOW
    lambda_service = {"iam:PassedToService": "lambda.amazonaws.com", **project_tag("aws:ResourceTag")}
    assert any(decide(r.policy, "iam:PassRole", stack_role, lambda_service) == ALLOW for r in roles.values())


def stack_queue_names() -> list[str]:
    """Every queue name pipeline.json defines: workers' queue and dlq, functions' failure_queue, the
    job-finished events' example queue and its DLQ."""
    queues = [name for w in workers().values() for name in (w.queue, w.dlq)]
    events = settings().events
    return [*queues, settings().dispatch.failure_queue, events.example_queue, events.example_dlq]


def test_the_applying_role_manages_every_queue_the_stack_creates(roles):
    appliers = [role for role in roles.values() if can_write(role)]
    prefix = evaluate("${local.arn}:sqs:${local.region}:${local.account_id}:", bootstrap_scope())
    for name in stack_queue_names():
        arn = prefix + name
        for action in (
            "sqs:CreateQueue",
            "sqs:SetQueueAttributes",
            "sqs:DeleteQueue",
            "sqs:GetQueueAttributes",
        ):
            assert any(decide(r.policy, action, arn) == ALLOW for r in appliers), (name, action)


def test_deploy_policies_grant_no_service_wide_wildcards(roles):
    for role in roles.values():
        for statement in role.policy:
            if statement.effect == ALLOW:
                wide = [a for a in statement.actions if a.endswith(":*") or a == "*"]
                assert not wide, (role.name, statement.sid, wide)


def test_every_role_of_the_stack_carries_the_bootstraps_boundary():
    local = evaluate(root().locals["permissions_boundary_arn"], Scope(root()))
    assert local == boundary_arn()
    for path in sorted(TERRAFORM.rglob("*.tf")):
        if BOOTSTRAP in path.parents:
            continue
        module = load_module(path.parent)
        for name, body in module.resources_of("aws_iam_role").items():
            assert expression(body.get("permissions_boundary", "")) == "var.permissions_boundary_arn", (
                path,
                name,
            )


def test_every_grant_of_the_stacks_roles_fits_inside_the_boundary():
    """A grant outside the boundary would deploy but fail at run time: hold the two together, resource by
    resource, for every function, the state machine and the sweeper's schedule."""
    from test_least_privilege import function_policies, state_machine_policy

    boundary = document(load_module(BOOTSTRAP), "boundary", bootstrap_scope())
    sweeper = Scope(root()).call("sweeper", child("sweeper"))
    policies = {
        **function_policies(),
        "reconcile": state_machine_policy(),
        "schedule": document(child("sweeper"), "scheduler", sweeper),
    }
    for owner, statements in policies.items():
        for statement in statements:
            for action in statement.actions:
                for resource in statement.resources:
                    assert decide(boundary, action, resource) == ALLOW, (owner, action, resource)


def test_the_trust_of_every_deploy_role_names_one_subject_of_the_deploy_workflow(roles):
    """The role that writes trusts one exact subject; the read-only plan role's one wildcard is the pull
    request number in refs/pull/<n>/merge."""
    for role in roles.values():
        subjects = [c for s in role.trust for c in s.conditions if c.variable == SUB]
        assert len(subjects) == 1 and len(subjects[0].values) == 1, role.name
        (value,) = subjects[0].values
        assert f":job_workflow_ref:{DEPLOY_WORKFLOW}@refs/" in value, (role.name, value)
        if can_write(role):
            assert subjects[0].test == "StringEquals" and "*" not in value, role.name
        else:
            assert subjects[0].test in ("StringEquals", "StringLike"), role.name
            assert value.replace("@refs/pull/*/merge", "").count("*") == 0, (role.name, value)
            assert "?" not in value, (role.name, value)


# ---------------------------------------------------------------------------------------------------------
# Issue 17: the apply role manages only the roles it created, writes trust only on them, and touches no
# network but the project's. Each test below fails on the bootstrap before it (role/<project>-* without
# conditions, EC2 writes limited only by region, a subject with no branch or workflow).
# ---------------------------------------------------------------------------------------------------------
# Every call that changes a role, reads nothing: policies, trust, boundary, deletion, tags, passing it.
EVERY_ROLE_CHANGE = [
    *ROLE_CHANGES,
    "iam:CreateRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:TagRole",
    "iam:UntagRole",
]
# Everything a request could carry to look legitimate: the boundary, the project tag, a pipeline service.
EVERY_CONDITION_MET = {
    "iam:PermissionsBoundary": "<boundary>",
    "iam:PassedToService": "lambda.amazonaws.com",
    "iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess",
}


def stack_role_names() -> list[str]:
    """The name of every aws_iam_role the main stack creates, read from the module calls in terraform/
    (each `*role_name` argument, per for_each key), not from the bootstrap."""
    top = root()
    names = []
    for arguments in top.modules.values():
        keys = list(evaluate(arguments["for_each"], Scope(top))) if "for_each" in arguments else [None]
        for key in keys:
            scope = Scope(top).with_each(arguments["for_each"], key) if key is not None else Scope(top)
            names += [evaluate(v, scope) for k, v in arguments.items() if k.endswith("role_name")]
    return names


def everything_met(context_tag: str) -> dict[str, str]:
    return {**EVERY_CONDITION_MET, "iam:PermissionsBoundary": boundary_arn(), **project_tag(context_tag)}


def test_the_bootstrap_names_exactly_the_roles_the_stack_creates():
    listed = evaluate("${local.stack_role_names}", bootstrap_scope())
    assert sorted(listed) == sorted(stack_role_names())
    assert len(set(listed)) == len(listed) and len(listed) > 2


def test_the_project_tag_is_the_one_the_stack_puts_on_everything():
    scope = bootstrap_scope()
    key, value = evaluate("${local.project_tag_key}", scope), evaluate("${local.project_tag_value}", scope)
    assert stack_default_tags()[key] == value


def test_no_role_can_change_a_role_the_stack_does_not_create(roles):
    # GIVEN roles under the project's prefix that the stack does not create (someone else's, made earlier)
    project = settings().project
    others = [
        role_arn(f"{project}-admin"),
        role_arn(f"{project}-ci"),
        role_arn(f"{project}-resize-worker-old"),
    ]
    for role in roles.values():
        for target in others:
            for action in EVERY_ROLE_CHANGE:
                # WHEN the request meets every condition a policy could ask for
                for context in (everything_met("aws:ResourceTag"), everything_met("aws:RequestTag"), {}):
                    # THEN it is still refused
                    assert decide(role.policy, action, target, context) != ALLOW, (role.name, action, target)


def test_a_stack_role_name_without_the_project_tag_cannot_be_reshaped(roles):
    """A role someone else created under one of the stack's exact names carries neither the boundary nor
    the tag: its trust, tags, deletion and PassRole stay out of reach; the stack's own role is managed."""
    target = role_arn(stack_role_names()[0])
    untagged = {**EVERY_CONDITION_MET, "iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/other"}
    for role in roles.values():
        for action in EVERY_ROLE_CHANGE:
            assert decide(role.policy, action, target, untagged) != ALLOW, (role.name, action)
    tagged = everything_met("aws:ResourceTag")
    for action in (
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:PassRole",
        "iam:PutRolePolicy",
    ):
        assert decide(roles["apply"].policy, action, target, tagged) == ALLOW, action


def test_trust_policies_can_be_written_only_on_the_stacks_own_roles(roles):
    """IAM has no condition key on the trust policy document CreateRole or UpdateAssumeRolePolicy writes
    (AWS re:Post: no condition key or resource restriction supports it), so the principals a trust names
    cannot be held to the pipeline's services by policy. What IAM can express: the calls that write a
    trust reach only the stack's roles, by exact name, created with the boundary and the tag, so whoever
    such a trust names gets at most the boundary — the pipeline's data-plane calls."""
    stack_arns = {role_arn(name) for name in stack_role_names()}
    for role in roles.values():
        for statement in role.policy:
            if statement.effect != ALLOW:
                continue
            for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy"):
                if not statement.covers_action(action):
                    continue
                assert set(statement.resources) <= stack_arns, (role.name, statement.sid, statement.resources)
                variables = {c.variable for c in statement.conditions}
                required = (
                    "iam:PermissionsBoundary" if action == "iam:CreateRole" else "aws:ResourceTag/Project"
                )
                assert required in variables, (role.name, statement.sid, action)


# EC2 calls that change a network: what the optional VPC uses, and what another workload's VPC would suffer.
EC2_WRITES = [
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSubnet",
    "ec2:DeleteSubnet",
    "ec2:CreateRouteTable",
    "ec2:DeleteRouteTable",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcEndpoint",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:AttachInternetGateway",
    "ec2:CreateVpcPeeringConnection",
]
ANOTHER_WORKLOADS_SG = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0"


@pytest.mark.parametrize("enable_vpc", [False, True], ids=["without-vpc", "with-vpc"])
def test_no_ec2_write_reaches_a_resource_without_the_project_tag(enable_vpc):
    region = {"aws:RequestedRegion": evaluate("${local.region}", bootstrap_scope())}
    for role in bootstrap_roles(enable_vpc).values():
        for action in EC2_WRITES:
            for context in (region, {**region, "aws:ResourceTag/Project": "another-workload"}):
                assert decide(role.policy, action, ANOTHER_WORKLOADS_SG, context) != ALLOW, (
                    role.name,
                    action,
                )
            if not enable_vpc:
                # Without the VPC, no EC2 write at all, the project's tag or not.
                for tag in ("aws:ResourceTag", "aws:RequestTag"):
                    context = {**region, **project_tag(tag)}
                    assert decide(role.policy, action, ANOTHER_WORKLOADS_SG, context) != ALLOW, (
                        role.name,
                        action,
                    )


def test_with_the_vpc_the_apply_role_manages_the_projects_tagged_network():
    apply = bootstrap_roles(enable_vpc=True)["apply"]
    region = {"aws:RequestedRegion": evaluate("${local.region}", bootstrap_scope())}
    assert decide(apply.policy, "ec2:CreateVpc", "*", {**region, **project_tag("aws:RequestTag")}) == ALLOW
    assert decide(apply.policy, "ec2:CreateVpc", "*", region) != ALLOW
    ours = {**region, **project_tag("aws:ResourceTag")}
    for action in ("ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteVpc", "ec2:ModifyVpcEndpoint"):
        assert decide(apply.policy, action, ANOTHER_WORKLOADS_SG, ours) == ALLOW, action
    for action in ("ec2:CreateRoute", "ec2:AttachInternetGateway", "ec2:CreateVpcPeeringConnection"):
        assert decide(apply.policy, action, ANOTHER_WORKLOADS_SG, ours) != ALLOW, action
    # Tags only at creation, or on what is already the project's.
    assert decide(apply.policy, "ec2:CreateTags", "*", {"ec2:CreateAction": "CreateSecurityGroup"}) == ALLOW
    assert (
        decide(
            apply.policy, "ec2:CreateTags", ANOTHER_WORKLOADS_SG, {**region, **project_tag("aws:RequestTag")}
        )
        != ALLOW
    )


def test_the_plan_role_reads_the_state_and_nothing_of_the_stack(roles):
    """Pull requests plan with -refresh=false -lock=false: no listing of the upload bucket (its keys are
    uploaders' file names), no state lock to hold, no describe calls."""
    plan = roles["plan"]
    scope = bootstrap_scope()
    for bucket in evaluate("${local.bucket_arns}", scope):
        assert decide(plan.policy, "s3:ListBucket", bucket) != ALLOW, bucket
        assert decide(plan.policy, "s3:GetObject", f"{bucket}/uploads/holiday.jpg") != ALLOW, bucket
    state = arn_of(evaluate("${aws_s3_bucket.state.arn}", scope))
    key = evaluate("${local.state_key}", scope)
    assert decide(plan.policy, "s3:GetObject", f"{state}/{key}") == ALLOW
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert decide(plan.policy, action, f"{state}/{key}.tflock") != ALLOW, action
    assert decide(plan.policy, "lambda:GetFunction", "*") != ALLOW


# ---------------------------------------------------------------------------------------------------------
# What the stack gained in issues 16, 17 and 19 (the X-Ray sampling rule, the HTTP API, the job-finished
# events): the apply role manages exactly the stack's own, read from the main stack's resources, and
# another project's rule, API, bus or rule in the same account stays out of reach. Each fails on the
# bootstrap before them (no xray, apigateway or events action at all).
# ---------------------------------------------------------------------------------------------------------
def in_bootstrap(template: str) -> str:
    """`template` with the bootstrap's partition, region and account (symbolic, as the stack's are)."""
    return evaluate(template, bootstrap_scope())


def stack_resource_name(kind: str, name: str, argument: str = "name") -> str:
    """A resource's name as the main stack gives it (its own name argument, evaluated)."""
    body = root().resources_of(kind)[name]
    return evaluate(body[argument], Scope(root()))


def sampling_rule_arn(name: str) -> str:
    return in_bootstrap("${local.arn}:xray:${local.region}:${local.account_id}:sampling-rule/") + name


def test_the_apply_role_manages_the_stacks_sampling_rule_and_no_other(roles):
    apply = roles["apply"]
    ours = sampling_rule_arn(stack_resource_name("aws_xray_sampling_rule", "reconcile", "rule_name"))
    writes = [
        "xray:CreateSamplingRule",
        "xray:UpdateSamplingRule",
        "xray:DeleteSamplingRule",
        "xray:TagResource",
    ]
    for action in [*writes, "xray:UntagResource", "xray:ListTagsForResource"]:
        assert decide(apply.policy, action, ours) == ALLOW, action
    # the provider finds its rule in GetSamplingRules' list (no resource-level permission)
    assert decide(apply.policy, "xray:GetSamplingRules", "*") == ALLOW
    for other in (sampling_rule_arn("Default"), sampling_rule_arn("another-project-trace")):
        for action in writes:
            assert decide(apply.policy, action, other) != ALLOW, (action, other)


def event_bus_arn(bus: str) -> str:
    return in_bootstrap("${local.arn}:events:${local.region}:${local.account_id}:event-bus/") + bus


def event_rule_arn(bus: str | None, rule: str) -> str:
    """A rule's ARN: rule/<bus>/<rule> on a custom bus, rule/<rule> on the default one."""
    path = f"{bus}/{rule}" if bus else rule
    return in_bootstrap("${local.arn}:events:${local.region}:${local.account_id}:rule/") + path


BUS_WRITES = ["events:CreateEventBus", "events:DeleteEventBus", "events:UpdateEventBus", "events:TagResource"]
RULE_WRITES = [
    "events:PutRule",
    "events:DeleteRule",
    "events:EnableRule",
    "events:DisableRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:TagResource",
    "events:UntagResource",
]
EVENT_READS = ["events:DescribeEventBus", "events:ListTagsForResource"]


def test_the_apply_role_manages_the_stacks_bus_and_rule_and_no_others(roles):
    apply = roles["apply"]
    bus = stack_resource_name("aws_cloudwatch_event_bus", "jobs")
    rule = stack_resource_name("aws_cloudwatch_event_rule", "job_finished")
    ours_bus, ours_rule = event_bus_arn(bus), event_rule_arn(bus, rule)
    for action in [*BUS_WRITES, *EVENT_READS]:
        assert decide(apply.policy, action, ours_bus) == ALLOW, action
    for action in [
        *RULE_WRITES,
        "events:DescribeRule",
        "events:ListTargetsByRule",
        "events:ListTagsForResource",
    ]:
        assert decide(apply.policy, action, ours_rule) == ALLOW, action
    # another project's bus, the account's default bus, a rule of ours' name elsewhere, another rule on ours
    for other in (event_bus_arn("default"), event_bus_arn("another-project-events")):
        for action in BUS_WRITES:
            assert decide(apply.policy, action, other) != ALLOW, (action, other)
    others = (
        event_rule_arn(None, rule),
        event_rule_arn("another-bus", rule),
        event_rule_arn(bus, "another-rule"),
    )
    for other in others:
        for action in RULE_WRITES:
            assert decide(apply.policy, action, other) != ALLOW, (action, other)
    # and the bus is the one the reconcile role puts on, the only one the boundary lets it put on
    boundary = document(load_module(BOOTSTRAP), "boundary", bootstrap_scope())
    assert decide(boundary, "events:PutEvents", ours_bus) == ALLOW
    assert decide(boundary, "events:PutEvents", event_bus_arn("default")) != ALLOW


def test_the_boundary_lets_no_stack_role_use_the_event_queues():
    """Only EventBridge sends to the example queue and its DLQ (their queue policies): the boundary,
    the most any stack role may do, keeps to the pipeline's own queues."""
    boundary = document(load_module(BOOTSTRAP), "boundary", bootstrap_scope())
    prefix = in_bootstrap("${local.arn}:sqs:${local.region}:${local.account_id}:")
    events = settings().events
    for name in (events.example_queue, events.example_dlq):
        for action in ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"):
            assert decide(boundary, action, prefix + name) != ALLOW, (name, action)


def api_arn(path: str) -> str:
    return in_bootstrap("${local.arn}:apigateway:${local.region}::") + path


API_VERBS = ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]


def test_the_apply_role_creates_an_api_only_with_the_project_tag_and_changes_only_the_projects(roles):
    apply = roles["apply"]
    assert decide(apply.policy, "apigateway:POST", api_arn("/apis"), project_tag("aws:RequestTag")) == ALLOW
    for context in ({}, {"aws:RequestTag/Project": "another-project"}):
        assert decide(apply.policy, "apigateway:POST", api_arn("/apis"), context) != ALLOW, context
    # the API, its routes, integrations, authorizer and stage, and its tags: only where the tag is
    ours = project_tag("aws:ResourceTag")
    paths = (
        "/apis/a1b2c3d4e5",
        "/apis/a1b2c3d4e5/routes/r1s2t3",
        "/apis/a1b2c3d4e5/integrations/i1n2t3",
        "/apis/a1b2c3d4e5/stages/$default",
        "/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Fapis%2Fa1b2c3d4e5",
    )
    for path in paths:
        for action in API_VERBS:
            assert decide(apply.policy, action, api_arn(path), ours) == ALLOW, (action, path)
            for context in ({}, {"aws:ResourceTag/Project": "another-project"}):
                assert decide(apply.policy, action, api_arn(path), context) != ALLOW, (action, path, context)
    # REST APIs, custom domains and the account's API Gateway settings are not the stack's
    for path in ("/restapis/abc", "/domainnames/example.com", "/account"):
        assert decide(apply.policy, "apigateway:PATCH", api_arn(path), ours) != ALLOW, path


def test_the_apply_role_manages_the_apis_access_log_group_and_its_log_delivery(roles):
    apply = roles["apply"]
    group = stack_resource_name("aws_cloudwatch_log_group", "api_access")
    log_group = in_bootstrap("${local.arn}:logs:${local.region}:${local.account_id}:log-group:") + group
    for action in (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:TagResource",
        "logs:ListTagsForResource",
    ):
        assert decide(apply.policy, action, log_group) == ALLOW, action
        other = log_group.replace(group, "/aws/apigateway/another-project-api")
        assert decide(apply.policy, action, other) != ALLOW, action
    # API Gateway's "Permissions to activate logging" for an HTTP API stage: no resource-level permission
    for action in (
        "logs:CreateLogDelivery",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
    ):
        assert decide(apply.policy, action, "*") == ALLOW, action
    # the front door's Lambda permission is read back
    api_function = evaluate("${module.api.function_name}", Scope(root()))
    function = (
        in_bootstrap("${local.arn}:lambda:${local.region}:${local.account_id}:function:") + api_function
    )
    assert decide(apply.policy, "lambda:GetPolicy", function) == ALLOW
    assert decide(apply.policy, "lambda:AddPermission", function) == ALLOW


def test_the_plan_role_reads_nothing_of_the_new_resources(roles):
    plan = roles["plan"]
    bus = stack_resource_name("aws_cloudwatch_event_bus", "jobs")
    assert decide(plan.policy, "events:DescribeEventBus", event_bus_arn(bus)) != ALLOW
    assert (
        decide(plan.policy, "apigateway:GET", api_arn("/apis/a1b2c3d4e5"), project_tag("aws:ResourceTag"))
        != ALLOW
    )
    assert decide(plan.policy, "xray:GetSamplingRules", "*") != ALLOW


# ---------------------------------------------------------------------------------------------------------
# The viewer and operator policies are the administrator's (terraform/bootstrap/operator_access.tf): no
# permissions boundary applies to people, so CI must never write, create or attach a managed policy.
# ---------------------------------------------------------------------------------------------------------
POLICY_WRITES = [
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
]
ATTACHES = ["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"]


def peoples_policy_arns() -> list[str]:
    module = load_module(BOOTSTRAP)
    assert {"viewer", "operator"} <= set(module.resources_of("aws_iam_policy")), (
        "bootstrap makes no people's policy"
    )
    return [
        arn_of(evaluate(f"${{aws_iam_policy.{name}.arn}}", bootstrap_scope()))
        for name in ("viewer", "operator")
    ]


def managed_policy_arns() -> list[str]:
    """The people's policies, the boundary, and any other customer managed policy of the account."""
    return [*peoples_policy_arns(), boundary_arn(), role_arn("x").replace(":role/x", ":policy/anything")]


def allowed_policy_writes(statements: list[Statement]) -> list[tuple[str, str, str]]:
    """Each (sid, action, policy) an Allow statement grants among the managed-policy writes, whatever its
    conditions: an allow is a finding even where a deny would win today."""
    return [
        (statement.sid, action, target)
        for statement in statements
        if statement.effect == ALLOW
        for action in POLICY_WRITES
        if statement.covers_action(action)
        for target in managed_policy_arns()
        if any(fnmatchcase(target, pattern) for pattern in statement.resources)
    ]


def test_the_main_stack_creates_no_managed_policy():
    """Every aws_iam_policy of terraform/ outside the bootstrap would need the apply role to write it."""
    for path in sorted(TERRAFORM.rglob("*.tf")):
        if BOOTSTRAP in path.parents:
            continue
        assert not load_module(path.parent).resources_of("aws_iam_policy"), path


def test_no_deploy_role_can_create_change_or_attach_a_managed_policy(roles):
    principals = [
        role_arn(stack_role_names()[0]),
        role_arn("oncall"),
        role_arn("x").replace(":role/x", ":user/someone"),
        role_arn("x").replace(":role/x", ":group/operators"),
    ]
    for role in roles.values():
        assert allowed_policy_writes(role.policy) == [], role.name
        for context in (everything_met("aws:ResourceTag"), everything_met("aws:RequestTag"), {}):
            for target in managed_policy_arns():
                for action in POLICY_WRITES:
                    assert decide(role.policy, action, target, context) != ALLOW, (role.name, action, target)
                # attaching the people's (or any customer managed) policy to anyone
                for principal in principals:
                    for action in ATTACHES:
                        attach = {**context, "iam:PolicyARN": target}
                        assert decide(role.policy, action, principal, attach) != ALLOW, (
                            role.name,
                            action,
                            target,
                        )
        for target in peoples_policy_arns():
            for action in (*POLICY_WRITES, *ATTACHES):
                context = {"iam:PolicyARN": target}
                assert decide(role.policy, action, target, context) != ALLOW, (role.name, action)


def test_a_grant_of_a_new_version_of_a_peoples_policy_is_caught(roles):
    """The check above fails if someone adds iam:CreatePolicyVersion on the viewer policy to the apply
    role, even while the guardrail's deny would still win."""
    viewer = peoples_policy_arns()[0]
    grant = Statement("AddedByMistake", ALLOW, ("iam:CreatePolicyVersion",), (viewer,), ())
    assert allowed_policy_writes([*roles["apply"].policy, grant]) == [
        ("AddedByMistake", "iam:CreatePolicyVersion", viewer)
    ]
    wide = Statement("AddedByMistake", ALLOW, ("iam:*Policy*",), ("*",), ())
    assert len(allowed_policy_writes([wide])) == len(POLICY_WRITES) * len(managed_policy_arns())
