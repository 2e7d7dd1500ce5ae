/**
 * Pure helpers of the panel: how sessions read, how a launch form becomes a launch spec,
 * and the share snippets. No JupyterLab imports, so that jest tests them as they are.
 */
import type { DebuggerName, ILaunchBreakpoint, ILaunchSpec, ISession } from './types';

/** The last component of a path. */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The directory of a path ('' for a bare name). */
export function dirname(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? (index === 0 ? '/' : '') : path.slice(0, index);
}

/** Where a session stopped, as `file:line` ('' when it is not stopped). */
export function locationText(session: ISession): string {
  const stopped = session.stopped;
  if (!stopped || !stopped.path || stopped.line === null) {
    return '';
  }
  return `${basename(stopped.path)}:${stopped.line}`;
}

/** What a session debugs, in a few words. */
export function targetText(session: ISession): string {
  const spec = session.spec;
  if (spec.core) {
    return `core ${basename(spec.core)}`;
  }
  if (spec.pid !== undefined) {
    return `pid ${spec.pid}`;
  }
  if (spec.module) {
    return `-m ${spec.module}`;
  }
  return spec.program ? basename(spec.program) : session.name;
}

/** Sessions newest first (ISO 8601 times of one format sort as strings). */
export function newestFirst(a: ISession, b: ISession): number {
  return a.created < b.created ? 1 : a.created > b.created ? -1 : a.id < b.id ? 1 : -1;
}

/** Whether `next` is not older than `current` (events and REST answers may cross). */
export function isNewer(current: ISession | undefined, next: ISession): boolean {
  return current === undefined || next.updated >= current.updated;
}

/** Which debugger fits a file: debugpy for Python, else the first native one available. */
export function debuggerFor(path: string, available: DebuggerName[]): DebuggerName {
  if (/\.py$/i.test(path)) {
    return 'debugpy';
  }
  return available.find(name => name !== 'debugpy') ?? 'gdb';
}

/** The non-empty lines of a text field, trimmed at the end. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map(line => line.replace(/\s+$/, ''))
    .filter(line => line.trim() !== '');
}

/** A form's content that the user got wrong: `message` says which line and why. */
export class FormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormError';
  }
}

/** `KEY=VALUE` lines as an environment (a line without `=` or a bad name is an error). */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines(text)) {
    const index = line.indexOf('=');
    const key = index < 0 ? line.trim() : line.slice(0, index).trim();
    if (index < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new FormError(
        `environment line ${JSON.stringify(line)} is not KEY=VALUE with a name of letters, ` +
          'digits and underscores'
      );
    }
    env[key] = line.slice(index + 1);
  }
  return env;
}

/**
 * One breakpoint line: `LINE`, `LINE:CONDITION`, `FILE:LINE` or `FILE:LINE:CONDITION`
 * (the CLI's `-b` syntax; a bare line is in `program`).
 */
export function parseBreakpoint(text: string, program: string): ILaunchBreakpoint {
  const match = /^(?:(.*?):)?(\d+)(?::(.*))?$/.exec(text.trim());
  if (!match) {
    throw new FormError(
      `breakpoint ${JSON.stringify(text)} is not LINE, FILE:LINE or FILE:LINE:CONDITION`
    );
  }
  const [, file, line, condition] = match;
  const path = file || program;
  if (!path) {
    throw new FormError(
      `breakpoint ${JSON.stringify(text)} names no file and there is no program to put it in`
    );
  }
  const number = Number(line);
  if (number < 1) {
    throw new FormError(`breakpoint ${JSON.stringify(text)}: lines count from 1`);
  }
  const breakpoint: ILaunchBreakpoint = { path, line: number };
  if (condition && condition.trim()) {
    breakpoint.condition = condition.trim();
  }
  return breakpoint;
}

/** What the launch dialog holds. */
export interface ILaunchForm {
  debugger: DebuggerName;
  target: 'program' | 'module';
  program: string;
  module: string;
  args: string;
  cwd: string;
  env: string;
  stopOnEntry: boolean;
  breakpoints: string;
  watches: string;
  /** Filter ids checked; null: the debugger's defaults. */
  exceptionFilters: string[] | null;
  name: string;
}

/** A launch form with nothing filled in (debugpy, a program). */
export function emptyLaunchForm(): ILaunchForm {
  return {
    debugger: 'debugpy',
    target: 'program',
    program: '',
    module: '',
    args: '',
    cwd: '',
    env: '',
    stopOnEntry: false,
    breakpoints: '',
    watches: '',
    exceptionFilters: null,
    name: ''
  };
}

/** The launch spec of a filled-in form (raises FormError naming what is wrong). */
export function launchSpec(form: ILaunchForm): ILaunchSpec {
  const spec: ILaunchSpec = { debugger: form.debugger };
  if (form.target === 'module') {
    if (form.debugger !== 'debugpy') {
      throw new FormError(`only debugpy runs a module; ${form.debugger} needs a program`);
    }
    if (!form.module.trim()) {
      throw new FormError('give the module to run (as in python -m MODULE)');
    }
    spec.module = form.module.trim();
  } else {
    if (!form.program.trim()) {
      throw new FormError('give the program to debug');
    }
    spec.program = form.program.trim();
  }
  // One argument per line, kept as typed (spaces included): argv, never a shell.
  const args = form.args.split('\n').filter(line => line !== '');
  if (args.length) {
    spec.args = args;
  }
  if (form.cwd.trim()) {
    spec.cwd = form.cwd.trim();
  }
  const env = parseEnv(form.env);
  if (Object.keys(env).length) {
    spec.env = env;
  }
  if (form.stopOnEntry) {
    spec.stop_on_entry = true;
  }
  const breakpoints = lines(form.breakpoints).map(line =>
    parseBreakpoint(line, spec.program ?? '')
  );
  if (breakpoints.length) {
    spec.breakpoints = breakpoints;
  }
  const watches = lines(form.watches).map(line => line.trim());
  if (watches.length) {
    spec.watches = watches;
  }
  if (form.exceptionFilters !== null) {
    spec.exception_breakpoints = form.exceptionFilters;
  }
  if (form.name.trim()) {
    spec.name = form.name.trim();
  }
  return spec;
}

/** The absolute URL of the Jupyter server as the browser sees it. */
export function serverUrl(origin: string, baseUrl: string): string {
  return new URL(baseUrl, origin).href;
}

/** The shell command that forwards a session to a local port for an IDE. */
export function forwardCommand(
  sessionId: string,
  url: string,
  secret: string,
  port: number
): string {
  return (
    `JUPYTER_DEBUG_SERVER_TOKEN=${secret} jupyter-debug-server forward ${sessionId} ` +
    `--port ${port} --url ${url}`
  );
}

/** VS Code's debug type for a debugger (with `debugServer` VS Code starts no adapter). */
export function vscodeType(name: DebuggerName): string {
  return name === 'debugpy' ? 'python' : name === 'lldb' ? 'lldb' : 'cppdbg';
}

/** A `.vscode/launch.json` that attaches to the forward's port. */
export function vscodeLaunchJson(session: ISession, port: number): string {
  const config = {
    version: '0.2.0',
    configurations: [
      {
        name: `Jupyter debug session ${session.name || session.id}`,
        type: vscodeType(session.debugger),
        request: 'attach',
        debugServer: port
      }
    ]
  };
  return JSON.stringify(config, null, 2);
}

/** `spec` with the editors' breakpoints added (a core file has none; the form's own win
 * on the same line). The editors' paths are absolute; the form's may be relative to the
 * working directory. */
export function withBreakpoints(spec: ILaunchSpec, gutters: ILaunchBreakpoint[]): ILaunchSpec {
  if (!gutters.length || spec.core) {
    return spec;
  }
  const given: ILaunchBreakpoint[] = spec.breakpoints ?? [];
  const resolve = (path: string) =>
    path.startsWith('/') ? path : `${(spec.cwd ?? '').replace(/\/+$/, '')}/${path}`;
  const taken = new Set(given.map(b => `${resolve(b.path)}:${b.line}`));
  const added = gutters.filter(b => !taken.has(`${b.path}:${b.line}`));
  return added.length ? { ...spec, breakpoints: [...given, ...added] } : spec;
}
