"""HTTP requests made *on* the host under test, with its own python3 (Ansible needs one there).

The same call works over every testinfra backend (podman, ssh, ansible): the checks see what a
client on that host sees, TLS verification against the gateway's own certificate included.
"""

import json
from dataclasses import dataclass
from typing import Any

_CLIENT = r"""
import json, ssl, sys, urllib.error, urllib.request
spec = json.loads(sys.argv[1])
context = None
if spec["url"].startswith("https:"):
    context = ssl.create_default_context(cafile=spec["cafile"])
data = spec["body"].encode() if spec["body"] is not None else None
request = urllib.request.Request(
    spec["url"], data=data, headers=spec["headers"], method=spec["method"]
)
try:
    with urllib.request.urlopen(request, timeout=spec["timeout"], context=context) as response:
        status, headers, body = response.status, dict(response.headers), response.read()
except urllib.error.HTTPError as error:
    status, headers, body = error.code, dict(error.headers), error.read()
print(json.dumps({"status": status, "headers": headers, "body": body.decode("utf-8", "replace")}))
"""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    def header(self, name: str) -> str | None:
        lowered = {key.lower(): value for key, value in self.headers.items()}
        return lowered.get(name.lower())


def request(
    host: Any,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    cafile: str | None = None,
    timeout: float = 60,
) -> Response:
    """Send one request from the host; raises if the client itself fails (refused, bad TLS)."""
    all_headers = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body)
        all_headers.setdefault("Content-Type", "application/json")
    spec = {
        "method": method,
        "url": url,
        "body": body,
        "headers": all_headers,
        "cafile": cafile,
        "timeout": timeout,
    }
    result = host.run("python3 -c %s %s", _CLIENT, json.dumps(spec))
    assert result.rc == 0, f"{method} {url} from the host failed: {result.stderr.strip()[-600:]}"
    data = json.loads(result.stdout)
    return Response(data["status"], data["headers"], data["body"])
