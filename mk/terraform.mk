# Terraform, checkov and the provisioning tools (issue: hardware profiles and Terraform).
# Included by the main Makefile (`-include mk/*.mk`), which defines PYTHON, VENV and BIN.

TOOLS_DIR ?= .tools
CHECKOV_VENV := $(TOOLS_DIR)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# checkov pins many packages that clash with the service's, so it gets a venv of its own.
CHECKOV_VERSION ?= >=3.2,<4

.PHONY: tools checkov terraform-fmt terraform-test terraform-docs

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov$(CHECKOV_VERSION)'

tools: $(CHECKOV)  ## install checkov into its own venv under .tools/

checkov: $(CHECKOV)  ## scan terraform/ with checkov (offline: --skip-download)
	$(CHECKOV) -d terraform --framework terraform --compact --quiet --skip-download

terraform-fmt:  ## rewrite terraform/ in canonical format
	terraform fmt -recursive terraform

terraform-test: venv tools  ## fmt, init, validate, terraform test and checkov through pytest
	$(BIN)/pytest tests/terraform

# terraform-docs is not installable here (not on PyPI, npm or apt): scripts/terraform_docs.py
# writes the same tables from the HCL, and tests/terraform/test_module_docs.py checks them.
terraform-docs: venv  ## regenerate the Inputs/Outputs tables in terraform/**/README.md
	$(BIN)/python scripts/terraform_docs.py
