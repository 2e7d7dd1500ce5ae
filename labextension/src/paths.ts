/** Paths as the server has them (absolute) and as JupyterLab opens them (under the root). */

/** `path` relative to the server's root directory, or null when it is outside it. */
export function rootRelative(path: string, serverRoot: string): string | null {
  const root = serverRoot.replace(/\/+$/, '');
  if (!path.startsWith('/')) {
    return path;
  }
  if (root === '') {
    return path.slice(1);
  }
  if (path === root) {
    return '';
  }
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : null;
}

/** The absolute path of `relative` (under the server's root), as the debuggers name files
 * (PathExt.join drops the leading `/`). */
export function absolutePath(serverRoot: string, relative: string): string {
  const root = serverRoot.replace(/\/+$/, '');
  return `${root}/${relative.replace(/^\/+/, '')}`;
}
