/**
 * JupyterLab's debugger service on our sessions: the stock `Debugger.Service` for the
 * call stack, variables and stepping, with the breakpoints made the session's own.
 *
 * An editor's gutter breakpoints are the session's breakpoints (`PUT …/breakpoints`),
 * the same ones its launch spec, the CLI's `break` and the panel set, with their
 * conditions, hit counts and log messages (the stock service would send bare lines over
 * the tunnel, as a client of its own, and drop them). Breakpoints of other DAP clients
 * (an IDE through the tunnel) are shown, marked, and left to their owner. With no
 * session selected, the gutters keep breakpoints for the next launch.
 *
 * What is where comes from the server (`debugInfo`, answered by the session's mux) and
 * is read again on every `breakpoint` event, so a change by any client shows within a
 * round trip.
 */
import { Debugger, IDebugger } from '@jupyterlab/debugger';

import { DebugAPI } from './api';
import { DraftSession, KERNEL_NAME, TunnelSession } from './tunnel';
import type { IBreakpointDetail, IBreakpointState, ILaunchBreakpoint } from './types';

/** One entry of the mux's `debugInfo` breakpoint listing. */
interface IListed {
  id?: number;
  line?: number;
  verified?: boolean;
  message?: string;
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
  owner?: string;
}

type Details = Map<number, IBreakpointDetail>;

/** A breakpoint that is not a plain one of ours: it logs, it has a condition or a hit
 * count, or another client set it. */
export type BreakpointKind = 'log' | 'conditional' | 'foreign';

/** Cells are not ours: a prefix no source path has. */
const TMP_PREFIX = '/jupyter-debug-server/cells/';

export namespace SessionDebugger {
  /** The stock service's options (config, mimetype service, …), and ours. */
  export type IOptions = ConstructorParameters<typeof Debugger.Service>[0] & IOwnOptions;
  export interface IOwnOptions {
    api: DebugAPI;
    /** Show an error to the user. */
    report: (error: unknown) => void;
    /** Tell the user something that is not an error. */
    inform: (message: string) => void;
  }
}

export class SessionDebugger extends Debugger.Service {
  constructor(options: SessionDebugger.IOptions) {
    super(options);
    this._api = options.api;
    this._report = options.report;
    this._inform = options.inform;
    // The config refuses to work without a kernel name (see KERNEL_NAME).
    this.config.setHashParams({ kernel: KERNEL_NAME, method: 'Murmur2', seed: 0 });
    this.config.setTmpFileParams({ kernel: KERNEL_NAME, prefix: TMP_PREFIX, suffix: '.py' });
    this.eventMessage.connect((_, event) => {
      if (event.event === 'breakpoint') {
        this._scheduleRefresh();
      } else if (event.event === 'stopped') {
        this._newStop = true;
      }
    });
    // The server tells the client that stepped no `continued` (its response said so),
    // and the stock service keeps a frame of the same id selected across stops: a new
    // stop selects its top frame, so the variables and the editors' line follow it.
    this.model.callstack.framesChanged.connect((callstack, frames) => {
      if (this._newStop && frames.length) {
        this._newStop = false;
        if (callstack.frame !== frames[0]) {
          callstack.frame = frames[0];
        }
      }
    });
    this.sessionChanged.connect(() => {
      this._answers.clear();
      this._foreign.clear();
    });
  }

  /** The lines of `path` in its open editor (null: not open, or not loaded yet); set by
   * the editors (editors.ts). Breakpoints past them are not shown there. */
  lineCount: (path: string) => number | null = () => null;

  /** Show the breakpoints again (an editor's lines changed). */
  render(): void {
    this._render();
  }

  /** The tunnel of the selected session, or null (no session: the draft). */
  get tunnel(): TunnelSession | null {
    return this.session instanceof TunnelSession ? this.session : null;
  }

  /** Read the selected frame's variables again (they were not read while hidden). */
  inspectAgain(): void {
    const { callstack } = this.model;
    if (callstack.frame) {
      callstack.frame = callstack.frame;
    }
  }

  /** What a breakpoint of ours at `line` of `path` asks for besides stopping. */
  detail(path: string, line: number): IBreakpointDetail | undefined {
    return this._own.get(path)?.get(line);
  }

  /** How each breakpoint line of `path` differs from a plain breakpoint of ours (the
   * gutter marks them). */
  kinds(path: string): { line: number; kind: BreakpointKind }[] {
    const out: { line: number; kind: BreakpointKind }[] = [];
    for (const [line, detail] of this._own.get(path) ?? []) {
      if (detail.log_message) {
        out.push({ line, kind: 'log' });
      } else if (detail.condition || detail.hit_condition) {
        out.push({ line, kind: 'conditional' });
      }
    }
    for (const b of this._foreign.get(path) ?? []) {
      if (typeof b.line === 'number' && this.isForeign(path, b.line)) {
        out.push({ line: b.line, kind: 'foreign' });
      }
    }
    return out;
  }

  /** Whether `line` of `path` has a breakpoint of another client only. */
  isForeign(path: string, line: number): boolean {
    return (
      !this._own.get(path)?.has(line) &&
      (this._foreign.get(path) ?? []).some(b => b.line === line)
    );
  }

  /** Set (or with `detail` null, remove) our breakpoint at `line` of `path`. */
  async setBreakpoint(path: string, line: number, detail: IBreakpointDetail | null): Promise<void> {
    const next: Details = new Map(this._own.get(path) ?? []);
    if (detail === null) {
      next.delete(line);
    } else {
      next.set(line, clean(detail));
    }
    await this._write(path, next);
  }

  /** The breakpoints a launch from this page carries: the gutters' (while no session is
   * selected, or the selected one's). */
  launchBreakpoints(): ILaunchBreakpoint[] {
    const out: ILaunchBreakpoint[] = [];
    for (const [path, lines] of this._own) {
      for (const [line, detail] of lines) {
        out.push({ path, line, ...detail });
      }
    }
    return out;
  }

  /** Called by a gutter with every line it shows for `path` (ours and others'). */
  async updateBreakpoints(
    _code: string,
    breakpoints: IDebugger.IBreakpoint[],
    path?: string
  ): Promise<void> {
    if (!path) {
      return;
    }
    const lines = new Set(
      breakpoints.map(b => b.line).filter((line): line is number => typeof line === 'number')
    );
    const own = this._own.get(path) ?? new Map();
    const foreign = new Set((this._foreign.get(path) ?? []).map(b => b.line));
    const next: Details = new Map();
    for (const line of [...lines].sort((a, b) => a - b)) {
      if (own.has(line) || !foreign.has(line)) {
        next.set(line, own.get(line) ?? {});
      }
    }
    const kept = [...foreign].filter(line => line !== undefined && !lines.has(line) && !own.has(line));
    if (kept.length) {
      this._inform(
        `The breakpoint at line ${kept.join(', ')} of ${path} belongs to another client of ` +
          'the session (an IDE or a tool on the DAP tunnel); remove it there.'
      );
    }
    await this._write(path, next);
  }

  /** Remove every breakpoint of ours (the breakpoints panel's button). */
  async clearBreakpoints(): Promise<void> {
    for (const path of [...this._own.keys()]) {
      await this._write(path, new Map());
    }
  }

  /** Join the session (start) and read its breakpoints; the draft shows the gutters'. */
  async restoreState(_autoStart: boolean): Promise<void> {
    const session = this.session;
    if (!session) {
      return;
    }
    if (session instanceof DraftSession) {
      this.model.title = 'No debug session selected';
      this._render();
      return;
    }
    this._own.clear();
    if (!session.isStarted) {
      // After configurationDone the server replays the stop: the stock service then
      // fetches the frames, and the editors highlight the line.
      await this.start();
    }
    this.model.title = session.connection?.name ?? '-';
    await this.refresh();
  }

  /** Read every breakpoint of the session again (`debugInfo`) and show them. */
  async refresh(): Promise<void> {
    const tunnel = this.tunnel;
    if (!tunnel) {
      return;
    }
    const reply = await tunnel.restoreState();
    if (!reply.success || this.session !== tunnel) {
      return;
    }
    const own = new Map<string, Details>();
    const foreign = new Map<string, IDebugger.IBreakpoint[]>();
    this._answers.clear();
    for (const { source, breakpoints } of reply.body.breakpoints) {
      for (const listed of breakpoints as IListed[]) {
        if (typeof listed.line !== 'number') {
          continue;
        }
        if (listed.owner === 'session') {
          const lines = own.get(source) ?? new Map();
          lines.set(
            listed.line,
            clean({
              condition: listed.condition,
              hit_condition: listed.hitCondition,
              log_message: listed.logMessage
            })
          );
          own.set(source, lines);
          const answers = this._answers.get(source) ?? new Map();
          answers.set(listed.line, listed);
          this._answers.set(source, answers);
        } else {
          const list = foreign.get(source) ?? [];
          list.push(shown(source, listed));
          foreign.set(source, list);
        }
      }
    }
    this._own = own;
    this._foreign = foreign;
    this._render();
  }

  /** Send `next` as the breakpoints of `path` (in order, one write per path at a time). */
  private async _write(path: string, next: Details): Promise<void> {
    this._own.set(path, next);
    const tunnel = this.tunnel;
    if (!tunnel || tunnel.isClosed) {
      this._render();
      return;
    }
    const previous = this._writes.get(path) ?? Promise.resolve();
    const write = previous.then(async () => {
      const items = [...(this._own.get(path) ?? new Map())].map(([line, detail]) => ({
        line,
        ...detail
      }));
      try {
        const answer = await this._api.setBreakpoints(tunnel.id, path, items);
        if (this.session !== tunnel) {
          return;
        }
        // The debugger may have moved a line (a blank one, say): keep what it placed.
        const placed: Details = new Map();
        const answers = new Map<number, IListed>();
        for (const b of answer.breakpoints) {
          placed.set(b.line, detailOf(b));
          answers.set(b.line, {
            id: b.id ?? undefined,
            line: b.line,
            verified: b.verified,
            message: b.message ?? undefined
          });
        }
        this._own.set(path, placed);
        this._answers.set(path, answers);
        this._render(path);
      } catch (error) {
        this._report(error);
        await this.refresh();
      }
    });
    this._writes.set(path, write);
    await write;
  }

  /** Put what we know into the model (the gutters and the breakpoints panel read it). */
  private _render(path?: string): void {
    const paths = path ? [path] : [...new Set([...this._own.keys(), ...this._foreign.keys()])];
    const all = new Map<string, IDebugger.IBreakpoint[]>();
    for (const p of paths) {
      const answers = this._answers.get(p);
      const list: IDebugger.IBreakpoint[] = [...(this._own.get(p)?.keys() ?? [])].map(line =>
        shown(p, answers?.get(line) ?? { line, verified: true })
      );
      for (const b of this._foreign.get(p) ?? []) {
        if (!list.some(o => o.line === b.line)) {
          list.push(b);
        }
      }
      list.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
      const lines = this.lineCount(p);
      all.set(p, lines === null ? list : list.filter(b => (b.line ?? 0) <= lines));
    }
    if (path) {
      this.model.breakpoints.setBreakpoints(path, all.get(path) ?? []);
    } else {
      this.model.breakpoints.restoreBreakpoints(all);
    }
  }

  private _scheduleRefresh(): void {
    // A client's change comes as one event per breakpoint: read once for the burst.
    clearTimeout(this._refreshTimer);
    this._refreshTimer = setTimeout(() => void this.refresh(), 50);
  }

  private _api: DebugAPI;
  private _report: (error: unknown) => void;
  private _inform: (message: string) => void;
  /** Ours (the session's own; the draft's while none is selected), by path and line. */
  private _own = new Map<string, Details>();
  /** The debugger's answers for ours: placed line, verified, message, id. */
  private _answers = new Map<string, Map<number, IListed>>();
  /** Other clients' breakpoints, by path. */
  private _foreign = new Map<string, IDebugger.IBreakpoint[]>();
  private _writes = new Map<string, Promise<void>>();
  private _refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private _newStop = false;
}

/** A breakpoint as the sidebar and the gutters show it (what each asks for besides
 * stopping, and whose it is, are in SessionDebugger's maps). */
function shown(path: string, listed: IListed): IDebugger.IBreakpoint {
  const out: IDebugger.IBreakpoint = {
    line: listed.line,
    verified: listed.verified ?? false,
    source: { path }
  };
  if (listed.id !== undefined) {
    out.id = listed.id;
  }
  if (listed.message) {
    out.message = listed.message;
  }
  return out;
}

function detailOf(b: IBreakpointState): IBreakpointDetail {
  return clean({
    condition: b.condition ?? undefined,
    hit_condition: b.hit_condition ?? undefined,
    log_message: b.log_message ?? undefined
  });
}

/** Only the fields that say something (an empty condition is no condition). */
export function clean(detail: IBreakpointDetail): IBreakpointDetail {
  const out: IBreakpointDetail = {};
  for (const key of ['condition', 'hit_condition', 'log_message'] as const) {
    const value = detail[key]?.trim();
    if (value) {
      out[key] = value;
    }
  }
  return out;
}
