#!/usr/bin/env node
// Drive a running debug session through `jupyter-debug-server forward SESSION --stdio`
// with Microsoft's DebugClient (@vscode/debugadapter-testsupport), as VS Code does with a
// debug adapter executable:
//
//   initialize -> attach (answered at once: the session runs already) -> setBreakpoints
//   -> configurationDone -> stopped (entry, replayed) -> continue -> stopped (breakpoint)
//   -> next -> stopped (step) at the next line -> scopes -> variables -> disconnect
//   -> the forward exits 0 (the session carries on)
//
// Usage (tests/cli/test_debugclient_forward.py runs it; the session is stopped on entry):
//   JDS_PYTHON=/path/to/python PYTHONPATH=<repo root> node debugclient_forward.mjs \
//     --source /srv/loop.py --line 13 --next-line 12 --expect result=1 \
//     --arg forward --arg SESSION --arg --stdio --arg --url --arg URL [--timeout 90]
//
// Each --arg is one argument of `python -m jupyter_debug_server.cli`; a token may come
// from JUPYTER_DEBUG_SERVER_TOKEN instead of --token. DebugClient spawns `runtime
// executable` with one argument only, so the executable is a shim that sets sys.argv.
//
// Prints one "ok - ..." line per check and, last, "N passed, 0 failed"; a failure prints
// "not ok - ...", the recent DAP traffic and the forward's stderr, and exits 1.

import { parseArgs } from 'node:util';
import { Harness, RecordingClient, writeShim } from './harness.mjs';

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        source: { type: 'string' },
        line: { type: 'string' },
        'next-line': { type: 'string' },
        expect: { type: 'string', multiple: true, default: [] },
        arg: { type: 'string', multiple: true, default: [] },
        timeout: { type: 'string', default: '90' },
      },
    }).values;
  } catch (err) {
    console.error(`debugclient_forward: ${err.message}`);
    process.exit(2);
  }
  const line = Number(parsed.line);
  const nextLine = Number(parsed['next-line']);
  if (!parsed.source || !Number.isInteger(line) || !Number.isInteger(nextLine)
      || parsed.arg.length === 0) {
    console.error('usage: node debugclient_forward.mjs --source FILE --line N --next-line M '
      + '--expect NAME=VALUE... --arg ARG... [--timeout SECONDS]');
    process.exit(2);
  }
  const expect = parsed.expect.map((item) => {
    const at = item.indexOf('=');
    return [item.slice(0, at), item.slice(at + 1)];
  });
  return {
    source: parsed.source, line, nextLine, expect, args: parsed.arg,
    timeoutMs: Number(parsed.timeout) * 1000,
  };
}

const opts = options();
const shim = writeShim('jds-forward-', 'forward_shim.py', 'import runpy, sys\n'
  + `sys.argv[1:] = ${JSON.stringify(opts.args)}\n`
  + 'runpy.run_module("jupyter_debug_server.cli", run_name="__main__", alter_sys=True)\n');

const dc = new RecordingClient(process.env.JDS_PYTHON || 'python3', shim.file, 'jds-forward',
  { env: process.env });
const harness = new Harness(dc, { name: 'forward', tempDir: shim.dir, timeoutMs: opts.timeoutMs });
const { check, step } = harness;

async function scenario() {
  const initialized = dc.waitForEvent('initialized');
  const init = await step(dc.initializeRequest({
    adapterID: 'jds-forward', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path',
  }), 'initialize');
  check(init.body?.supportsConfigurationDoneRequest === true,
    'initialize: the session\'s capabilities', JSON.stringify(init.body));
  await step(initialized, 'initialized event');
  await step(dc.attachRequest({}), 'attach');
  check(true, 'attach: joined the running session');

  const bp = await step(dc.setBreakpointsRequest({
    source: { path: opts.source }, breakpoints: [{ line: opts.line }],
  }), 'setBreakpoints');
  check(bp.body.breakpoints[0]?.verified === true && bp.body.breakpoints[0].line === opts.line,
    `setBreakpoints: verified at line ${opts.line}`, JSON.stringify(bp.body));
  // The session is stopped on entry: configurationDone is followed by that stop.
  const entry = dc.waitForEvent('stopped');
  await step(dc.configurationDoneRequest(), 'configurationDone');
  const entryStop = await step(entry, 'the replayed stop');
  const threadId = entryStop.body.threadId;
  check(Number.isInteger(threadId), `stopped (${entryStop.body.reason}) replayed on joining`,
    JSON.stringify(entryStop.body));

  await step(Promise.all([
    dc.continueRequest({ threadId }),
    dc.assertStoppedLocation('breakpoint', { path: opts.source, line: opts.line }),
  ]), 'continue to the breakpoint');
  check(true, `continue: stopped (breakpoint) at ${opts.source}:${opts.line}`);

  const [, trace] = await step(Promise.all([
    dc.nextRequest({ threadId }),
    dc.assertStoppedLocation('step', { path: opts.source, line: opts.nextLine }),
  ]), 'next');
  const frame = trace.body.stackFrames[0];
  check(frame.line === opts.nextLine, `next: stopped (step) at line ${opts.nextLine}`,
    JSON.stringify(frame));

  await harness.checkLocals(frame.id, opts.expect);

  harness.expectExit();
  await step(dc.disconnectRequest({}), 'disconnect');
  check(true, 'disconnect');
  const code = await step(harness.exited, 'the forward\'s exit after disconnect');
  check(code === 0, 'the forward exited with code 0', `exit ${code}`);
}

harness.run(scenario);
