/**
 * Paging of large containers for JupyterLab's variables tree, which asks for every child
 * of a variable at once. A container whose `indexedVariables` is above PAGE shows groups
 * (`[0…99]`, `[100…199]`, … and groups of groups beyond PAGE²) that read their items with
 * DAP's `start`/`count` when opened, as VS Code does; named children follow the groups.
 * Every worker of ours honours `start`/`count` (debugpy's included, which pydevd alone
 * does not).
 *
 * Pure bookkeeping: `TunnelSession` gives it the responses it sees and asks it how to
 * answer a `variables` request. References live for one stop (`forget`).
 */

/** Children shown per group. */
export const PAGE = 100;

/** Our own references start here (the debuggers' are far below; DAP allows < 2³¹). */
const FIRST_GROUP = 2_000_000_000;

interface IVariable {
  name: string;
  value: string;
  variablesReference: number;
  indexedVariables?: number;
  namedVariables?: number;
  [key: string]: unknown;
}

/** One group: items [start, start + count) of the container `parent`. */
interface IGroup {
  parent: number;
  start: number;
  count: number;
}

/** How to answer a `variables` request: as it is, or groups and requests of our own. */
export type PagePlan =
  | { kind: 'forward' }
  | { kind: 'groups'; groups: IVariable[]; named: number | null }
  | { kind: 'items'; parent: number; start: number; count: number };

export class VariablePager {
  /** Learn the containers' sizes from a response's variables. */
  learn(variables: unknown): void {
    if (!Array.isArray(variables)) {
      return;
    }
    for (const v of variables as IVariable[]) {
      if (v && v.variablesReference > 0 && typeof v.indexedVariables === 'number') {
        this._sizes.set(v.variablesReference, {
          indexed: v.indexedVariables,
          named: typeof v.namedVariables === 'number' ? v.namedVariables : null
        });
      }
    }
  }

  /** How to answer `variables` of `reference` (without start/count of the client's own). */
  plan(reference: number): PagePlan {
    const group = this._groups.get(reference);
    if (group) {
      return group.count > PAGE
        ? { kind: 'groups', groups: this._split(group.parent, group.start, group.count), named: null }
        : { kind: 'items', parent: group.parent, start: group.start, count: group.count };
    }
    const size = this._sizes.get(reference);
    if (!size || size.indexed <= PAGE) {
      return { kind: 'forward' };
    }
    return {
      kind: 'groups',
      groups: this._split(reference, 0, size.indexed),
      // Asked for only when the debugger said there are some (gdb takes no `filter`).
      named: size.named ? reference : null
    };
  }

  /** The program ran on: every reference of the stop is gone. */
  forget(): void {
    this._sizes.clear();
    this._groups.clear();
    this._next = FIRST_GROUP;
  }

  /** Items [start, start + count) of `parent` as at most PAGE groups of equal span. */
  private _split(parent: number, start: number, count: number): IVariable[] {
    let span = PAGE;
    while (Math.ceil(count / span) > PAGE) {
      span *= PAGE;
    }
    const groups: IVariable[] = [];
    for (let first = start; first < start + count; first += span) {
      const size = Math.min(span, start + count - first);
      const reference = this._next++;
      this._groups.set(reference, { parent, start: first, count: size });
      groups.push({
        name: `[${first}…${first + size - 1}]`,
        // (No type: JupyterLab shows a variable's type, if it has one, not its value.)
        value: `${size} items`,
        variablesReference: reference,
        presentationHint: { kind: 'virtual' }
      });
    }
    return groups;
  }

  private _sizes = new Map<number, { indexed: number; named: number | null }>();
  private _groups = new Map<number, IGroup>();
  private _next = FIRST_GROUP;
}
