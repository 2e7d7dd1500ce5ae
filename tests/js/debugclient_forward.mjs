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
// Usage (tests/test_debugclient_forward.py runs it; the session is stopped on entry):
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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;
const STEP_TIMEOUT_MS = 30_000;
const HISTORY = 30;

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

/** DebugClient that keeps the recent traffic for a failure report. */
class RecordingClient extends DebugClient {
  constructor(...args) {
    super(...args);
    this.history = [];
  }

  record(line) {
    this.history.push(line.length > 400 ? `${line.slice(0, 400)}...` : line);
    if (this.history.length > HISTORY) this.history.shift();
  }

  dispatch(body) {
    this.record(`<- ${body}`);
    super.dispatch(body);
  }

  doSend(command, args, clb) {
    this.record(`-> ${command} ${JSON.stringify(args ?? {})}`);
    super.doSend(command, args, clb);
  }
}

const opts = options();
const shimDir = mkdtempSync(join(tmpdir(), 'jds-forward-'));
const shim = join(shimDir, 'forward_shim.py');
writeFileSync(shim, 'import runpy, sys\n'
  + `sys.argv[1:] = ${JSON.stringify(opts.args)}\n`
  + 'runpy.run_module("jupyter_debug_server.cli", run_name="__main__", alter_sys=True)\n');

const dc = new RecordingClient(process.env.JDS_PYTHON || 'python3', shim, 'jds-forward',
  { env: process.env });
dc.defaultTimeout = STEP_TIMEOUT_MS;

let passed = 0;
let stderrTail = '';
let adapter;

function check(condition, what, detail = '') {
  if (!condition) throw new Error(`${what}${detail ? `: ${detail}` : ''}`);
  passed += 1;
  console.log(`ok - ${what}`);
}

/** Reject after `ms` or when the forward dies early, whichever comes first. */
function step(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout, adapter.died]).finally(() => clearTimeout(timer))
    .catch((err) => {
      const values = err instanceof Error && 'actual' in err
        ? ` (got ${JSON.stringify(err.actual)}, expected ${JSON.stringify(err.expected)})` : '';
      throw new Error(`${what}: ${err instanceof Error ? err.message : err}${values}`);
    });
}

function finish(code) {
  dc.stopAdapter();
  rmSync(shimDir, { recursive: true, force: true });
  process.exit(code);
}

function fail(err) {
  console.log(`not ok - ${err.message}`);
  console.log('--- recent DAP traffic (-> sent, <- received) ---');
  for (const line of dc.history) console.log(line);
  console.log('--- forward stderr (tail) ---');
  console.log(stderrTail.trimEnd() || '(empty)');
  console.log(`${passed} passed, 1 failed`);
  finish(1);
}

async function scenario() {
  await dc.start(); // spawn the forward and talk DAP over its stdin/stdout
  const proc = dc._adapterProcess;
  proc.stderr.on('data', (data) => { stderrTail = (stderrTail + data).slice(-8000); });
  proc.stdin.on('error', () => {}); // EPIPE after an early exit: reported as the exit
  let leaving = false;
  adapter = {};
  adapter.exited = new Promise((resolveExit) => {
    proc.on('exit', (code, signal) => resolveExit(code ?? signal));
  });
  adapter.died = adapter.exited.then((code) => {
    if (leaving) return new Promise(() => {});
    throw new Error(`the forward exited early (${code})`);
  });
  adapter.died.catch(() => {});

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

  const scopes = await step(dc.scopesRequest({ frameId: frame.id }), 'scopes');
  const locals = scopes.body.scopes.find((scope) => scope.name === 'Locals');
  check(locals && locals.variablesReference > 0, 'scopes: Locals', JSON.stringify(scopes.body));
  const variables = await step(
    dc.variablesRequest({ variablesReference: locals.variablesReference }), 'variables');
  const byName = new Map(variables.body.variables.map((v) => [v.name, v]));
  for (const [name, value] of opts.expect) {
    check(byName.get(name)?.value === value, `variables: ${name} = ${value}`,
      `got ${JSON.stringify(byName.get(name))} among ${[...byName.keys()].join(', ')}`);
  }

  leaving = true;
  await step(dc.disconnectRequest({}), 'disconnect');
  check(true, 'disconnect');
  const code = await step(adapter.exited, 'the forward\'s exit after disconnect');
  check(code === 0, 'the forward exited with code 0', `exit ${code}`);
}

process.on('uncaughtException', fail);
const overall = setTimeout(
  () => fail(new Error(`overall timeout: not finished within ${opts.timeoutMs} ms`)),
  opts.timeoutMs);

scenario().then(() => {
  clearTimeout(overall);
  console.log(`${passed} passed, 0 failed`);
  finish(0);
}, (err) => {
  clearTimeout(overall);
  fail(err);
});
