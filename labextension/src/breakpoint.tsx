/**
 * The breakpoint dialog of a gutter's right-click: a condition, a hit count or a log
 * message for one line (what JupyterLab's own gutter cannot say).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { Field, FormBody, useForm } from './launch';
import type { IBreakpointDetail } from './types';

/** What the dialog decided: a breakpoint with these details, its removal, or nothing. */
export type BreakpointChoice = { detail: IBreakpointDetail } | 'remove' | null;

function BreakpointForm(props: {
  initial: IBreakpointDetail;
  onChange: (value: IBreakpointDetail) => void;
}): JSX.Element {
  const [form, update] = useForm(props.initial, props.onChange);
  const text = (name: keyof IBreakpointDetail) => ({
    name,
    value: form[name] ?? '',
    onChange: (event: React.ChangeEvent<HTMLInputElement>) => update({ [name]: event.target.value })
  });
  return (
    <form className="jds-BreakpointForm" onSubmit={event => event.preventDefault()}>
      <Field label="Condition" hint="stop only when this expression is true (in the program's language)">
        <input type="text" {...text('condition')} autoFocus />
      </Field>
      <Field label="Hit count" hint="stop only on these hits, e.g. 3 or >= 5 (as the debugger reads it)">
        <input type="text" {...text('hit_condition')} />
      </Field>
      <Field label="Log message" hint="print this instead of stopping; {expression} parts are evaluated">
        <input type="text" {...text('log_message')} />
      </Field>
    </form>
  );
}

/** Ask how the breakpoint at `line` of `path` should behave. */
export async function breakpointDialog(
  path: string,
  line: number,
  current: IBreakpointDetail | undefined
): Promise<BreakpointChoice> {
  const name = path.split('/').pop() ?? path;
  const buttons = [
    Dialog.cancelButton(),
    ...(current ? [Dialog.warnButton({ label: 'Remove' })] : []),
    Dialog.okButton({ label: current ? 'Save' : 'Add' })
  ];
  const result = await showDialog({
    title: `Breakpoint at ${name}:${line}`,
    body: new FormBody<IBreakpointDetail>(
      { ...(current ?? {}) },
      (value, onChange) => <BreakpointForm initial={value} onChange={onChange} />,
      null
    ),
    buttons
  });
  if (!result.button.accept) {
    return null;
  }
  if (result.button.displayType === 'warn') {
    return 'remove';
  }
  return { detail: result.value ?? {} };
}
