/**
 * Marks on an editor's breakpoint gutter for what JupyterLab's markers cannot say: a
 * breakpoint with a condition or a hit count, a log point, another client's breakpoint.
 * A CodeMirror state field of gutter line classes (the stylesheet colours the marker).
 */
import { RangeSet, StateEffect, StateField } from '@codemirror/state';
import type { Extension } from '@codemirror/state';
import { GutterMarker, gutterLineClass } from '@codemirror/view';
import type { EditorView } from '@codemirror/view';

import type { BreakpointKind } from './service';

class KindMarker extends GutterMarker {
  constructor(readonly elementClass: string) {
    super();
  }
  eq(other: GutterMarker): boolean {
    return other instanceof KindMarker && other.elementClass === this.elementClass;
  }
}

const MARKERS: Record<BreakpointKind, KindMarker> = {
  conditional: new KindMarker('jds-bp-conditional'),
  log: new KindMarker('jds-bp-log'),
  foreign: new KindMarker('jds-bp-foreign')
};

type Kinds = { line: number; kind: BreakpointKind }[];

const setKinds = StateEffect.define<Kinds>();

/** The extension to add to an editor once. */
export const breakpointKinds: Extension = StateField.define<RangeSet<GutterMarker>>({
  create: () => RangeSet.empty,
  update: (marks, transaction) => {
    for (const effect of transaction.effects) {
      if (effect.is(setKinds)) {
        const doc = transaction.state.doc;
        const ranges = effect.value
          .filter(k => k.line >= 1 && k.line <= doc.lines)
          .sort((a, b) => a.line - b.line)
          .map(k => MARKERS[k.kind].range(doc.line(k.line).from));
        return RangeSet.of(ranges, true);
      }
    }
    return marks.map(transaction.changes);
  },
  provide: field => gutterLineClass.from(field)
});

/** Show `kinds` in `view` (it has `breakpointKinds`). */
export function showKinds(view: EditorView, kinds: Kinds): void {
  view.dispatch({ effects: setKinds.of(kinds) });
}
