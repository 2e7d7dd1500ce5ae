#!/usr/bin/env node
// Drive the standalone gdb adapter over stdio with Microsoft's DebugClient
// (@vscode/debugadapter-testsupport, the client VS Code's own adapters are tested with):
//
//   initialize -> launch -> setBreakpoints -> configurationDone -> stopped (breakpoint)
//   -> next -> stopped (step) at the next line -> stackTrace -> scopes -> variables
//   -> disconnect -> the adapter exits 0
//
// Usage (tests/test_debugclient_gdb.py runs it):
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

import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;
const ADAPTER_MODULE = 'jupyter_debug_server.runner.debuggers.gdb_adapter';
const STEP_TIMEOUT_MS = 30_000;
const HISTORY = 30;

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

/** DebugClient that keeps what a failure report needs: recent messages, capabilities. */
class RecordingClient extends DebugClient {
  constructor(...args) {
    super(...args);
    this.history = [];
    this.capabilities = undefined;
    this.lastStopped = undefined;
    this.on('stopped', (event) => { this.lastStopped = event; });
  }

  dispatch(body) {
    this.history.push(`<- ${body.length > 400 ? `${body.slice(0, 400)}...` : body}`);
    if (this.history.length > HISTORY) this.history.shift();
    super.dispatch(body);
  }

  doSend(command, args, clb) {
    this.history.push(`-> ${command} ${JSON.stringify(args ?? {})}`);
    if (this.history.length > HISTORY) this.history.shift();
    super.doSend(command, args, clb);
  }

  initializeRequest(args) {
    return super.initializeRequest(args).then((response) => {
      this.capabilities = response.body ?? {};
      return response;
    });
  }
}

const opts = options();
const shimDir = mkdtempSync(join(tmpdir(), 'jds-debugclient-'));
const shim = join(shimDir, 'gdb_adapter_shim.py');
writeFileSync(shim, `import runpy\nrunpy.run_module(${JSON.stringify(ADAPTER_MODULE)}, `
  + 'run_name="__main__", alter_sys=True)\n');

const python = process.env.JDS_PYTHON || 'python3';
const dc = new RecordingClient(python, shim, 'jupyter-debug-server-gdb',
  { cwd: process.cwd(), env: process.env });
dc.defaultTimeout = STEP_TIMEOUT_MS; // waitForEvent's own timeout (stdio mode only)

let passed = 0;
let stderrTail = '';
let adapterExit;

function check(condition, what, detail = '') {
  if (!condition) throw new Error(`${what}${detail ? `: ${detail}` : ''}`);
  passed += 1;
  console.log(`ok - ${what}`);
}

/** Reject after `ms` or when the adapter dies, whichever comes first. */
function step(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout, adapterExit.died]).finally(() => clearTimeout(timer))
    .catch((err) => {
      const assertion = err instanceof Error && 'actual' in err;
      const values = assertion ? ` (got ${JSON.stringify(err.actual)}, `
        + `expected ${JSON.stringify(err.expected)})` : '';
      throw new Error(`${what}: ${err instanceof Error ? err.message : err}${values}`);
    });
}

function cleanup() {
  dc.stopAdapter();
  rmSync(shimDir, { recursive: true, force: true });
}

function fail(err) {
  console.log(`not ok - ${err.message}`);
  console.log('--- recent DAP traffic (-> sent, <- received) ---');
  for (const line of dc.history) console.log(line);
  console.log('--- adapter stderr (tail) ---');
  console.log(stderrTail.trimEnd() || '(empty)');
  console.log(`${passed} passed, 1 failed`);
  cleanup();
  process.exit(1);
}

async function scenario() {
  await dc.start(); // no port: spawn `python shim` and talk DAP over its stdin/stdout
  const proc = dc._adapterProcess;
  proc.stderr.on('data', (data) => { stderrTail = (stderrTail + data).slice(-8000); });
  let disconnecting = false;
  adapterExit = { code: undefined };
  adapterExit.exited = new Promise((resolveExit, rejectExit) => {
    proc.on('exit', (code, signal) => {
      adapterExit.code = code ?? signal;
      resolveExit(adapterExit.code);
    });
    proc.on('error', (err) => rejectExit(new Error(`cannot run the adapter: ${err.message}`)));
  });
  // A write to a dead adapter's stdin fails with EPIPE; its exit is reported instead.
  proc.stdin.on('error', () => {});
  adapterExit.died = adapterExit.exited.then((code) => {
    if (disconnecting) return new Promise(() => {}); // an exit is expected from now on
    throw new Error(`the adapter exited early (${code})`);
  });
  adapterExit.died.catch(() => {}); // raced in step(); never unhandled on its own

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

  const scopes = await step(dc.scopesRequest({ frameId: frame.id }), 'scopes');
  const locals = scopes.body.scopes.find((scope) => scope.name === 'Locals');
  check(locals && locals.variablesReference > 0, 'scopes: Locals',
    JSON.stringify(scopes.body));

  const variables = await step(
    dc.variablesRequest({ variablesReference: locals.variablesReference }), 'variables');
  const byName = new Map(variables.body.variables.map((v) => [v.name, v]));
  for (const [name, value] of opts.expect) {
    check(byName.get(name)?.value === value, `variables: ${name} = ${value}`,
      `got ${JSON.stringify(byName.get(name))} among ${[...byName.keys()].join(', ')}`);
  }

  disconnecting = true;
  await step(dc.disconnectRequest({ terminateDebuggee: true }), 'disconnect');
  check(true, 'disconnect');
  const code = await step(adapterExit.exited, 'adapter exit after disconnect');
  check(code === 0, 'the adapter exited with code 0', `exit ${code}`);
}

process.on('uncaughtException', fail);

const overall = setTimeout(
  () => fail(new Error(`overall timeout: not finished within ${opts.timeoutMs} ms`)),
  opts.timeoutMs);

scenario().then(() => {
  clearTimeout(overall);
  console.log(`${passed} passed, 0 failed`);
  cleanup();
  process.exit(0);
}, (err) => {
  clearTimeout(overall);
  fail(err);
});
