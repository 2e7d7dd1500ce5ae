/** The shapes of the debug server's REST and WebSocket messages (see openapi.yaml). */

export type SessionState =
  | 'starting'
  | 'running'
  | 'stopped'
  | 'exited'
  | 'terminated'
  | 'failed'
  | 'lost';

export const FINAL_STATES: ReadonlySet<string> = new Set([
  'exited',
  'terminated',
  'failed',
  'lost'
]);

export type DebuggerName = 'debugpy' | 'gdb' | 'lldb';

export interface IStopped {
  thread_id: number | null;
  reason: string | null;
  description: string | null;
  text: string | null;
  path: string | null;
  line: number | null;
  name: string | null;
  frame_id: number | null;
}

export interface ISession {
  id: string;
  name: string;
  debugger: DebuggerName;
  request: 'launch' | 'attach';
  state: SessionState;
  pid: number | null;
  exit_code: number | null;
  created: string;
  updated: string;
  owner: string;
  stopped: IStopped | null;
  error: string | null;
  clients: number;
  spec: {
    program?: string;
    module?: string;
    pid?: number;
    core?: string;
    cwd?: string;
    args?: string[];
    [key: string]: unknown;
  };
  links: Record<string, string>;
}

export interface IExceptionFilter {
  id: string;
  label: string;
  default: boolean;
}

export interface IDebugger {
  name: DebuggerName;
  available: boolean;
  version: string | null;
  path: string | null;
  reason: string | null;
  exception_filters: IExceptionFilter[];
}

export interface ILaunchBreakpoint {
  path: string;
  line: number;
  condition?: string;
  hit_condition?: string;
  log_message?: string;
}

/** A breakpoint of the session's own (`…/breakpoints`): the launch spec's, the CLI's,
 * the editors'. */
export interface IBreakpointState {
  line: number;
  requested_line: number;
  verified: boolean;
  message: string | null;
  id: number | null;
  condition: string | null;
  hit_condition: string | null;
  log_message: string | null;
}

export interface IBreakpointsOfSource {
  path: string;
  breakpoints: IBreakpointState[];
}

/** What a breakpoint asks for besides its line (our field names; empty means unset). */
export interface IBreakpointDetail {
  condition?: string;
  hit_condition?: string;
  log_message?: string;
}

export interface ILaunchSpec {
  debugger?: DebuggerName;
  request?: 'launch' | 'attach';
  program?: string;
  module?: string;
  pid?: number;
  core?: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  stop_on_entry?: boolean;
  breakpoints?: ILaunchBreakpoint[];
  exception_breakpoints?: string[];
  watches?: string[];
  name?: string;
}

export interface IOutputChunk {
  seq: number;
  category: string;
  output: string;
  time: string;
}

export interface IOutputPage {
  items: IOutputChunk[];
  next: number;
  truncated: boolean;
  state: SessionState;
}

export interface ISnapshotVariable {
  name: string;
  type: string;
  value: string;
  has_children: boolean;
  children?: ISnapshotVariable[];
  truncated?: boolean;
}

export interface ISnapshot {
  seq: number;
  time: string;
  thread_id: number | null;
  reason: string | null;
  description: string | null;
  frames: { function: string | null; path: string | null; line: number | null }[];
  variables: { scope: string; variables: ISnapshotVariable[] }[];
  watches: { expression: string; value?: string; type?: string; error?: string }[];
  complete: boolean;
  truncated: boolean;
}

export interface ISnapshotPage {
  items: ISnapshot[];
  next: number;
  truncated: boolean;
  state: SessionState;
}

export interface IToken {
  id: string;
  session_id: string;
  scope: 'control' | 'observe';
  created: string;
  expires: string;
  revoked: boolean;
  active: boolean;
}

export interface IIssuedToken {
  id: string;
  session_id: string;
  scope: 'control' | 'observe';
  created: string;
  expires: string;
  secret: string;
}

export interface IProcess {
  pid: number;
  name: string;
  cmdline: string[];
  started: string;
  user: string;
}

/** A frame of the server-wide events socket (`/api/debug/events`). */
export type ServerEvent =
  | { type: 'sessions'; sessions: ISession[] }
  | { type: 'session'; session: ISession };

/** A frame of a session's events socket (`…/events`). */
export type SessionEvent =
  | { type: 'state'; session: ISession }
  | { type: 'dap'; event: { event: string; body?: Record<string, unknown> } }
  | { type: 'snapshot'; snapshot: ISnapshot };
