/**
 * The share dialog: issue a session token (observe or control, with a lifetime), show the
 * ready-to-paste forward command and VS Code configuration, list and revoke tokens.
 */
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { DebugAPI } from './api';
import { forwardCommand, vscodeLaunchJson } from './format';
import type { IIssuedToken, ISession, IToken } from './types';

/** The port the snippets use: the forward and launch.json must agree on one. */
export const SNIPPET_PORT = 4711;

function Snippet(props: { className: string; label: string; text: string }): JSX.Element {
  return (
    <div className="jds-Snippet">
      <div className="jds-Snippet-header">
        <span>{props.label}</span>
        <button type="button" aria-label={`Copy ${props.label}`} onClick={() => Clipboard.copyToSystem(props.text)}>
          Copy
        </button>
      </div>
      <pre className={props.className}>{props.text}</pre>
    </div>
  );
}

function ShareView(props: {
  api: DebugAPI;
  session: ISession;
  serverUrl: string;
  report: (error: unknown) => void;
}): JSX.Element {
  const { api, session, report } = props;
  const [scope, setScope] = React.useState<'control' | 'observe'>('observe');
  const [ttl, setTtl] = React.useState('3600');
  const [issued, setIssued] = React.useState<IIssuedToken | null>(null);
  const [tokens, setTokens] = React.useState<IToken[] | null>(null);
  const [busy, setBusy] = React.useState(false);
  const refresh = React.useCallback(() => {
    api.tokens(session.id).then(setTokens, report);
  }, [api, session.id]);
  React.useEffect(refresh, [refresh]);
  const issue = async () => {
    const seconds = Number(ttl.trim());
    if (!Number.isInteger(seconds) || seconds < 1) {
      report(new Error(`lifetime ${JSON.stringify(ttl)} is not a positive whole number of seconds`));
      return;
    }
    setBusy(true);
    try {
      setIssued(await api.issueToken(session.id, scope, seconds));
      refresh();
    } catch (error) {
      report(error);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (token: IToken) => {
    try {
      await api.revokeToken(session.id, token.id);
      if (issued?.id === token.id) {
        setIssued(null);
      }
    } catch (error) {
      report(error);
    }
    refresh();
  };
  return (
    <div className="jds-ShareForm">
      <p className="jds-Muted">
        A session token lets an IDE, a script or another person reach this session only:
        <em> observe</em> reads (stack, variables, output), <em>control</em> also steps and
        evaluates. The secret is shown once.
      </p>
      <div className="jds-ShareRow">
        <label className="jds-Field">
          <span className="jds-Field-label">Scope</span>
          <select name="scope" value={scope} onChange={e => setScope(e.target.value as 'control' | 'observe')}>
            <option value="observe">observe (read only)</option>
            <option value="control">control</option>
          </select>
        </label>
        <label className="jds-Field">
          <span className="jds-Field-label">Lifetime (s)</span>
          <input type="text" name="ttl" inputMode="numeric" value={ttl} onChange={e => setTtl(e.target.value)} />
        </label>
        <button type="button" className="jp-mod-styled jp-mod-accept" disabled={busy} onClick={issue}>
          Issue token
        </button>
      </div>
      {issued ? (
        <div className="jds-Issued" data-token-id={issued.id}>
          <Snippet className="jds-Secret" label="Secret (shown only now)" text={issued.secret} />
          <Snippet
            className="jds-ForwardCommand"
            label="Forward for an IDE (run on the IDE's machine)"
            text={forwardCommand(session.id, props.serverUrl, issued.secret, SNIPPET_PORT)}
          />
          <Snippet
            className="jds-LaunchJson"
            label="VS Code .vscode/launch.json"
            text={vscodeLaunchJson(session, SNIPPET_PORT)}
          />
        </div>
      ) : null}
      <h4>Tokens of this session</h4>
      {tokens && tokens.length === 0 ? <div className="jds-Muted">none</div> : null}
      <ul className="jds-TokenList">
        {(tokens ?? []).map(token => (
          <li
            key={token.id}
            className={`jds-Token${token.active ? '' : ' jds-mod-inactive'}`}
            data-token-id={token.id}
            data-active={token.active}
          >
            <code>{token.id}</code> {token.scope}{' '}
            <span className="jds-Muted">
              {token.revoked ? 'revoked' : token.active ? `until ${token.expires}` : 'expired or ended'}
            </span>
            {token.active ? (
              <button type="button" aria-label={`Revoke ${token.id}`} onClick={() => revoke(token)}>
                Revoke
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

class ShareBody extends ReactWidget {
  constructor(private readonly view: () => JSX.Element) {
    super();
    this.addClass('jds-Dialog');
  }
  render(): JSX.Element {
    return this.view();
  }
}

export async function shareDialog(
  api: DebugAPI,
  session: ISession,
  serverUrl: string,
  report: (error: unknown) => void
): Promise<void> {
  await showDialog({
    title: `Share session ${session.name || session.id}`,
    body: new ShareBody(() => (
      <ShareView api={api} session={session} serverUrl={serverUrl} report={report} />
    )),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
