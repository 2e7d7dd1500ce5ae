#!/usr/bin/env node
// Drive the standalone gdb adapter over stdio with Microsoft's DebugClient
// (@vscode/debugadapter-testsupport, the client VS Code's own adapters are tested with):
//
//   initialize -> launch -> setBreakpoints -> configurationDone -> stopped (breakpoint)
//   -> next -> stopped (step) at the next line -> stackTrace -> scopes -> variables
//   -> disconnect -> the adapter exits 0
//
// Usage (tests/debuggers/test_debugclient_gdb.py runs it):
//   JDS_PYTHON=/path/to/python PYTHONPATH=<repo root> node debugclient_gdb.mjs \
//     --program ./points --source ./points.c --line 37 --next-line 38 \
//     --expect total=120 --expect levels=40 [--timeout 90]
//
// The adapter is `python -m jupyter_debug_server.runner.debuggers.gdb_adapter`.
// DebugClient spawns `runtime executable` with exactly one argument, so the runtime is
// the interpreter from JDS_PYTHON (default python3) and the executable a two-line shim,
// written to a temporary directory, that runs the module as __main__.
//
// Prints one "ok - ..." line per check and, last, "N passed, 0 failed"; any failure
// prints "not ok - ...", the adapter's recent DAP messages and stderr, and exits 1.

import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Harness, RecordingClient, writeShim } from './harness.mjs';

const ADAPTER_MODULE = 'jupyter_debug_server.runner.debuggers.gdb_adapter';

function usage(message) {
  console.error(`debugclient_gdb: ${message}`);
  console.error('usage: node debugclient_gdb.mjs --program BIN --source FILE.c --line N '
    + '--next-line M --expect NAME=VALUE [--expect ...] [--timeout SECONDS]');
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        program: { type: 'string', default: process.env.JDS_PROGRAM },
        source: { type: 'string', default: process.env.JDS_SOURCE },
        line: { type: 'string' },
        'next-line': { type: 'string' },
        expect: { type: 'string', multiple: true, default: [] },
        timeout: { type: 'string', default: '90' },
      },
    }).values;
  } catch (err) {
    usage(err.message);
  }
  for (const name of ['program', 'source', 'line', 'next-line']) {
    if (!parsed[name]) usage(`--${name} is required`);
  }
  const line = Number(parsed.line);
  const nextLine = Number(parsed['next-line']);
  const timeout = Number(parsed.timeout);
  if (!Number.isInteger(line) || !Number.isInteger(nextLine) || !(timeout > 0)) {
    usage('--line and --next-line must be integers, --timeout a positive number');
  }
  const expect = parsed.expect.map((item) => {
    const at = item.indexOf('=');
    if (at < 1) usage(`--expect wants NAME=VALUE, not ${JSON.stringify(item)}`);
    return [item.slice(0, at), item.slice(at + 1)];
  });
  return {
    program: realpathSync(resolve(parsed.program)),
    source: realpathSync(resolve(parsed.source)),
    line, nextLine, expect, timeoutMs: timeout * 1000,
  };
}

/** RecordingClient that keeps what hitBreakpoint() does not return: capabilities, stop. */
class GdbClient extends RecordingClient {
  constructor(...args) {
    super(...args);
    this.capabilities = undefined;
    this.lastStopped = undefined;
    this.on('stopped', (event) => { this.lastStopped = event; });
  }

  initializeRequest(args) {
    return super.initializeRequest(args).then((response) => {
      this.capabilities = response.body ?? {};
      return response;
    });
  }
}

const opts = options();
const shim = writeShim('jds-debugclient-', 'gdb_adapter_shim.py',
  `import runpy\nrunpy.run_module(${JSON.stringify(ADAPTER_MODULE)}, `
  + 'run_name="__main__", alter_sys=True)\n');

const python = process.env.JDS_PYTHON || 'python3';
const dc = new GdbClient(python, shim.file, 'jupyter-debug-server-gdb',
  { cwd: process.cwd(), env: process.env });
const harness = new Harness(dc, { name: 'adapter', tempDir: shim.dir, timeoutMs: opts.timeoutMs });
const { check, step } = harness;

async function scenario() {
  const program = opts.program;
  const source = opts.source;
  const launchArgs = { program, args: [], cwd: dirname(program) };

  // DebugClient's own scenario: waits for `initialized`, sets the breakpoint and checks
  // it is verified at that line, sends configurationDone, and (concurrently) sends
  // initialize + launch and asserts the `stopped` event (reason breakpoint) and the top
  // frame's path and line.
  const bpLocation = { path: source, line: opts.line };
  await step(dc.hitBreakpoint(launchArgs, bpLocation), 'hit the breakpoint');
  check(dc.capabilities?.supportsConfigurationDoneRequest === true,
    'initialize: supportsConfigurationDoneRequest', JSON.stringify(dc.capabilities));
  check(true, `launch, setBreakpoints (verified at line ${opts.line}), configurationDone`);
  const threadId = dc.lastStopped?.body?.threadId;
  check(Number.isInteger(threadId), `stopped (breakpoint) at ${source}:${opts.line}`,
    `no threadId in ${JSON.stringify(dc.lastStopped)}`);

  // next: assertStoppedLocation registers its `stopped` listener synchronously, before
  // the adapter can answer.
  const [, trace] = await step(Promise.all([
    dc.nextRequest({ threadId }),
    dc.assertStoppedLocation('step', { path: source, line: opts.nextLine }),
  ]), 'next');
  check(dc.lastStopped.body.threadId === threadId, 'next: stopped in the same thread',
    JSON.stringify(dc.lastStopped.body));
  const frame = trace.body.stackFrames[0];
  check(frame.line === opts.nextLine && frame.name === 'main',
    `next: stopped (step) in main at line ${opts.nextLine}`, JSON.stringify(frame));

  await harness.checkLocals(frame.id, opts.expect);

  harness.expectExit();
  await step(dc.disconnectRequest({ terminateDebuggee: true }), 'disconnect');
  check(true, 'disconnect');
  const code = await step(harness.exited, 'adapter exit after disconnect');
  check(code === 0, 'the adapter exited with code 0', `exit ${code}`);
}

harness.run(scenario);
