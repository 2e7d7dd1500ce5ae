import { PAGE, VariablePager } from '../src/paging';

const container = (ref: number, indexed: number, named?: number) => ({
  name: `v${ref}`,
  value: '',
  variablesReference: ref,
  indexedVariables: indexed,
  ...(named === undefined ? {} : { namedVariables: named })
});

describe('VariablePager', () => {
  it('forwards what is small or unknown', () => {
    const pager = new VariablePager();
    pager.learn([container(5, PAGE), { name: 'x', value: '1', variablesReference: 0 }]);
    expect(pager.plan(5)).toEqual({ kind: 'forward' });
    expect(pager.plan(6)).toEqual({ kind: 'forward' });
  });

  it('splits a large container into groups that read their items with start/count', () => {
    const pager = new VariablePager();
    pager.learn([container(7, 250, 2)]);
    const plan = pager.plan(7);
    if (plan.kind !== 'groups') {
      throw new Error(`not groups: ${plan.kind}`);
    }
    expect(plan.groups.map(g => g.name)).toEqual(['[0…99]', '[100…199]', '[200…249]']);
    expect(plan.named).toBe(7);
    expect(pager.plan(plan.groups[2].variablesReference)).toEqual({
      kind: 'items',
      parent: 7,
      start: 200,
      count: 50
    });
    // References are unique, positive and DAP-sized.
    const refs = plan.groups.map(g => g.variablesReference);
    expect(new Set(refs).size).toBe(3);
    expect(refs.every(r => r > 0 && r < 2 ** 31)).toBe(true);
  });

  it('nests groups beyond PAGE × PAGE items, and names no named children unasked', () => {
    const pager = new VariablePager();
    pager.learn([container(9, 25_000)]);
    const top = pager.plan(9);
    if (top.kind !== 'groups') {
      throw new Error('not groups');
    }
    expect(top.named).toBeNull();
    expect(top.groups.map(g => g.name)).toEqual(['[0…9999]', '[10000…19999]', '[20000…24999]']);
    const inner = pager.plan(top.groups[1].variablesReference);
    if (inner.kind !== 'groups') {
      throw new Error('not groups');
    }
    expect(inner.groups).toHaveLength(100);
    expect(inner.groups[0].name).toBe('[10000…10099]');
    expect(pager.plan(inner.groups[0].variablesReference)).toMatchObject({
      kind: 'items',
      parent: 9,
      start: 10_000,
      count: 100
    });
  });

  it('forgets every reference when the program runs on', () => {
    const pager = new VariablePager();
    pager.learn([container(7, 500)]);
    const plan = pager.plan(7);
    pager.forget();
    expect(pager.plan(7)).toEqual({ kind: 'forward' });
    if (plan.kind === 'groups') {
      expect(pager.plan(plan.groups[0].variablesReference)).toEqual({ kind: 'forward' });
    }
  });
});
