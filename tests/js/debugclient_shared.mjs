#!/usr/bin/env node
// Two IDEs on one session: two Microsoft DebugClients (@vscode/debugadapter-testsupport)
// attach through one `jupyter-debug-server forward SESSION --port` (each connection is
// its own client of the session), as VS Code does with "debugServer":
//
//   A and B: initialize -> attach -> setBreakpoints (A line-a, B line-b, the same file)
//   -> configurationDone -> the replayed entry stop
//   A continue -> both stop at line-a; B continue -> both stop at line-b; after every stop
//   the IDE's inspection, pipelined (threads + stackTrace together, then scopes, then the
//   variables of every non-expensive scope together, as nvim-dap sends them)
//   B disconnects (leaves: A is told its breakpoint was removed) -> A continue twice ->
//   line-a both times -> A terminate (the quit of nvim-dap): `terminated`
//
// Usage (tests/cli/test_debugclient_shared.py runs it; the session is stopped on entry):
//   node debugclient_shared.mjs --port PORT --source FILE --line-a N --line-b M
//
// Prints one "ok - ..." line per check and, last, "N passed, 0 failed"; a failure prints
// "not ok - ...", the recent DAP traffic of A and exits 1.

import { parseArgs } from 'node:util';
import { Harness, RecordingClient } from './harness.mjs';

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      source: { type: 'string' },
      'line-a': { type: 'string' },
      'line-b': { type: 'string' },
      timeout: { type: 'string', default: '120' },
    },
  });
  const out = {
    port: Number(values.port), source: values.source, lineA: Number(values['line-a']),
    lineB: Number(values['line-b']), timeoutMs: Number(values.timeout) * 1000,
  };
  if (!Number.isInteger(out.port) || !out.source || !Number.isInteger(out.lineA)
      || !Number.isInteger(out.lineB)) {
    console.error('usage: node debugclient_shared.mjs --port PORT --source FILE '
      + '--line-a N --line-b M [--timeout SECONDS]');
    process.exit(2);
  }
  return out;
}

const opts = options();
// (runtime and executable are unused: start(port) connects instead of spawning)
const a = new RecordingClient('node', 'unused', 'jds-forward');
const b = new RecordingClient('node', 'unused', 'jds-forward');
const harness = new Harness(a, { name: 'forward', tempDir: '/nonexistent-jds', timeoutMs: opts.timeoutMs });
harness.start = async () => {
  await a.start(opts.port);
  await b.start(opts.port);
  harness.died = new Promise(() => {}); // no process of ours: nothing can die early
};
const { check, step } = harness;

async function join(dc, who, line) {
  const initialized = dc.waitForEvent('initialized');
  const init = await step(dc.initializeRequest({
    adapterID: 'jds-forward', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path',
  }), `${who}: initialize`);
  check(init.body?.supportsTerminateRequest === true
    && init.body?.supportTerminateDebuggee === true,
  `${who}: a control client may terminate`, JSON.stringify(init.body));
  await step(initialized, `${who}: initialized`);
  const attach = await step(dc.attachRequest({}), `${who}: attach`);
  check(attach.success && attach.message === undefined,
    `${who}: attach succeeds without a message`, JSON.stringify(attach));
  const bp = await step(dc.setBreakpointsRequest({
    source: { path: opts.source }, breakpoints: [{ line }],
  }), `${who}: setBreakpoints`);
  const lines = bp.body.breakpoints.map((x) => [x.line, x.verified]);
  check(JSON.stringify(lines) === JSON.stringify([[line, true]]),
    `${who}: answered with its own breakpoint only (line ${line})`, JSON.stringify(bp.body));
  const entry = dc.waitForEvent('stopped');
  await step(dc.configurationDoneRequest(), `${who}: configurationDone`);
  const stop = await step(entry, `${who}: the replayed stop`);
  check(Number.isInteger(stop.body.threadId), `${who}: the entry stop is replayed`);
  return { id: bp.body.breakpoints[0].id, threadId: stop.body.threadId };
}

// What an IDE asks after every stop, sent together (nvim-dap's order).
async function inspect(dc, who, threadId, line) {
  const [threads, trace] = await step(Promise.all([
    dc.threadsRequest(), dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 }),
  ]), `${who}: threads + stackTrace`);
  check(threads.body.threads.some((t) => t.id === threadId), `${who}: threads`);
  const frame = trace.body.stackFrames[0];
  check(frame.line === line, `${who}: stackTrace at line ${line}`, JSON.stringify(frame));
  const scopes = await step(dc.scopesRequest({ frameId: frame.id }), `${who}: scopes`);
  const cheap = scopes.body.scopes.filter((s) => !s.expensive && s.variablesReference > 0);
  const all = await step(Promise.all(cheap.map(
    (s) => dc.variablesRequest({ variablesReference: s.variablesReference }))),
  `${who}: variables of ${cheap.length} scopes`);
  check(all.length > 0 && all.every((r) => r.success && Array.isArray(r.body.variables)),
    `${who}: variables of every non-expensive scope`);
}

async function resume(driver, driverName, other, otherName, threadId, line, myIds) {
  const stops = [driver.waitForEvent('stopped')];
  if (other) stops.push(other.waitForEvent('stopped'));
  await step(driver.continueRequest({ threadId }), `${driverName}: continue`);
  const [mine, theirs] = await step(Promise.all(stops), `the stop at line ${line}`);
  check(mine.body.reason === 'breakpoint', `${driverName}: stopped (breakpoint)`,
    JSON.stringify(mine.body));
  const hits = mine.body.hitBreakpointIds ?? [];
  check(hits.every((id) => myIds.includes(id)), `${driverName}: hitBreakpointIds are its own`,
    JSON.stringify(mine.body));
  if (other) {
    check(theirs.body.threadId === mine.body.threadId, `${otherName}: sees the stop too`);
  }
  await inspect(driver, driverName, threadId, line);
  if (other) await inspect(other, otherName, threadId, line);
}

async function scenario() {
  const { id: idA, threadId } = await join(a, 'A', opts.lineA);
  const toldA = a.waitForEvent('breakpoint');
  const { id: idB } = await join(b, 'B', opts.lineB);
  const told = await step(toldA, 'A: told of B\'s breakpoint');
  check(told.body.reason === 'new' && told.body.breakpoint.line === opts.lineB
    && told.body.breakpoint.id === idB, 'A: a `breakpoint` event (new) for B\'s',
  JSON.stringify(told.body));
  check(idA !== idB, 'the two breakpoints have their own ids');

  await resume(a, 'A', b, 'B', threadId, opts.lineA, [idA]);
  await resume(b, 'B', a, 'A', threadId, opts.lineB, [idB]);

  const removed = a.waitForEvent('breakpoint');
  await step(b.disconnectRequest({}), 'B: disconnect');
  const gone = await step(removed, 'A: told B\'s breakpoint left with it');
  check(gone.body.reason === 'removed' && gone.body.breakpoint.id === idB,
    'A: a `breakpoint` event (removed)', JSON.stringify(gone.body));
  await resume(a, 'A', null, '', threadId, opts.lineA, [idA]);
  await resume(a, 'A', null, '', threadId, opts.lineA, [idA]); // B's line is gone

  const terminated = a.waitForEvent('terminated');
  const reply = await step(a.terminateRequest({}), 'A: terminate');
  check(reply.success, 'A: terminate succeeds');
  await step(terminated, 'A: terminated');
  check(true, 'A: the session ended');
}

harness.run(scenario);
