#!/usr/bin/env bash
# Terraform for the CI jobs: HashiCorp's release zip, checked against a pinned SHA-256 before anything in
# it runs (tests/supply_chain/test_deploy_workflow.py holds every job with an OIDC token to this).
#
# Why not hashicorp/setup-terraform: it downloads the zip with @actions/tool-cache and unpacks it without
# any checksum (lib/setup-terraform.js, downloadCLI), so pinning the action by SHA pins the installer, not
# the binary.
#
# To move to another version: take the linux_amd64 line of terraform_<version>_SHA256SUMS from
# https://releases.hashicorp.com/terraform/<version>/ after checking that file's signature
# (terraform_<version>_SHA256SUMS.sig, HashiCorp's key C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F),
# and replace both values together. A wrong hash fails the job; it never runs an unchecked binary.
set -euo pipefail

TERRAFORM_VERSION="1.10.5"
TERRAFORM_SHA256="0566a24f5332098b15716ebc394be503f4094acba5ba529bf5eb0698ed5e2a90" # terraform_1.10.5_linux_amd64.zip

dir="${RUNNER_TEMP:-$(mktemp -d)}/terraform-${TERRAFORM_VERSION}"
zip="${dir}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip"
mkdir -p "${dir}"
curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --output "${zip}" \
  "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip"
echo "${TERRAFORM_SHA256}  ${zip}" | sha256sum --check --strict
unzip -o -q "${zip}" terraform -d "${dir}"
rm -f "${zip}"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "${dir}" >> "${GITHUB_PATH}"
fi
"${dir}/terraform" version
