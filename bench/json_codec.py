#!/usr/bin/env python
"""Benchmark: JSON encode/decode of typical DAP messages, public `json` API against the
private C entry points (`json.encoder.c_make_encoder`, `json.scanner.c_make_scanner`).

Every hop of a step serializes and parses the messages it relays, so dap/framing.py once
called CPython's private C encoder and scanner directly. This measures, in one run and on
the same messages, what that buys over the public API used the same way (one
`json.JSONEncoder` and one `json.JSONDecoder` built once, `encode` and `raw_decode` called
per message), and puts
the difference next to a step's latency. See bench/README.md for how to read it.

Usage: ``python bench/json_codec.py [--rounds 15] [--number 20000] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import json.encoder
import json.scanner
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: About how many JSON encodes plus decodes one `next` → `stopped` step costs through the
#: tunnel: the request, its response and the `continued` and `stopped` events each parsed
#: and written once by the server and once by the worker, and the session's own
#: `stackTrace` round trip for the stop's location.
CODEC_OPS_PER_STEP = 20


def _frame(i: int) -> dict[str, Any]:
    return {"id": 1000 + i, "name": f"handler_{i}", "line": 40 + i, "column": 1,
            "source": {"name": "app.py", "path": "/home/user/project/src/app/handlers.py",
                       "sourceReference": 0}}


def typical_messages() -> dict[str, dict[str, Any]]:
    """The messages of one step, and the two larger replies a client asks for at a stop."""
    return {
        "next request": {"seq": 12, "type": "request", "command": "next",
                         "arguments": {"threadId": 1, "granularity": "line"}},
        "next response": {"seq": 40, "type": "response", "request_seq": 12,
                          "success": True, "command": "next", "body": {}},
        "continued event": {"seq": 41, "type": "event", "event": "continued",
                            "body": {"threadId": 1, "allThreadsContinued": True}},
        "stopped event": {"seq": 42, "type": "event", "event": "stopped",
                          "body": {"reason": "step", "threadId": 1,
                                   "preserveFocusHint": False, "allThreadsStopped": True}},
        "stackTrace 1 frame": {"seq": 43, "type": "response", "request_seq": 13,
                               "success": True, "command": "stackTrace",
                               "body": {"stackFrames": [_frame(0)], "totalFrames": 12}},
        "stackTrace 20 frames": {"seq": 44, "type": "response", "request_seq": 14,
                                 "success": True, "command": "stackTrace",
                                 "body": {"stackFrames": [_frame(i) for i in range(20)],
                                          "totalFrames": 20}},
        "variables 30": {"seq": 45, "type": "response", "request_seq": 15, "success": True,
                         "command": "variables", "body": {"variables": [
                             {"name": f"value_{i}", "value": f"'text number {i} é'",
                              "type": "str", "evaluateName": f"value_{i}",
                              "variablesReference": 0} for i in range(30)]}},
        "output event": {"seq": 46, "type": "event", "event": "output",
                         "body": {"category": "stdout",
                                  "output": "processed 1024 records in 0.53 s\n"}},
    }


def _codecs() -> dict[str, Callable[[Any], Any]]:
    """The four ways to measure, built once as dap/framing.py would build them."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                               check_circular=False)
    decoder = json.JSONDecoder()
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    make_scanner = getattr(json.scanner, "c_make_scanner", None)
    if make_encoder is None or make_scanner is None:
        raise SystemExit("this Python has no C json accelerator: nothing to compare")
    c_encode = make_encoder(None, encoder.default, json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
                            None, ":", ",", False, False, False)
    c_scan = make_scanner(decoder)

    def private_encode(message: Any) -> str:
        return "".join(c_encode(message, 0))

    def public_decode(text: str) -> Any:
        # What dap/framing.py does: raw_decode (public) and a check that nothing follows.
        value, end = decoder.raw_decode(text)
        if end != len(text):
            raise ValueError("extra data")
        return value

    def private_decode(text: str) -> Any:
        value, end = c_scan(text, 0)
        if end != len(text):
            raise ValueError("extra data")
        return value

    return {"encode public": encoder.encode, "encode private": private_encode,
            "decode public": public_decode, "decode private": private_decode}


def _time_per_call(call: Callable[[Any], Any], argument: Any, number: int) -> float:
    """Seconds per call of `call(argument)`, over `number` calls."""
    started = time.perf_counter()
    for _ in range(number):
        call(argument)
    return (time.perf_counter() - started) / number


def measure(rounds: int, number: int) -> dict[str, dict[str, float]]:
    """Best-of-rounds ns per call, per message and codec; rounds interleave the codecs so
    that machine noise hits each alike."""
    codecs = _codecs()
    messages = typical_messages()
    texts = {name: codecs["encode public"](m) for name, m in messages.items()}
    for name, text in texts.items():  # both paths must agree before timing them
        assert codecs["encode private"](messages[name]) == text, name
        assert codecs["decode private"](text) == codecs["decode public"](text), name
    samples: dict[str, dict[str, list[float]]] = {
        m: {c: [] for c in codecs} for m in messages}
    for round_no in range(rounds):
        order = list(codecs)
        order = order[round_no % len(order):] + order[:round_no % len(order)]
        for name, message in messages.items():
            for codec in order:
                argument = texts[name] if codec.startswith("decode") else message
                samples[name][codec].append(_time_per_call(codecs[codec], argument, number))
    return {m: {c: min(v) * 1e9 for c, v in per.items()} for m, per in samples.items()}


def report(results: dict[str, dict[str, float]], step_ms: float) -> dict[str, Any]:
    """Print the table and the verdict; return them as JSON."""
    print(f"{'message':22} {'enc pub':>8} {'enc priv':>8} {'ratio':>6}   "
          f"{'dec pub':>8} {'dec priv':>8} {'ratio':>6}   (ns per call, best of rounds)")
    extra: list[float] = []
    for name, r in results.items():
        enc = r["encode public"] / r["encode private"]
        dec = r["decode public"] / r["decode private"]
        extra += [r["encode public"] - r["encode private"],
                  r["decode public"] - r["decode private"]]
        print(f"{name:22} {r['encode public']:8.0f} {r['encode private']:8.0f} {enc:6.2f}   "
              f"{r['decode public']:8.0f} {r['decode private']:8.0f} {dec:6.2f}")
    enc_ratio = statistics.median(r["encode public"] / r["encode private"]
                                  for r in results.values())
    dec_ratio = statistics.median(r["decode public"] / r["decode private"]
                                  for r in results.values())
    per_op_ns = statistics.median(extra)
    per_step_us = per_op_ns * CODEC_OPS_PER_STEP / 1000
    share = per_step_us / (step_ms * 1000)
    print(f"\nmedian ratio public/private: encode {enc_ratio:.2f}x, decode {dec_ratio:.2f}x")
    print(f"median extra cost of the public API: {per_op_ns:.0f} ns per call; "
          f"x{CODEC_OPS_PER_STEP} calls per step = {per_step_us:.1f} us, "
          f"{share:.2%} of a {step_ms} ms step")
    return {"results_ns": results, "encode_ratio": enc_ratio, "decode_ratio": dec_ratio,
            "extra_ns_per_call": per_op_ns, "extra_us_per_step": per_step_us,
            "step_ms": step_ms, "share_of_step": share,
            "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="rounds (best one counts)")
    parser.add_argument("--number", type=int, default=20000,
                        help="calls per message, codec and round")
    parser.add_argument("--step-ms", type=float, default=1.5,
                        help="the step latency to compare with (default 1.5 ms: a step "
                        "through the tunnel, see step_latency.py)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.number < 1:
        parser.error("--rounds and --number must be at least 1")
    out = report(measure(args.rounds, args.number), args.step_ms)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
