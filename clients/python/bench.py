"""Micro-benchmark of the embedded Authorizer's hot path.

    cd clients/python && /usr/bin/python3 bench.py [--n 20000]

Serves the conformance bundle from a local HTTP server, then measures with
time.perf_counter_ns: a cached decision (the same token and permission
again), a first-seen token (a fresh RS256 token: signature check and policy
evaluation), and principal() on a cached token; with GAIA_IAM_TEST_OPA
naming an opa binary, also the same question asked of a stock OPA over
HTTP (a keep-alive connection), as a sidecar service without this
package's cache would. Targets: cached p50 <= 5 us, first-seen p50
<= 1 ms, >= 50x faster than the sidecar for a seen token.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gaia_iam import Authorizer  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from tests.helpers import CONFORMANCE, FakeIAM, private_key, read, token  # noqa: E402
from tests.opa import OPA, opa_binary  # noqa: E402

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def sidecar(iam_url: str, key, hot: str, n: int) -> list[int] | None:
    """Latencies of n decisions asked of a stock OPA configured by
    bundles/opa-config.yaml, or None without an opa binary."""
    binary = opa_binary()
    if binary is None:
        return None
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # one line, as `iam keys public --one-line` prints it for the YAML
    os.environ["GAIA_IAM_URL"], os.environ["GAIA_IAM_PUBLIC_KEY"] = iam_url, pem.decode().replace(
        "\n", "\\n"
    )
    opa = OPA(
        binary,
        [
            "--config-file",
            os.path.join(REPO, "bundles", "opa-config.yaml"),
            "--set",
            "bundles.gaia.polling.min_delay_seconds=1",
            "--set",
            "bundles.gaia.polling.max_delay_seconds=1",
        ],
        REPO,
    )
    try:
        body = json.dumps({"input": {"token": hot, "permission": "inventory.read"}})
        deadline = time.monotonic() + 20
        while (
            opa.query("gaia/authz/decision", {"token": hot, "permission": "inventory.read"})
            .get("result", {})
            .get("allow")
            is not True
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the stock OPA did not activate the bundle")
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", opa.port)
        out = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            conn.request(
                "POST", "/v1/data/gaia/authz/decision", body, {"Content-Type": "application/json"}
            )
            answer = json.loads(conn.getresponse().read())
            out.append(time.perf_counter_ns() - t0)
            assert answer["result"]["allow"] is True
        conn.close()
        return out
    finally:
        opa.stop()


def percentiles(samples: list[int]) -> str:
    s = sorted(samples)

    def p(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))] / 1000

    mean = statistics.fmean(s) / 1000
    return f"p50 {p(0.5):8.2f} us  p90 {p(0.9):8.2f} us  p99 {p(0.99):8.2f} us  mean {mean:8.2f} us"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000, help="cached iterations")
    parser.add_argument("--fresh", type=int, default=2000, help="first-seen tokens")
    args = parser.parse_args()

    jwks = read(os.path.join(CONFORMANCE, "jwks.json"))
    iam = FakeIAM(jwks, read(os.path.join(CONFORMANCE, "bundle.tar.gz")))
    kid = json.loads(jwks)["keys"][0]["kid"]
    key = private_key("iam.pem")
    authz = Authorizer(iam.url, poll_interval=3600)
    deadline = time.monotonic() + 10
    while not authz.ready():
        if time.monotonic() > deadline:
            raise SystemExit("the bundle did not load")
        time.sleep(0.01)

    base = {
        "iss": "gaia-iam",
        "sub": "00000000-0000-4000-8000-000000000001",
        "username": "alice",
        "type": "user",
        "roles": ["Analyst"],
        "permissions": ["analytics.report.view", "inventory.read"],
        "iat": 1767225600,
        "exp": 4102444800,
    }
    fresh = [token({**base, "jti": f"bench-{i}"}, key, kid=kid) for i in range(args.fresh)]
    hot = token({**base, "jti": "bench-hot"}, key, kid=kid)
    assert authz.authorize(hot, "inventory.read").allow
    authz.principal(hot)

    clock = time.perf_counter_ns
    gc.disable()
    cached = []
    for _ in range(args.n):
        t0 = clock()
        authz.authorize(hot, "inventory.read")
        cached.append(clock() - t0)
    # the same token as a new str object each time, as from a request header
    copies = [hot[:10] + hot[10:] for _ in range(args.n)]
    cached_copy = []
    for tok in copies:
        t0 = clock()
        authz.authorize(tok, "inventory.read")
        cached_copy.append(clock() - t0)
    principal = []
    for _ in range(args.n):
        t0 = clock()
        authz.principal(hot)
        principal.append(clock() - t0)
    first = []
    for tok in fresh:
        t0 = clock()
        d = authz.authorize(tok, "inventory.read")
        first.append(clock() - t0)
        assert d.allow
    gc.enable()

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"cached decision ({args.n})          {percentiles(cached)}")
    print(f"cached decision, new str ({args.n}) {percentiles(cached_copy)}")
    print(f"cached principal() ({args.n})       {percentiles(principal)}")
    print(f"first-seen token ({args.fresh})        {percentiles(first)}")
    print(f"requests to the IAM: {iam.total()} (one JWKS, one bundle)")
    over_http = sidecar(iam.url, key, hot, 2000)
    if over_http is None:
        print("stock OPA over HTTP: skipped (set GAIA_IAM_TEST_OPA to an opa binary)")
    else:
        print(f"stock OPA over HTTP (2000)      {percentiles(over_http)}")
        ratio = statistics.median(over_http) / statistics.median(cached)
        print(f"embedded cached decision vs stock OPA over HTTP, p50: {ratio:.0f}x faster")
    authz.close()
    iam.stop()


if __name__ == "__main__":
    main()
