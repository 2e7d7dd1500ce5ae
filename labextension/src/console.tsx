/**
 * Two sections of the session debugger's sidebar: an evaluate console (expressions in
 * the selected frame; with gdb, its commands too) and the session's watch expressions
 * (`…/watches`: the same list the snapshots record), shown with their values in the
 * selected frame.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { DebugAPI } from './api';
import type { SessionDebugger } from './service';

/** One evaluation: what was asked and what came back (or why not). */
interface IEntry {
  input: string;
  output: string;
  error: boolean;
}

/** The console keeps this many entries (older ones scroll away for good). */
const HISTORY = 200;

/** Evaluate `expression` in the selected frame over the session's tunnel. */
async function evaluateIn(
  service: SessionDebugger,
  expression: string,
  context: 'repl' | 'watch'
): Promise<IEntry> {
  const tunnel = service.tunnel;
  if (!tunnel || tunnel.isClosed) {
    return { input: expression, output: 'no debug session is selected', error: true };
  }
  const reply = await tunnel.sendRequest('evaluate', {
    expression,
    context,
    frameId: service.model.callstack.frame?.id
  });
  return reply.success
    ? { input: expression, output: reply.body?.result ?? '', error: false }
    : { input: expression, output: reply.message ?? 'the debugger refused it', error: true };
}

export class EvaluateConsole extends ReactWidget {
  constructor(private readonly service: SessionDebugger) {
    super();
    this.id = 'jds-debugger-console';
    this.title.label = 'Console';
    this.title.caption = 'Evaluate expressions in the selected frame';
    this.addClass('jds-Console');
    service.sessionChanged.connect(() => {
      this._entries = [];
      this.update();
    }, this);
  }

  /** Evaluate one line (the input's Enter). */
  async run(expression: string): Promise<void> {
    const text = expression.trim();
    if (!text) {
      return;
    }
    this._recall = [...this._recall.filter(r => r !== text), text];
    const entry = await evaluateIn(this.service, text, 'repl');
    this._entries = [...this._entries, entry].slice(-HISTORY);
    this.update();
    // An expression may change what the variables show: read the frame again.
    if (!entry.error) {
      this.service.inspectAgain();
    }
  }

  render(): JSX.Element {
    const placeholder = this.service.tunnel
      ? 'expression (Enter to evaluate)'
      : 'select a debug session to evaluate';
    return (
      <div className="jds-Console-body">
        <ol className="jds-Console-log" aria-live="polite">
          {this._entries.map((entry, index) => (
            <li key={index} className={`jds-Console-entry${entry.error ? ' jds-mod-error' : ''}`}>
              <div className="jds-Console-input">{entry.input}</div>
              <pre className="jds-Console-output">{entry.output}</pre>
            </li>
          ))}
        </ol>
        <input
          type="text"
          className="jds-Console-prompt"
          aria-label="Evaluate"
          placeholder={placeholder}
          disabled={!this.service.tunnel}
          onKeyDown={event => this._onKey(event)}
        />
      </div>
    );
  }

  private _onKey(event: React.KeyboardEvent<HTMLInputElement>): void {
    const input = event.currentTarget;
    if (event.key === 'Enter') {
      const text = input.value;
      input.value = '';
      this._at = -1;
      void this.run(text);
    } else if (event.key === 'ArrowUp' || event.key === 'ArrowDown') {
      // Earlier lines, as in a shell.
      if (!this._recall.length) {
        return;
      }
      event.preventDefault();
      const last = this._recall.length - 1;
      this._at =
        event.key === 'ArrowUp'
          ? this._at < 0
            ? last
            : Math.max(0, this._at - 1)
          : this._at < 0 || this._at >= last
            ? -1
            : this._at + 1;
      input.value = this._at < 0 ? '' : this._recall[this._at];
    }
  }

  private _entries: IEntry[] = [];
  private _recall: string[] = [];
  private _at = -1;
}

export class WatchList extends ReactWidget {
  constructor(
    private readonly service: SessionDebugger,
    private readonly api: DebugAPI,
    private readonly report: (error: unknown) => void
  ) {
    super();
    this.id = 'jds-debugger-watches';
    this.title.label = 'Watches';
    this.title.caption = "The session's watch expressions, in the selected frame";
    this.addClass('jds-Watches');
    service.sessionChanged.connect(() => void this._load(), this);
    service.model.callstack.currentFrameChanged.connect(() => void this._evaluate(), this);
  }

  render(): JSX.Element {
    const enabled = this.service.tunnel !== null;
    return (
      <div className="jds-Watches-body">
        <ul className="jds-Watches-list">
          {this._watches.map((expression, index) => {
            const value = this._values.get(expression);
            return (
              <li key={expression} className="jds-Watch" data-expression={expression}>
                <span className="jds-Watch-expression">{expression}</span>
                <span className={`jds-Watch-value${value?.error ? ' jds-mod-error' : ''}`}>
                  {value ? value.output : '—'}
                </span>
                <button
                  className="jds-Watch-remove"
                  title={`Stop watching ${expression}`}
                  aria-label={`Remove watch ${expression}`}
                  onClick={() => void this._save(this._watches.filter((_, i) => i !== index))}
                >
                  ×
                </button>
              </li>
            );
          })}
        </ul>
        <input
          type="text"
          className="jds-Watches-add"
          aria-label="Add watch"
          placeholder={enabled ? 'add a watch expression (Enter)' : 'select a debug session'}
          disabled={!enabled}
          onKeyDown={event => {
            const text = event.currentTarget.value.trim();
            if (event.key === 'Enter' && text) {
              event.currentTarget.value = '';
              if (!this._watches.includes(text)) {
                void this._save([...this._watches, text]);
              }
            }
          }}
        />
      </div>
    );
  }

  private async _load(): Promise<void> {
    const tunnel = this.service.tunnel;
    this._watches = [];
    this._values.clear();
    this.update();
    if (!tunnel) {
      return;
    }
    try {
      const { watches } = await this.api.watches(tunnel.id);
      if (this.service.tunnel === tunnel) {
        this._watches = watches;
        await this._evaluate();
      }
    } catch (error) {
      this.report(error);
    }
  }

  private async _save(watches: string[]): Promise<void> {
    const tunnel = this.service.tunnel;
    if (!tunnel) {
      return;
    }
    try {
      const answer = await this.api.setWatches(tunnel.id, watches);
      this._watches = answer.watches;
      await this._evaluate();
    } catch (error) {
      this.report(error);
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._evaluate(); // (not evaluated while hidden)
  }

  /** Each watch's value in the selected frame (none while the program runs). */
  private async _evaluate(): Promise<void> {
    if (!this.isVisible) {
      return;
    }
    const generation = ++this._generation;
    const values = new Map<string, IEntry>();
    if (this.service.model.callstack.frame) {
      for (const expression of this._watches) {
        values.set(expression, await evaluateIn(this.service, expression, 'watch'));
      }
    }
    if (generation === this._generation) {
      this._values = values;
      this.update();
    }
  }

  private _watches: string[] = [];
  private _values = new Map<string, IEntry>();
  private _generation = 0;
}
