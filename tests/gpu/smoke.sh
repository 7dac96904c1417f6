#!/usr/bin/env bash
# GPU smoke check for a real host with an NVIDIA GPU and no network. Not part of `make test`.
#
# Prints an inventory (GPUs, driver, CUDA), runs the roles' own checks on this host's real
# nvidia-smi output (the nvidia_container_toolkit and tensorrt_llm preflights through
# ansible-playbook, ragfleet's facts parser through `ragfleet profile check` for every profile),
# and, where docker and the pinned TensorRT-LLM image are present, serves a tiny local model with
# trtllm-serve and asks it for one completion. Every step says what it could and could not check.
#
# Exit status: 0 when nothing failed (a profile this host does not meet is reported, not failed;
# a skipped step is not a failure), 1 when a real check failed.
#
# Environment: PYTHON (default: the repository's .venv, then python3), SMOKE_MODEL_DIR (a local
# Hugging Face checkpoint directory for the TRT-LLM step; default $HOME/models/smoke),
# SMOKE_TRTLLM_TIMEOUT (seconds to wait for the server, default 900).
set -u

repo="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
bin_dir="$(dirname "$python")"
export PYTHONPATH="$repo/service${PYTHONPATH:+:$PYTHONPATH}"
failures=0
checked=()
skipped=()

ok() { checked+=("$1"); echo "  ok: $1"; }
skip() { skipped+=("$1"); echo "  not checked: $1"; }
fail() { failures=$((failures + 1)); checked+=("FAILED $1"); echo "  FAILED: $1"; }

echo "== inventory"
if ! command -v nvidia-smi > /dev/null; then
  fail "nvidia-smi not found: no NVIDIA driver on this host"
  echo "result: 1 failure"
  exit 1
fi
if ! inventory="$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1)"; then
  fail "nvidia-smi failed: $inventory"
  echo "result: 1 failure"
  exit 1
fi
cuda="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)"
echo "$inventory" | sed 's/^/  GPU: /'
echo "  CUDA version the driver supports: ${cuda:-unknown}"
ok "inventory ($(echo "$inventory" | wc -l) GPU(s))"

echo "== the roles' preflights on this host's nvidia-smi output"
if [ -x "$bin_dir/ansible-playbook" ]; then
  play="$repo/tests/gpu/role-preflight.yml"
  run_play() {
    ANSIBLE_CONFIG="$repo/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 \
      ANSIBLE_HOME="${TMPDIR:-/tmp}/ragfleet-smoke-ansible" \
      "$bin_dir/ansible-playbook" -i localhost, -e "ansible_python_interpreter=$python" \
      -e "smoke_role=$1" "${@:2}" "$play" 2>&1
  }
  if out="$(run_play nvidia_container_toolkit)"; then
    ok "nvidia_container_toolkit preflight: a GPU and a driver at the image's floor"
  else
    fail "nvidia_container_toolkit preflight: $(echo "$out" | grep -o '"msg": .*' | head -n 3)"
  fi
  for profile in $("$python" -m ragfleet profile list 2>/dev/null | awk '{print $1}'); do
    tp="$("$python" -c "from ragfleet.hardware import load_profile; print(load_profile('$profile').trtllm.tensor_parallel_size)")"
    if run_play tensorrt_llm -e "tensorrt_llm_tensor_parallel_size=$tp" > /dev/null; then
      ok "tensorrt_llm preflight for profile $profile: GPUs for tensor parallelism $tp"
    else
      echo "  info: tensorrt_llm preflight: this host has too few GPUs for profile $profile (TP $tp)"
    fi
  done
else
  skip "role preflights: no ansible-playbook next to $python"
fi

echo "== ragfleet profile check (ragfleet's own nvidia-smi parsing)"
if ! "$python" -c "import ragfleet" 2> /dev/null; then
  skip "ragfleet profile check: $python cannot import ragfleet"
else
  for profile in $("$python" -m ragfleet profile list | awk '{print $1}'); do
    report="$("$python" -m ragfleet profile check "$profile" 2>&1)"
    status=$?
    echo "$report" | sed 's/^/  | /'
    case "$status" in
      0) ok "profile check $profile: this host meets it" ;;
      1) echo "  info: this host does not meet profile $profile (see above)" ;;
      *) fail "profile check $profile exited $status" ;;
    esac
  done
fi

echo "== TensorRT-LLM on a tiny local model"
# The image the role pins, read with a YAML parser ($python's PyYAML, which ragfleet depends on).
image="$("$python" -c 'import pathlib, sys, yaml
print(yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())["tensorrt_llm_image"])' \
  "$repo/ansible/roles/tensorrt_llm/defaults/main.yml" 2> /dev/null)"
model="${SMOKE_MODEL_DIR:-$HOME/models/smoke}"
if ! command -v docker > /dev/null; then
  skip "trtllm-serve: no docker on this host"
elif ! docker info > /dev/null 2>&1; then
  skip "trtllm-serve: docker is installed but its daemon does not answer"
elif [ -z "$image" ]; then
  skip "trtllm-serve: $python cannot read tensorrt_llm_image from the role's defaults (no PyYAML)"
elif ! docker image inspect "$image" > /dev/null 2>&1; then
  skip "trtllm-serve: image $image is not present (no network to pull it)"
elif [ ! -f "$model/config.json" ]; then
  skip "trtllm-serve: no local model at $model (set SMOKE_MODEL_DIR to a Hugging Face checkpoint)"
else
  name="ragfleet-smoke-trtllm"
  docker rm --force "$name" > /dev/null 2>&1
  docker run --detach --name "$name" --gpus all --ipc host --network host \
    --ulimit memlock=-1 --ulimit stack=67108864 -v "$model:/models/model:ro" "$image" \
    trtllm-serve serve /models/model --host 127.0.0.1 --port 18001 --backend pytorch \
    --max_batch_size 1 --max_seq_len 512 > /dev/null
  deadline=$((SECONDS + ${SMOKE_TRTLLM_TIMEOUT:-900}))
  until curl -fsS http://127.0.0.1:18001/health > /dev/null 2>&1 || [ $SECONDS -ge $deadline ]; do
    sleep 5
  done
  if answer="$(curl -fsS http://127.0.0.1:18001/v1/completions -H 'Content-Type: application/json' \
      -d '{"model": "/models/model", "prompt": "Hello", "max_tokens": 4}' 2>&1)"; then
    ok "trtllm-serve answered: $answer"
  else
    fail "trtllm-serve did not answer: $(docker logs --tail 20 "$name" 2>&1)"
  fi
  docker rm --force "$name" > /dev/null 2>&1
fi

echo "== summary"
echo "checked: ${#checked[@]}; not checked: ${#skipped[@]}"
for s in "${skipped[@]}"; do echo "  not checked: $s"; done
if [ "$failures" -gt 0 ]; then
  echo "result: $failures failure(s)"
  exit 1
fi
echo "result: no failure"
