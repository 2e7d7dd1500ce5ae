import { absolutePath, rootRelative } from '../src/paths';

describe('rootRelative', () => {
  it('gives paths under the root relative to it and refuses the others', () => {
    expect(rootRelative('/srv/root/a/b.py', '/srv/root')).toBe('a/b.py');
    expect(rootRelative('/srv/root/a/b.py', '/srv/root/')).toBe('a/b.py');
    expect(rootRelative('/srv/rootless/b.py', '/srv/root')).toBeNull();
    expect(rootRelative('/etc/passwd', '/srv/root')).toBeNull();
    expect(rootRelative('/x/y.c', '/')).toBe('x/y.c');
    expect(rootRelative('rel/y.c', '/srv/root')).toBe('rel/y.c');
  });
});

describe('absolutePath', () => {
  it('keeps the leading slash the debuggers name files with', () => {
    expect(absolutePath('/srv/root', 'a/b.py')).toBe('/srv/root/a/b.py');
    expect(absolutePath('/srv/root/', '/a/b.py')).toBe('/srv/root/a/b.py');
    expect(absolutePath('/', 'b.c')).toBe('/b.c');
    expect(absolutePath('', 'b.c')).toBe('/b.c');
  });
});
