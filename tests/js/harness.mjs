// What debugclient_gdb.mjs and debugclient_forward.mjs share: a DebugClient that keeps the
// recent traffic, the checks ("ok - ..." lines and a count), steps bounded by a timeout and
// by the process's early exit, and the failure report and exit code.
//
// DebugClient's requests never time out and its waits notice neither a timeout (outside
// stdio mode) nor a dead adapter, so every request and wait of a scenario goes through
// step(); without it a broken adapter would hang the run until the overall timeout.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;
export const STEP_TIMEOUT_MS = 30_000;
const HISTORY = 30;
const STDERR_TAIL = 8000;

/** DebugClient that keeps the recent traffic for a failure report. */
export class RecordingClient extends DebugClient {
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

/** Write `text` to a file `name` in a new temporary directory; return both paths. */
export function writeShim(prefix, name, text) {
  // DebugClient spawns `runtime executable` with exactly one argument, so a module and its
  // arguments reach Python only through a file.
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, name);
  writeFileSync(file, text);
  return { dir, file };
}

/** One scenario against one process spawned by a RecordingClient, reported TAP-style. */
export class Harness {
  /**
   * `name` is what the report calls the process ("adapter", "forward"), `tempDir` is
   * removed when the run ends, `timeoutMs` bounds the whole run.
   */
  constructor(dc, { name, tempDir, timeoutMs }) {
    this.dc = dc;
    this.name = name;
    this.tempDir = tempDir;
    this.timeoutMs = timeoutMs;
    this.passed = 0;
    this.stderrTail = '';
    this.leaving = false;
    this.exited = undefined; // resolves to the exit code (or signal) once start() has run
    this.died = undefined;
    dc.defaultTimeout = STEP_TIMEOUT_MS; // waitForEvent's own timeout (stdio mode only)
  }

  // Arrow fields, so that a scenario can destructure `{ check, step }`.
  check = (condition, what, detail = '') => {
    if (!condition) throw new Error(`${what}${detail ? `: ${detail}` : ''}`);
    this.passed += 1;
    console.log(`ok - ${what}`);
  };

  /** Reject after `ms` or when the process dies early, whichever comes first. */
  step = (promise, what, ms = STEP_TIMEOUT_MS) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout, this.died]).finally(() => clearTimeout(timer))
      .catch((err) => {
        const values = err instanceof Error && 'actual' in err
          ? ` (got ${JSON.stringify(err.actual)}, expected ${JSON.stringify(err.expected)})`
          : '';
        throw new Error(`${what}: ${err instanceof Error ? err.message : err}${values}`);
      });
  };

  /** Check that the frame's Locals scope holds each `[name, value]` of `expect`. */
  async checkLocals(frameId, expect) {
    const { check, step } = this;
    const scopes = await step(this.dc.scopesRequest({ frameId }), 'scopes');
    const locals = scopes.body.scopes.find((scope) => scope.name === 'Locals');
    check(locals && locals.variablesReference > 0, 'scopes: Locals',
      JSON.stringify(scopes.body));
    const variables = await step(
      this.dc.variablesRequest({ variablesReference: locals.variablesReference }), 'variables');
    const byName = new Map(variables.body.variables.map((v) => [v.name, v]));
    for (const [name, value] of expect) {
      check(byName.get(name)?.value === value, `variables: ${name} = ${value}`,
        `got ${JSON.stringify(byName.get(name))} among ${[...byName.keys()].join(', ')}`);
    }
  }

  /** Call before the request that ends the process (disconnect): its exit is no failure. */
  expectExit() {
    this.leaving = true;
  }

  async start() {
    await this.dc.start(); // no port: spawn `runtime executable`, talk DAP over its stdio
    const proc = this.dc._adapterProcess;
    proc.stderr.on('data', (data) => {
      this.stderrTail = (this.stderrTail + data).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolveExit, rejectExit) => {
      proc.on('exit', (code, signal) => resolveExit(code ?? signal));
      proc.on('error', (err) => {
        rejectExit(new Error(`cannot run the ${this.name}: ${err.message}`));
      });
    });
    // A write to a dead process's stdin fails with EPIPE; its exit is reported instead.
    proc.stdin.on('error', () => {});
    this.died = this.exited.then((code) => {
      if (this.leaving) return new Promise(() => {}); // an exit is expected from now on
      throw new Error(`the ${this.name} exited early (${code})`);
    });
    this.died.catch(() => {}); // raced in step(); never unhandled on its own
  }

  finish(code) {
    this.dc.stopAdapter();
    rmSync(this.tempDir, { recursive: true, force: true });
    process.exit(code);
  }

  fail(err) {
    console.log(`not ok - ${err.message}`);
    console.log('--- recent DAP traffic (-> sent, <- received) ---');
    for (const line of this.dc.history) console.log(line);
    console.log(`--- ${this.name} stderr (tail) ---`);
    console.log(this.stderrTail.trimEnd() || '(empty)');
    console.log(`${this.passed} passed, 1 failed`);
    this.finish(1);
  }

  /** Start the process, run `scenario`, print the summary and exit 0, or report and exit 1. */
  run(scenario) {
    process.on('uncaughtException', (err) => this.fail(err));
    const overall = setTimeout(
      () => this.fail(new Error(`overall timeout: not finished within ${this.timeoutMs} ms`)),
      this.timeoutMs);
    this.start().then(scenario).then(() => {
      clearTimeout(overall);
      console.log(`${this.passed} passed, 0 failed`);
      this.finish(0);
    }, (err) => {
      clearTimeout(overall);
      this.fail(err);
    });
  }
}
