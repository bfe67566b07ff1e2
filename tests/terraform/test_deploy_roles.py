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
    pipeline_config,
    root,
)

BOOTSTRAP = TERRAFORM / "bootstrap"
OWNER_REPO = "example-owner/pixel-pipe"
PULL_REQUEST = {"token.actions.githubusercontent.com:sub": f"repo:{OWNER_REPO}:pull_request"}
PRODUCTION = {"token.actions.githubusercontent.com:sub": f"repo:{OWNER_REPO}:environment:production"}
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


def bootstrap_scope() -> Scope:
    return Scope(
        load_module(BOOTSTRAP), arguments={"github_owner": "example-owner", "github_repo": "pixel-pipe"}
    )


def _document_name(reference: str) -> str:
    match = re.fullmatch(r"data\.aws_iam_policy_document\.(\w+)\.json", expression(reference))
    assert match, reference
    return match.group(1)


def bootstrap_roles() -> dict[str, Role]:
    module, scope = load_module(BOOTSTRAP), bootstrap_scope()
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
        for other in ("pull_request", "ref:refs/heads/main", "environment:staging", "ref:refs/heads/feature"):
            token = {"token.actions.githubusercontent.com:sub": f"repo:{OWNER_REPO}:{other}"}
            assert not assumable_by(role, token), (role.name, other)
        forked = {
            "token.actions.githubusercontent.com:sub": "repo:someone-else/pixel-pipe:environment:production"
        }
        assert not assumable_by(role, forked), role.name


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
    new_role = role_arn(f"{pipeline_config()['project']}-anything")
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
    with_boundary = {"iam:PermissionsBoundary": boundary_arn()}
    assert any(decide(r.policy, "iam:CreateRole", new_role, with_boundary) == ALLOW for r in roles.values())


def test_no_role_can_remove_the_boundary_or_edit_the_boundary_policy(roles):
    stack_role = role_arn(f"{pipeline_config()['project']}-resize-worker")
    for role in roles.values():
        assert decide(role.policy, "iam:DeleteRolePermissionsBoundary", stack_role) == DENY, role.name
        for action in POLICY_CHANGES:
            assert decide(role.policy, action, boundary_arn()) != ALLOW, (role.name, action)


def test_pass_role_is_always_conditioned_on_the_receiving_service(roles):
    stack_role = role_arn(f"{pipeline_config()['project']}-resize-worker")
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
    lambda_service = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert any(decide(r.policy, "iam:PassRole", stack_role, lambda_service) == ALLOW for r in roles.values())


def stack_queue_names() -> list[str]:
    """Every queue name pipeline.json defines: workers' queue and dlq, functions' failure_queue."""
    config = pipeline_config()
    names = [w[key] for w in config["workers"].values() for key in ("queue", "dlq")]
    names += [f["failure_queue"] for f in config["functions"].values() if "failure_queue" in f]
    return names


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


def test_the_trust_of_every_deploy_role_names_one_exact_subject(roles):
    for role in roles.values():
        subjects = [
            c
            for s in role.trust
            for c in s.conditions
            if c.variable == "token.actions.githubusercontent.com:sub"
        ]
        assert len(subjects) == 1 and subjects[0].test == "StringEquals", role.name
        assert len(subjects[0].values) == 1, (role.name, subjects[0].values)
        assert not any(fnmatchcase("*", v) or "*" in v for v in subjects[0].values), role.name
