/**
 * The Debug Sessions panel: the server's sessions, live, and the selected one's controls,
 * stop location, output console and stop history.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { DebugServerError } from './api';
import { SessionFeed } from './feed';
import { locationText, targetText } from './format';
import { SessionsModel } from './sessions';
import { SnapshotTimeline } from './snapshots';
import { FINAL_STATES, IOutputChunk, ISession } from './types';

export type Control = 'continue' | 'pause' | 'over' | 'in' | 'out' | 'stop';

/** What the panel asks of the extension (commands, dialogs, the document manager). */
export interface IPanelActions {
  launch(): void;
  attach(): void;
  openCore(): void;
  share(session: ISession): void;
  control(session: ISession, control: Control): void;
  openLocation(path: string, line: number): void;
  feed(sessionId: string): SessionFeed;
}

/** The controls, their accessible names and whether a state allows them. */
export const CONTROLS: { control: Control; label: string; key: string; when: (s: ISession) => boolean }[] = [
  { control: 'continue', label: 'Continue', key: 'F5', when: s => s.state === 'stopped' },
  { control: 'pause', label: 'Pause', key: 'F6', when: s => s.state === 'running' },
  { control: 'over', label: 'Step Over', key: 'F10', when: s => s.state === 'stopped' },
  { control: 'in', label: 'Step Into', key: 'F11', when: s => s.state === 'stopped' },
  { control: 'out', label: 'Step Out', key: 'Shift+F11', when: s => s.state === 'stopped' },
  { control: 'stop', label: 'Stop', key: 'Shift+F5', when: s => !FINAL_STATES.has(s.state) }
];

/** 16×16 outline icons (SVG paths), drawn in the button's text colour. */
const ICONS: Record<Control, string> = {
  continue: 'M4 2.5v11l9-5.5z',
  pause: 'M4 2.5h3v11H4zM9 2.5h3v11H9z',
  over: 'M2 9a6 6 0 0 1 11-3.3V3h1.5v5h-5V6.5h2.4A4.5 4.5 0 0 0 3.5 9zM7 12.5a1.5 1.5 0 1 0 3 0 1.5 1.5 0 1 0-3 0',
  in: 'M7.25 1.5h1.5v6.4l2.2-2.2 1.06 1.06L8 10.77 3.99 6.76 5.05 5.7l2.2 2.2zM6.5 13a1.5 1.5 0 1 0 3 0 1.5 1.5 0 1 0-3 0',
  out: 'M8 1.23l4.01 4.01-1.06 1.06-2.2-2.2v6.4h-1.5V4.1l-2.2 2.2-1.06-1.06zM6.5 13a1.5 1.5 0 1 0 3 0 1.5 1.5 0 1 0-3 0',
  stop: 'M3.5 3.5h9v9h-9z'
};

function ControlIcon(props: { control: Control }): JSX.Element {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path d={ICONS[props.control]} fill="currentColor" />
    </svg>
  );
}

/** Re-render when a signal fires. */
function useSignalled(subscribe: (rerender: () => void) => () => void): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => subscribe(() => setTick(tick => tick + 1)), [subscribe]);
}

function SessionItem(props: {
  session: ISession;
  selected: boolean;
  onSelect: (id: string) => void;
}): JSX.Element {
  const { session, selected } = props;
  const location = locationText(session);
  return (
    <li
      className={`jds-SessionItem${selected ? ' jds-mod-selected' : ''}`}
      data-session-id={session.id}
      data-state={session.state}
      aria-selected={selected}
      role="option"
      tabIndex={-1}
      onClick={() => props.onSelect(session.id)}
      title={`${session.name} (${session.id})`}
    >
      <div className="jds-SessionItem-row">
        <span className={`jds-StateDot jds-state-${session.state}`} aria-hidden="true" />
        <span className="jds-SessionItem-name">{session.name || targetText(session)}</span>
        <span className="jds-SessionItem-debugger">{session.debugger}</span>
      </div>
      <div className="jds-SessionItem-row jds-SessionItem-meta">
        <span className="jds-SessionItem-state">{session.state}</span>
        <span className="jds-SessionItem-location">{location}</span>
        <span className="jds-SessionItem-exit">
          {session.exit_code !== null ? `exit ${session.exit_code}` : ''}
        </span>
        <span className="jds-SessionItem-clients" title="event streams open on it (this panel's among them)">
          {session.clients && !FINAL_STATES.has(session.state)
            ? `${session.clients} client${session.clients > 1 ? 's' : ''}`
            : ''}
        </span>
      </div>
    </li>
  );
}

function Controls(props: { session: ISession; actions: IPanelActions }): JSX.Element {
  const { session, actions } = props;
  return (
    <div className="jds-Controls" role="toolbar" aria-label="Session controls">
      {CONTROLS.map(({ control, label, key, when }) => (
        <button
          key={control}
          type="button"
          className={`jds-ControlButton jds-control-${control}`}
          aria-label={label}
          title={`${label} (${key})`}
          disabled={!when(session)}
          onClick={() => actions.control(session, control)}
        >
          <ControlIcon control={control} />
        </button>
      ))}
      <button
        type="button"
        className="jds-ControlButton jds-share"
        aria-label="Share…"
        title="Share this session with an IDE or another person (session tokens)"
        onClick={() => actions.share(session)}
      >
        Share…
      </button>
    </div>
  );
}

/** The console: chunks appended to the DOM as they come (no re-render of what is there). */
function OutputView(props: { feed: SessionFeed }): JSX.Element {
  const { feed } = props;
  const ref = React.useRef<HTMLPreElement>(null);
  const [hidden, setHidden] = React.useState(feed.hidden);
  React.useEffect(() => {
    const node = ref.current!;
    const append = (chunks: readonly IOutputChunk[]) => {
      const atEnd = node.scrollHeight - node.scrollTop - node.clientHeight < 24;
      const fragment = document.createDocumentFragment();
      for (const chunk of chunks) {
        const span = document.createElement('span');
        span.className = 'jds-OutputChunk';
        span.dataset.category = chunk.category;
        span.dataset.seq = String(chunk.seq);
        span.textContent = chunk.output;
        fragment.appendChild(span);
      }
      node.appendChild(fragment);
      let extra = node.childElementCount - feed.chunks.length;
      while (extra-- > 0 && node.firstChild) {
        node.removeChild(node.firstChild);
      }
      setHidden(feed.hidden);
      if (atEnd) {
        node.scrollTop = node.scrollHeight;
      }
    };
    node.textContent = '';
    append(feed.chunks);
    const onOutput = (_: SessionFeed, chunks: IOutputChunk[]) => append(chunks);
    feed.output.connect(onOutput);
    return () => {
      feed.output.disconnect(onOutput);
    };
  }, [feed]);
  return (
    <div className="jds-OutputSection">
      {hidden > 0 || feed.truncated ? (
        <div className="jds-OutputNote">
          {hidden > 0 ? `${hidden} earlier chunks are not shown here; ` : ''}
          {feed.truncated ? 'the server dropped the oldest output (retention); ' : ''}
          all kept output: <code>jupyter-debug-server logs {feed.sessionId}</code>
        </div>
      ) : null}
      <pre className="jds-Output" ref={ref} aria-label="Program output" tabIndex={0} />
    </div>
  );
}

function SessionDetail(props: {
  session: ISession;
  feed: SessionFeed;
  actions: IPanelActions;
}): JSX.Element {
  const { session, feed, actions } = props;
  const stopped = session.stopped;
  const location = locationText(session);
  return (
    <div className="jds-SessionDetail" data-session-id={session.id} data-state={session.state}>
      <div className="jds-SessionDetail-header">
        <span className="jds-SessionDetail-title" title={session.id}>
          {session.name || targetText(session)}
        </span>
        <span className={`jds-Badge jds-state-${session.state}`}>{session.state}</span>
        {session.pid !== null ? <span className="jds-Muted">pid {session.pid}</span> : null}
        {session.exit_code !== null ? (
          <span className="jds-Muted">exit code {session.exit_code}</span>
        ) : null}
      </div>
      <Controls session={session} actions={actions} />
      <div className="jds-Where">
        {stopped && stopped.path && stopped.line !== null ? (
          <>
            <span className="jds-Muted">{stopped.reason ?? 'stopped'} at </span>
            <a
              className="jds-Location"
              href="#"
              data-path={stopped.path}
              data-line={stopped.line}
              title={`${stopped.path}:${stopped.line} — open in an editor`}
              onClick={event => {
                event.preventDefault();
                actions.openLocation(stopped.path!, stopped.line!);
              }}
            >
              {location}
            </a>
            {stopped.name ? <span className="jds-Muted"> in {stopped.name}</span> : null}
          </>
        ) : (
          <span className="jds-Muted">
            {session.state === 'running'
              ? 'running'
              : session.state === 'starting'
                ? 'starting…'
                : ''}
          </span>
        )}
      </div>
      {session.error ? <div className="jds-Error">{session.error}</div> : null}
      <details className="jds-Section" open>
        <summary>Output</summary>
        <OutputView feed={feed} />
      </details>
      <details className="jds-Section" open>
        <summary>Stops</summary>
        <SnapshotTimeline feed={feed} />
      </details>
    </div>
  );
}

function PanelView(props: {
  model: SessionsModel;
  actions: IPanelActions;
  feed: () => SessionFeed | null;
}): JSX.Element {
  const { model, actions } = props;
  const subscribe = React.useCallback(
    (rerender: () => void) => {
      model.changed.connect(rerender);
      model.selectionChanged.connect(rerender);
      return () => {
        model.changed.disconnect(rerender);
        model.selectionChanged.disconnect(rerender);
      };
    },
    [model]
  );
  useSignalled(subscribe);
  const selected = model.selected;
  const feed = props.feed();
  return (
    <>
      <div className="jds-Toolbar" role="toolbar" aria-label="Debug sessions">
        <button type="button" aria-label="Launch…" title="Launch a program under a debugger" onClick={() => actions.launch()}>
          Launch…
        </button>
        <button type="button" aria-label="Attach…" title="Attach a debugger to a running process" onClick={() => actions.attach()}>
          Attach…
        </button>
        <button type="button" aria-label="Open Core…" title="Open a core file post mortem" onClick={() => actions.openCore()}>
          Open Core…
        </button>
      </div>
      {!model.connected ? (
        <div className="jds-Banner" role="status">
          Not connected to the server&apos;s session events; reconnecting…
        </div>
      ) : null}
      {model.loaded && model.sessions.length === 0 ? (
        <div className="jds-Empty">
          No debug sessions yet. Launch one, or right-click a <code>.py</code> file or a program
          in the file browser and choose “Debug with…”.
        </div>
      ) : null}
      <ul className="jds-SessionList" role="listbox" aria-label="Debug sessions">
        {model.sessions.map(session => (
          <SessionItem
            key={session.id}
            session={session}
            selected={session.id === model.selectedId}
            onSelect={id => model.select(id)}
          />
        ))}
      </ul>
      {selected && feed ? <SessionDetail session={selected} feed={feed} actions={actions} /> : null}
    </>
  );
}

/** The panel widget: owns the selected session's feed. */
export class SessionsPanel extends ReactWidget {
  constructor(
    readonly model: SessionsModel,
    private readonly actions: IPanelActions
  ) {
    super();
    this.id = 'jds-sessions-panel';
    this.addClass('jds-SessionsPanel');
    this.node.tabIndex = 0; // so that the keyboard shortcuts apply to the panel
    model.selectionChanged.connect(this._onSelection, this);
    this._onSelection();
  }

  /** The feed of the selected session (null when none is selected). */
  get feed(): SessionFeed | null {
    return this._feed;
  }

  dispose(): void {
    this._feed?.dispose();
    this._feed = null;
    super.dispose();
  }

  render(): JSX.Element {
    return <PanelView model={this.model} actions={this.actions} feed={() => this._feed} />;
  }

  private _onSelection(): void {
    const id = this.model.selectedId;
    if (this._feed?.sessionId === id) {
      return;
    }
    this._feed?.dispose();
    this._feed = id === null ? null : this.actions.feed(id);
  }

  private _feed: SessionFeed | null = null;
}

/** How a refusal reads in a notification. */
export function errorText(error: unknown): string {
  if (error instanceof DebugServerError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

