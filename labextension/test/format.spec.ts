import {
  basename,
  debuggerFor,
  dirname,
  emptyLaunchForm,
  FormError,
  forwardCommand,
  ILaunchForm,
  launchSpec,
  locationText,
  parseBreakpoint,
  parseEnv,
  vscodeLaunchJson,
  withBreakpoints
} from '../src/format';
import { session } from './sessions.spec';

function form(patch: Partial<ILaunchForm> = {}): ILaunchForm {
  return { ...emptyLaunchForm(), program: 'counter.py', ...patch };
}

describe('paths', () => {
  it('splits names and folders', () => {
    expect(basename('/a/b/c.py')).toBe('c.py');
    expect(basename('c.py')).toBe('c.py');
    expect(dirname('a/b/c.py')).toBe('a/b');
    expect(dirname('c.py')).toBe('');
    expect(dirname('/c.py')).toBe('/');
  });
});

describe('locationText', () => {
  it('is file:line of a stopped session and empty otherwise', () => {
    const stopped = session('a', { state: 'stopped' });
    expect(locationText(stopped)).toBe('counter.py:5');
    expect(locationText(session('b', { state: 'running', stopped: null }))).toBe('');
  });
});

describe('launchSpec', () => {
  it('keeps only what the form sets', () => {
    expect(launchSpec(form())).toEqual({ debugger: 'debugpy', program: 'counter.py' });
  });

  it('passes arguments one per line, spaces kept, never split like a shell', () => {
    const spec = launchSpec(form({ args: 'a b\n--flag\n"quoted"' }));
    expect(spec.args).toEqual(['a b', '--flag', '"quoted"']);
  });

  it('parses the environment and refuses a line without a name', () => {
    expect(parseEnv('A=1\nB_2=x=y\n\n')).toEqual({ A: '1', B_2: 'x=y' });
    expect(() => parseEnv('1A=2')).toThrow(FormError);
    expect(() => parseEnv('JUST_A_NAME')).toThrow(/JUST_A_NAME/);
  });

  it('puts a bare line into the program and keeps conditions', () => {
    expect(parseBreakpoint('5', 'counter.py')).toEqual({ path: 'counter.py', line: 5 });
    expect(parseBreakpoint('lib/x.py:7:i > 2', 'counter.py')).toEqual({
      path: 'lib/x.py',
      line: 7,
      condition: 'i > 2'
    });
    expect(parseBreakpoint('5:total == 1', 'counter.py')).toEqual({
      path: 'counter.py',
      line: 5,
      condition: 'total == 1'
    });
    expect(() => parseBreakpoint('five', 'counter.py')).toThrow(/five/);
    expect(() => parseBreakpoint('0', 'counter.py')).toThrow(/count from 1/);
  });

  it('runs a module with debugpy only', () => {
    expect(launchSpec(form({ target: 'module', module: 'pkg.app' }))).toEqual({
      debugger: 'debugpy',
      module: 'pkg.app'
    });
    expect(() => launchSpec(form({ debugger: 'gdb', target: 'module', module: 'x' }))).toThrow(
      /only debugpy/
    );
    expect(() => launchSpec(form({ program: ' ' }))).toThrow(/program/);
  });

  it('sends exception filters only when chosen, [] included', () => {
    expect(launchSpec(form()).exception_breakpoints).toBeUndefined();
    expect(launchSpec(form({ exceptionFilters: [] })).exception_breakpoints).toEqual([]);
  });

  it('sends stop on entry, watches, cwd and name', () => {
    const spec = launchSpec(
      form({ stopOnEntry: true, watches: 'total\n i * 2 \n', cwd: 'src', name: 'run' })
    );
    expect(spec).toMatchObject({
      stop_on_entry: true,
      watches: ['total', 'i * 2'],
      cwd: 'src',
      name: 'run'
    });
  });
});

describe('debuggerFor', () => {
  it('picks debugpy for Python and a native debugger otherwise', () => {
    expect(debuggerFor('x/counter.py', ['gdb'])).toBe('debugpy');
    expect(debuggerFor('a.out', ['debugpy', 'lldb'])).toBe('lldb');
    expect(debuggerFor('a.out', ['debugpy', 'gdb', 'lldb'])).toBe('gdb');
  });
});

describe('share snippets', () => {
  it('names the session, the server and the port in both', () => {
    const command = forwardCommand('abc123', 'http://h:8888/base/', 'jds_secret', 4711);
    expect(command).toBe(
      'JUPYTER_DEBUG_SERVER_TOKEN=jds_secret jupyter-debug-server forward abc123 --port 4711 ' +
        '--url http://h:8888/base/'
    );
    const config = JSON.parse(vscodeLaunchJson(session('abc123', { debugger: 'gdb' }), 4711));
    expect(config.configurations[0]).toMatchObject({
      type: 'cppdbg',
      request: 'attach',
      debugServer: 4711
    });
  });
});

describe('withBreakpoints', () => {
  const gutter = [
    { path: '/w/app.py', line: 3 },
    { path: '/w/app.py', line: 9, condition: 'x > 1' }
  ];
  it("adds the editors' breakpoints the form does not have", () => {
    const spec = withBreakpoints(
      { program: 'app.py', cwd: '/w', breakpoints: [{ path: 'app.py', line: 3, condition: 'y' }] },
      gutter
    );
    expect(spec.breakpoints).toEqual([
      { path: 'app.py', line: 3, condition: 'y' },
      { path: '/w/app.py', line: 9, condition: 'x > 1' }
    ]);
  });
  it('leaves a core file, and a spec with nothing to add, as they are', () => {
    const core = { program: 'a.out', core: 'core.1' };
    expect(withBreakpoints(core, gutter)).toBe(core);
    const plain = { program: 'app.py' };
    expect(withBreakpoints(plain, [])).toBe(plain);
  });
});
