/** The stop history of a session: one entry per stop, and the selected stop's variables. */
import * as React from 'react';

import { SessionFeed } from './feed';
import { basename } from './format';
import type { ISnapshot, ISnapshotVariable } from './types';

function VariableRow(props: { variable: ISnapshotVariable; depth: number }): JSX.Element {
  const { variable, depth } = props;
  const [open, setOpen] = React.useState(false);
  const children = variable.children ?? [];
  return (
    <>
      <tr className="jds-Variable" data-name={variable.name}>
        <td className="jds-Variable-name" style={{ paddingLeft: `${4 + depth * 12}px` }}>
          {children.length ? (
            <button
              type="button"
              className="jds-Expand"
              aria-expanded={open}
              aria-label={`${open ? 'Collapse' : 'Expand'} ${variable.name}`}
              onClick={() => setOpen(!open)}
            >
              {open ? '▾' : '▸'}
            </button>
          ) : null}
          {variable.name}
        </td>
        <td className="jds-Variable-value" title={variable.type}>
          {variable.value}
          {variable.truncated ? <span className="jds-Muted"> (cut)</span> : null}
        </td>
      </tr>
      {open
        ? children.map(child => (
            <VariableRow key={child.name} variable={child} depth={depth + 1} />
          ))
        : null}
    </>
  );
}

function SnapshotVariables(props: { snapshot: ISnapshot }): JSX.Element {
  const { snapshot } = props;
  return (
    <div className="jds-SnapshotVariables" data-seq={snapshot.seq}>
      {snapshot.frames.length ? (
        <div className="jds-Frames">
          {snapshot.frames.map((frame, index) => (
            <div key={index} className="jds-Frame">
              {frame.function ?? '?'}{' '}
              <span className="jds-Muted">
                {frame.path ? `${basename(frame.path)}:${frame.line ?? '?'}` : ''}
              </span>
            </div>
          ))}
        </div>
      ) : null}
      <table className="jds-VariableTable">
        <tbody>
          {snapshot.watches.map(watch => (
            <tr key={`watch:${watch.expression}`} className="jds-Variable jds-Watch">
              <td className="jds-Variable-name" title="watch expression">{watch.expression}</td>
              <td className={`jds-Variable-value${watch.error ? ' jds-Error' : ''}`}>
                {watch.error ?? watch.value}
              </td>
            </tr>
          ))}
          {snapshot.variables.map(scope => (
            <React.Fragment key={scope.scope}>
              {snapshot.variables.length > 1 ? (
                <tr className="jds-Scope">
                  <td colSpan={2}>{scope.scope}</td>
                </tr>
              ) : null}
              {scope.variables.map(variable => (
                <VariableRow key={variable.name} variable={variable} depth={0} />
              ))}
            </React.Fragment>
          ))}
        </tbody>
      </table>
      {!snapshot.complete ? (
        <div className="jds-Muted">
          The program ran on before this stop was fully recorded.
        </div>
      ) : null}
    </div>
  );
}

export function SnapshotTimeline(props: { feed: SessionFeed }): JSX.Element {
  const { feed } = props;
  const [, setTick] = React.useState(0);
  const [chosen, setChosen] = React.useState<number | null>(null);
  React.useEffect(() => {
    const rerender = () => setTick(tick => tick + 1);
    feed.snapshotsChanged.connect(rerender);
    setChosen(null);
    return () => {
      feed.snapshotsChanged.disconnect(rerender);
    };
  }, [feed]);
  const snapshots = feed.snapshots;
  if (!snapshots.length) {
    return <div className="jds-Muted jds-Empty">No stops yet.</div>;
  }
  // The latest stop is shown until another one is chosen.
  const shown = snapshots.find(s => s.seq === chosen) ?? snapshots[snapshots.length - 1];
  return (
    <div className="jds-Timeline">
      <ol className="jds-Snapshots" aria-label="Stops">
        {snapshots.map(snapshot => {
          const top = snapshot.frames[0];
          return (
            <li
              key={snapshot.seq}
              className={`jds-Snapshot${snapshot === shown ? ' jds-mod-selected' : ''}`}
              data-seq={snapshot.seq}
              aria-selected={snapshot === shown}
              onClick={() => setChosen(snapshot.seq)}
              title={snapshot.time}
            >
              <span className="jds-Snapshot-seq">#{snapshot.seq}</span>{' '}
              <span className="jds-Snapshot-where">
                {top && top.path ? `${basename(top.path)}:${top.line ?? '?'}` : '?'}
              </span>{' '}
              <span className="jds-Muted">{snapshot.reason ?? ''}</span>
            </li>
          );
        })}
      </ol>
      <SnapshotVariables snapshot={shown} />
    </div>
  );
}
