# Terraform's targets: format, test (fmt, validate, terraform test, checkov through pytest), scan.
# Included by the main Makefile (`-include mk/*.mk`), which defines PYTHON, VENV and BIN, and
# CHECKOV with the `tools` target that installs it (`make test` needs it too).

.PHONY: checkov terraform-fmt terraform-test terraform-docs

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
