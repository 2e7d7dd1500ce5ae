/**
 * File editors' gutters and current-line highlight on the session debugger: one
 * JupyterLab `EditorHandler` per open source file, rebuilt when the session changes (a
 * handler only takes clicks for the session it was built with), and a right-click on
 * the gutter to give a breakpoint a condition, a hit count or a log message.
 */
import type { CodeMirrorEditor } from '@jupyterlab/codemirror';
import { Debugger } from '@jupyterlab/debugger';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type { FileEditor, IEditorTracker } from '@jupyterlab/fileeditor';
import { IDisposable } from '@lumino/disposable';

import { breakpointKinds, showKinds } from './marks';
import { absolutePath } from './paths';
import type { SessionDebugger } from './service';

/** Source files a debugger of ours can stop in. */
export const SOURCE_FILE = /\.(py|pyw|c|h|cc|cpp|cxx|hh|hpp|hxx|rs)$/i;

type EditorWidget = IDocumentWidget<FileEditor>;

/** One open source file's binding. */
interface IBound {
  path: string;
  handler: Debugger.EditorHandler | null;
  lineNumbers: boolean;
  onMenu: (e: MouseEvent) => void;
  onDown: (e: MouseEvent) => void;
  /** The gutter marks' extension is in the editor. */
  marked: boolean;
  /** The file's content is loaded. */
  ready: boolean;
}

export namespace EditorBinder {
  export interface IOptions {
    service: SessionDebugger;
    tracker: IEditorTracker;
    serverRoot: string;
    /** Open the breakpoint dialog for `line` of `path` (a right-click on the gutter). */
    editBreakpoint: (path: string, line: number) => void;
  }
}

export class EditorBinder implements IDisposable {
  constructor(private readonly options: EditorBinder.IOptions) {
    options.tracker.forEach(widget => this._add(widget));
    options.tracker.widgetAdded.connect((_, widget) => this._add(widget), this);
    options.service.sessionChanged.connect(() => this._rebuildAll(), this);
    // JupyterLab's handler throws on a breakpoint past the end of its document: the
    // service shows an open file's breakpoints on its lines only.
    options.service.lineCount = path => this._lineCount(path);
    const { breakpoints } = options.service.model;
    breakpoints.changed.connect(() => this._markAll(), this);
    breakpoints.restored.connect(() => this._markAll(), this);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The absolute path of each bound editor (for tests and the sidebar). */
  get paths(): string[] {
    return [...this._bound.values()].map(b => b.path);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    for (const widget of [...this._bound.keys()]) {
      this._remove(widget);
    }
  }

  private _add(widget: EditorWidget): void {
    if (this._bound.has(widget) || !SOURCE_FILE.test(widget.context.path)) {
      return;
    }
    const editor = widget.content.editor;
    const path = absolutePath(this.options.serverRoot, widget.context.path);
    const onMenu = (event: MouseEvent) => this._onContextMenu(widget, event);
    // The gutter toggles a breakpoint on any button's mousedown: keep the right button
    // for the dialog (the capture phase, before CodeMirror's own handler sees it).
    const onDown = (event: MouseEvent) => {
      if (event.button !== 0 && (event.target as HTMLElement | null)?.closest('.cm-gutters')) {
        event.stopPropagation();
      }
    };
    const bound: IBound = {
      path,
      // Built once the file is loaded (before, its document has one empty line).
      handler: null,
      lineNumbers: (editor.getOption('lineNumbers') as boolean | undefined) ?? false,
      onMenu,
      onDown,
      marked: false,
      ready: false
    };
    this._bound.set(widget, bound);
    void widget.context.ready.then(() => {
      if (this._bound.get(widget) !== bound || widget.isDisposed) {
        return;
      }
      bound.ready = true;
      this.options.service.render(); // (now within this file's lines)
      bound.handler = this._handler(widget, path);
      (editor as CodeMirrorEditor).injectExtension(breakpointKinds);
      bound.marked = true;
      this._mark(widget);
    });
    // Before JupyterLab's context menu (document level) sees it.
    widget.content.node.addEventListener('contextmenu', onMenu, true);
    widget.content.node.addEventListener('mousedown', onDown, true);
    widget.disposed.connect(() => this._remove(widget));
    widget.context.pathChanged.connect(() => {
      this._remove(widget);
      this._add(widget);
    });
  }

  private _remove(widget: EditorWidget): void {
    const bound = this._bound.get(widget);
    if (!bound) {
      return;
    }
    this._bound.delete(widget);
    bound.handler?.dispose();
    widget.content.node.removeEventListener('contextmenu', bound.onMenu, true);
    widget.content.node.removeEventListener('mousedown', bound.onDown, true);
    if (!widget.isDisposed) {
      // (A handler turns line numbers off when it goes.)
      widget.content.editor.setOption('lineNumbers', bound.lineNumbers);
    }
  }

  private _rebuildAll(): void {
    for (const [widget, bound] of this._bound) {
      if (bound.handler) {
        bound.handler.dispose();
        bound.handler = this._handler(widget, bound.path);
      }
    }
  }

  /** The number of lines of the loaded editors of `path` (the fewest), or null. */
  private _lineCount(path: string): number | null {
    let count: number | null = null;
    for (const [widget, bound] of this._bound) {
      if (bound.path === path && bound.ready && !widget.isDisposed) {
        const lines = widget.content.editor.lineCount;
        count = count === null ? lines : Math.min(count, lines);
      }
    }
    return count;
  }

  private _markAll(): void {
    for (const widget of this._bound.keys()) {
      this._mark(widget);
    }
  }

  /** Mark the conditional, log and other clients' breakpoints of `widget`'s file. */
  private _mark(widget: EditorWidget): void {
    const bound = this._bound.get(widget);
    if (bound?.marked && !widget.isDisposed) {
      showKinds(
        (widget.content.editor as CodeMirrorEditor).editor,
        this.options.service.kinds(bound.path)
      );
    }
  }

  private _handler(widget: EditorWidget, path: string): Debugger.EditorHandler {
    const service = this.options.service;
    const handler = new Debugger.EditorHandler({
      debuggerService: service,
      editorReady: async () => {
        await widget.context.ready;
        return widget.content.editor;
      },
      getEditor: () => (widget.isDisposed ? null : widget.content.editor),
      path,
      src: widget.content.model.sharedModel
    });
    // A file opened while stopped in it shows the line at once (the handler itself only
    // follows frame changes after it was built).
    void widget.context.ready.then(() => {
      const frame = service.model.callstack.frame;
      if (!handler.isDisposed && frame?.source?.path === path && typeof frame.line === 'number') {
        requestAnimationFrame(() =>
          Debugger.EditorHandler.showCurrentLine(widget.content.editor, frame.line)
        );
      }
    });
    return handler;
  }

  private _onContextMenu(widget: EditorWidget, event: MouseEvent): void {
    const target = event.target as HTMLElement | null;
    const bound = this._bound.get(widget);
    if (!bound || !target?.closest('.cm-gutters')) {
      return;
    }
    const view = (widget.content.editor as CodeMirrorEditor).editor;
    const block = view.lineBlockAtHeight(event.clientY - view.documentTop);
    const line = view.state.doc.lineAt(block.from).number;
    event.preventDefault();
    event.stopPropagation();
    this.options.editBreakpoint(bound.path, line);
  }

  private _bound = new Map<EditorWidget, IBound>();
  private _disposed = false;
}
