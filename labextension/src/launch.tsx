/**
 * The launch, attach and open-core dialogs: forms whose values become launch specs.
 * The server validates them; its refusal is shown with the form open again.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { DebugAPI } from './api';
import { ILaunchForm, launchSpec } from './format';
import type { DebuggerName, IDebugger, ILaunchSpec, IProcess } from './types';

/** Each debugger with its availability; an unavailable one shows the server's install hint. */
function DebuggerPicker(props: {
  debuggers: IDebugger[];
  value: DebuggerName;
  only?: DebuggerName[];
  onChange: (name: DebuggerName) => void;
}): JSX.Element {
  const shown = props.debuggers.filter(d => !props.only || props.only.includes(d.name));
  return (
    <fieldset className="jds-DebuggerPicker">
      <legend>Debugger</legend>
      <select
        name="debugger"
        value={props.value}
        onChange={event => props.onChange(event.target.value as DebuggerName)}
      >
        {shown.map(d => (
          <option key={d.name} value={d.name} disabled={!d.available}>
            {d.name}
            {d.available ? '' : ' (not available)'}
          </option>
        ))}
      </select>
      <ul className="jds-DebuggerStatusList">
        {shown.map(d => (
          <li
            key={d.name}
            className={`jds-DebuggerStatus${d.available ? '' : ' jds-mod-unavailable'}`}
            data-debugger={d.name}
            data-available={d.available}
          >
            <strong>{d.name}</strong>{' '}
            {d.available ? `available${d.version ? ` (${d.version})` : ''}` : d.reason}
          </li>
        ))}
      </ul>
    </fieldset>
  );
}

export function Field(props: { label: string; hint?: string; children: React.ReactNode }): JSX.Element {
  return (
    <label className="jds-Field">
      <span className="jds-Field-label">{props.label}</span>
      {props.children}
      {props.hint ? <span className="jds-Field-hint">{props.hint}</span> : null}
    </label>
  );
}

/** A form's state: the value, and an update that also tells the dialog. */
export function useForm<T>(initial: T, onChange: (value: T) => void): [T, (patch: Partial<T>) => void] {
  const [form, setForm] = React.useState(initial);
  const update = (patch: Partial<T>) => {
    const next = { ...form, ...patch };
    setForm(next);
    onChange(next);
  };
  return [form, update];
}

function LaunchFormView(props: {
  debuggers: IDebugger[];
  initial: ILaunchForm;
  onChange: (form: ILaunchForm) => void;
  /** Breakpoints the launch also sets (the editors' gutters), for the user to see. */
  gutters?: number;
}): JSX.Element {
  const [form, update] = useForm(props.initial, props.onChange);
  const probe = props.debuggers.find(d => d.name === form.debugger);
  const filters = probe?.exception_filters ?? [];
  const checked = form.exceptionFilters ?? filters.filter(f => f.default).map(f => f.id);
  const text = (name: keyof ILaunchForm) => ({
    name,
    value: form[name] as string,
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
      update({ [name]: event.target.value } as Partial<ILaunchForm>)
  });
  return (
    <form className="jds-LaunchForm" onSubmit={event => event.preventDefault()}>
      <DebuggerPicker
        debuggers={props.debuggers}
        value={form.debugger}
        onChange={name => update({ debugger: name, exceptionFilters: null })}
      />
      <fieldset className="jds-Target">
        <legend>Target</legend>
        <label className="jds-Radio">
          <input
            type="radio"
            name="target"
            value="program"
            checked={form.target === 'program'}
            onChange={() => update({ target: 'program' })}
          />
          Program
        </label>
        <label className="jds-Radio">
          <input
            type="radio"
            name="target"
            value="module"
            checked={form.target === 'module'}
            disabled={form.debugger !== 'debugpy'}
            onChange={() => update({ target: 'module' })}
          />
          Python module
        </label>
        {form.target === 'program' ? (
          <Field label="Program" hint="a script or an executable; relative to the working directory">
            <input type="text" {...text('program')} autoFocus />
          </Field>
        ) : (
          <Field label="Module" hint="run as python -m MODULE">
            <input type="text" {...text('module')} />
          </Field>
        )}
      </fieldset>
      <Field label="Breakpoints" hint="one per line: LINE, LINE:CONDITION, FILE:LINE or FILE:LINE:CONDITION">
        <textarea rows={2} {...text('breakpoints')} />
      </Field>
      {props.gutters ? (
        <p className="jds-LaunchForm-gutters">
          {props.gutters === 1
            ? "and 1 breakpoint set in an editor's gutter"
            : `and ${props.gutters} breakpoints set in the editors' gutters`}
        </p>
      ) : null}
      <Field label="Arguments" hint="one per line, passed as they are (no shell)">
        <textarea rows={2} {...text('args')} />
      </Field>
      <Field label="Working directory" hint="relative to the server's root; empty: the root">
        <input type="text" {...text('cwd')} />
      </Field>
      <Field label="Environment" hint="KEY=VALUE, one per line">
        <textarea rows={2} {...text('env')} />
      </Field>
      <Field label="Watches" hint="expressions evaluated at every stop, one per line">
        <textarea rows={2} {...text('watches')} />
      </Field>
      <label className="jds-Check">
        <input
          type="checkbox"
          name="stop_on_entry"
          checked={form.stopOnEntry}
          onChange={event => update({ stopOnEntry: event.target.checked })}
        />
        Stop on entry
      </label>
      {filters.length ? (
        <fieldset className="jds-ExceptionFilters">
          <legend>Stop on exceptions</legend>
          {filters.map(filter => (
            <label key={filter.id} className="jds-Check">
              <input
                type="checkbox"
                name="exception_filter"
                value={filter.id}
                checked={checked.includes(filter.id)}
                onChange={event =>
                  update({
                    exceptionFilters: event.target.checked
                      ? [...checked, filter.id]
                      : checked.filter(id => id !== filter.id)
                  })
                }
              />
              {filter.label}
            </label>
          ))}
        </fieldset>
      ) : null}
      <Field label="Name" hint="optional; shown in the session list">
        <input type="text" {...text('name')} />
      </Field>
    </form>
  );
}

/** A dialog body whose value is whatever its form holds. */
export class FormBody<T> extends ReactWidget implements Dialog.IBodyWidget<T> {
  constructor(
    private _value: T,
    private readonly view: (value: T, onChange: (value: T) => void) => JSX.Element,
    private readonly error: string | null
  ) {
    super();
    this.addClass('jds-Dialog');
  }
  getValue(): T {
    return this._value;
  }
  render(): JSX.Element {
    return (
      <>
        {this.error ? (
          // The whole sentence (a notification cuts it short, and sits under the dialog).
          <div className="jds-FormError" role="alert">
            {this.error}
          </div>
        ) : null}
        {this.view(this._value, value => (this._value = value))}
      </>
    );
  }
}

/** What a form submission gives: null when the server took it, else the sentence why not. */
export type Refusal = string | null;


/**
 * Show a form until it yields a spec the server takes: `submit` launches it (and reports
 * a refusal itself); the form opens again, as filled in and with the refusal on top,
 * until it succeeds or is cancelled.
 */
async function formLoop<T>(
  title: string,
  accept: string,
  initial: T,
  view: (value: T, onChange: (value: T) => void) => JSX.Element,
  submit: (value: T) => Promise<Refusal>
): Promise<void> {
  let value = initial;
  let error: Refusal = null;
  for (;;) {
    const result = await showDialog({
      title,
      body: new FormBody(value, view, error),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: accept })],
      focusNodeSelector: 'input[type=text]'
    });
    if (!result.button.accept || result.value === null) {
      return;
    }
    value = result.value;
    error = await submit(value);
    if (error === null) {
      return;
    }
  }
}

/** The launch dialog. `launch` sends the spec and says whether the server took it. */
export async function launchDialog(
  debuggers: IDebugger[],
  initial: ILaunchForm,
  launch: (spec: ILaunchSpec) => Promise<Refusal>,
  gutters = 0
): Promise<void> {
  await formLoop(
    'Launch a debug session',
    'Launch',
    initial,
    (value, onChange) => (
      <LaunchFormView
        debuggers={debuggers}
        initial={value}
        onChange={onChange}
        gutters={gutters}
      />
    ),
    async form => {
      let spec: ILaunchSpec;
      try {
        spec = launchSpec(form);
      } catch (error) {
        return (error as Error).message;
      }
      return launch(spec);
    }
  );
}

interface IAttachForm {
  debugger: DebuggerName;
  pid: string;
}

function ProcessPicker(props: {
  api: DebugAPI;
  value: string;
  onPick: (process: IProcess) => void;
}): JSX.Element {
  const [filter, setFilter] = React.useState('');
  const [processes, setProcesses] = React.useState<IProcess[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      props.api.processes(filter).then(
        list => live && (setProcesses(list), setError(null)),
        reason => live && setError(String(reason?.message ?? reason))
      );
    }, 150); // (typing: ask once the user pauses)
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [filter]);
  return (
    <div className="jds-ProcessPicker">
      <input
        type="search"
        name="process_filter"
        placeholder="Filter your processes by name or command line"
        value={filter}
        onChange={event => setFilter(event.target.value)}
      />
      {error ? <div className="jds-Error">{error}</div> : null}
      <ul className="jds-ProcessList" role="listbox" aria-label="Your processes">
        {(processes ?? []).slice(0, 200).map(p => (
          <li
            key={p.pid}
            className={`jds-Process${String(p.pid) === props.value ? ' jds-mod-selected' : ''}`}
            data-pid={p.pid}
            role="option"
            aria-selected={String(p.pid) === props.value}
            onClick={() => props.onPick(p)}
            title={p.cmdline.join(' ')}
          >
            <span className="jds-Process-pid">{p.pid}</span>{' '}
            <span className="jds-Process-name">{p.name}</span>{' '}
            <span className="jds-Muted">{p.cmdline.join(' ')}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function AttachFormView(props: {
  api: DebugAPI;
  debuggers: IDebugger[];
  initial: IAttachForm;
  onChange: (form: IAttachForm) => void;
}): JSX.Element {
  const [form, update] = useForm(props.initial, props.onChange);
  return (
    <form className="jds-AttachForm" onSubmit={event => event.preventDefault()}>
      <DebuggerPicker
        debuggers={props.debuggers}
        value={form.debugger}
        onChange={name => update({ debugger: name })}
      />
      <Field label="Process id">
        <input
          type="text"
          name="pid"
          inputMode="numeric"
          value={form.pid}
          onChange={event => update({ pid: event.target.value })}
        />
      </Field>
      <ProcessPicker
        api={props.api}
        value={form.pid}
        onPick={process =>
          // A Python process is debugpy's; keep the user's choice for anything else.
          update({
            pid: String(process.pid),
            ...(/python/i.test(process.name) ? { debugger: 'debugpy' as DebuggerName } : {})
          })
        }
      />
    </form>
  );
}

export async function attachDialog(
  api: DebugAPI,
  debuggers: IDebugger[],
  launch: (spec: ILaunchSpec) => Promise<Refusal>
): Promise<void> {
  await formLoop<IAttachForm>(
    'Attach to a process',
    'Attach',
    { debugger: 'gdb', pid: '' },
    (value, onChange) => (
      <AttachFormView api={api} debuggers={debuggers} initial={value} onChange={onChange} />
    ),
    async form => {
      const pid = Number(form.pid.trim());
      if (!Number.isInteger(pid) || pid < 1) {
        return `process id ${JSON.stringify(form.pid)} is not a positive whole number`;
      }
      return launch({ debugger: form.debugger, request: 'attach', pid });
    }
  );
}

interface ICoreForm {
  debugger: DebuggerName;
  core: string;
  program: string;
}

function CoreFormView(props: {
  debuggers: IDebugger[];
  initial: ICoreForm;
  onChange: (form: ICoreForm) => void;
}): JSX.Element {
  const [form, update] = useForm(props.initial, props.onChange);
  return (
    <form className="jds-CoreForm" onSubmit={event => event.preventDefault()}>
      <DebuggerPicker
        debuggers={props.debuggers}
        only={['gdb', 'lldb']}
        value={form.debugger}
        onChange={name => update({ debugger: name })}
      />
      <Field label="Core file" hint="relative to the server's root">
        <input type="text" name="core" value={form.core} onChange={e => update({ core: e.target.value })} />
      </Field>
      <Field label="Program" hint="the executable that dumped it">
        <input type="text" name="program" value={form.program} onChange={e => update({ program: e.target.value })} />
      </Field>
    </form>
  );
}

export async function coreDialog(
  debuggers: IDebugger[],
  initial: { core?: string; program?: string },
  launch: (spec: ILaunchSpec) => Promise<Refusal>
): Promise<void> {
  const native = debuggers.find(d => d.name !== 'debugpy' && d.available)?.name ?? 'gdb';
  await formLoop<ICoreForm>(
    'Open a core file',
    'Open',
    { debugger: native, core: initial.core ?? '', program: initial.program ?? '' },
    (value, onChange) => <CoreFormView debuggers={debuggers} initial={value} onChange={onChange} />,
    async form => {
      if (!form.core.trim() || !form.program.trim()) {
        return 'give both the core file and the program that dumped it';
      }
      return launch({ debugger: form.debugger, core: form.core.trim(), program: form.program.trim() });
    }
  );
}
