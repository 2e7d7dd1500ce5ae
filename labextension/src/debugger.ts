/**
 * JupyterLab's debugger sidebar and editors on the session selected in the Debug
 * Sessions panel: our own `Debugger.Service` (the notebook's, JupyterLab's global one,
 * is left alone), its sidebar on the right, the gutters of open source files, and the
 * commands of the sidebar's toolbars.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IThemeManager } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { Debugger, IDebugger, IDebuggerDisplayRegistry } from '@jupyterlab/debugger';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { bugDotIcon } from '@jupyterlab/ui-components';
import { MessageLoop } from '@lumino/messaging';

import { DebugAPI } from './api';
import { breakpointDialog } from './breakpoint';
import { EvaluateConsole, WatchList } from './console';
import { EditorBinder } from './editors';
import { rootRelative } from './paths';
import { SessionDebugger } from './service';
import { SessionsModel } from './sessions';
import { DraftSession, TunnelSession } from './tunnel';
import type { ISession } from './types';

export const SIDEBAR_ID = 'jds-debugger-sidebar';

export namespace DebuggerCommandIDs {
  export const continue_ = 'jupyter-debug-server:debugger-continue';
  export const terminate = 'jupyter-debug-server:debugger-terminate';
  export const next = 'jupyter-debug-server:debugger-next';
  export const stepIn = 'jupyter-debug-server:debugger-step-in';
  export const stepOut = 'jupyter-debug-server:debugger-step-out';
  export const evaluate = 'jupyter-debug-server:debugger-evaluate';
  export const pauseOnExceptions = 'jupyter-debug-server:debugger-pause-on-exceptions';
}

/** Whether a session's debugger can be joined. */
function joinable(session: ISession | null | undefined): session is ISession {
  return !!session && (session.state === 'running' || session.state === 'stopped');
}

export namespace SessionDebuggerUI {
  export interface IOptions {
    app: JupyterFrontEnd;
    api: DebugAPI;
    model: SessionsModel;
    editorServices: IEditorServices;
    editorTracker: IEditorTracker | null;
    themeManager: IThemeManager | null;
    serverRoot: string;
    report: (error: unknown) => void;
    inform: (message: string) => void;
    openLocation: (path: string, line: number) => Promise<void>;
  }
}

/** How the call stack names a frame's file: under the root, as JupyterLab's file
 * browser does; a frame without source (a library's, in gdb or lldb) says so (the stock
 * registry throws on those). */
class SourceNames implements IDebuggerDisplayRegistry {
  constructor(private readonly serverRoot: string) {}
  register(): void {
    // (Nothing else names our sources.)
  }
  getDisplayName(source: IDebugger.Source | undefined): string {
    const path = source?.path;
    if (!path) {
      return (source as { name?: string } | undefined)?.name || '(no source)';
    }
    return rootRelative(path, this.serverRoot) || path;
  }
}

/** Build the sidebar, bind it to the panel's selection; the service it drives. */
export function activateSessionDebugger(options: SessionDebuggerUI.IOptions): SessionDebugger {
  const { app, api, model, report } = options;
  const { commands } = app;
  const service = new SessionDebugger({
    config: new Debugger.Config(),
    api,
    report,
    inform: options.inform,
    mimeTypeService: options.editorServices.mimeTypeService,
    displayRegistry: new SourceNames(options.serverRoot)
  });

  const readSource = async (path: string): Promise<string | null> => {
    const relative = rootRelative(path, options.serverRoot);
    if (relative === null) {
      return null; // (the debugger's `source` then answers, if it can)
    }
    const file = await app.serviceManager.contents.get(relative, { content: true, format: 'text' });
    return typeof file.content === 'string' ? file.content : null;
  };

  // Set once the sidebar exists: whether its variables are on screen.
  let inspecting = () => false;

  let bound: string | null = null;
  let retried = false;
  const bind = (session: ISession | null): void => {
    const id = joinable(session) ? session.id : null;
    if (id === bound) {
      return;
    }
    bound = id;
    if (!joinable(session)) {
      service.session = new DraftSession();
      void service.restoreState(false);
      return;
    }
    const tunnel = new TunnelSession({
      id: session.id,
      name: session.name || session.id,
      path: session.spec.program ?? session.spec.module ?? session.spec.core ?? '',
      url: api.socketUrl(`sessions/${encodeURIComponent(session.id)}/dap`),
      readSource,
      inspecting: () => inspecting()
    });
    tunnel.eventMessage.connect((_, event) => {
      if (event.event === 'terminated' && service.session === tunnel) {
        bound = null;
        bind(null);
      }
    });
    tunnel.closed.connect((_, { code, reason }) => {
      if (service.session !== tunnel) {
        return;
      }
      bound = null;
      const now = model.get(session.id) ?? null;
      if (joinable(now) && model.selectedId === session.id && !retried) {
        // Dropped (a restarting proxy, a network blip): join again, once.
        retried = true;
        bind(now);
        return;
      }
      if (joinable(now) && !tunnel.wasOpen) {
        report(
          new Error(
            `Could not join debug session ${session.id}'s debugger (the tunnel closed` +
              `${code ? ` with code ${code}` : ''}${reason ? `: ${reason}` : ''}).`
          )
        );
      }
      bind(null);
    });
    service.session = tunnel;
    void service.restoreState(true).then(() => {
      retried = false;
    }, report);
  };
  service.session = new DraftSession();
  const follow = () => bind(model.selected);
  model.selectionChanged.connect(follow);
  model.changed.connect(follow);

  // -- the sidebar ---------------------------------------------------------------------
  const callstackCommands = {
    registry: commands,
    continue: DebuggerCommandIDs.continue_,
    terminate: DebuggerCommandIDs.terminate,
    next: DebuggerCommandIDs.next,
    stepIn: DebuggerCommandIDs.stepIn,
    stepOut: DebuggerCommandIDs.stepOut,
    evaluate: DebuggerCommandIDs.evaluate
  };
  const sidebar = new Debugger.Sidebar({
    service,
    callstackCommands,
    breakpointsCommands: { registry: commands, pauseOnExceptions: DebuggerCommandIDs.pauseOnExceptions },
    editorServices: options.editorServices,
    themeManager: options.themeManager
  });
  // (JupyterLab's own sidebar, the notebook's, has `jp-debugger-sidebar`.)
  sidebar.id = SIDEBAR_ID;
  sidebar.addClass('jds-DebuggerSidebar');
  sidebar.title.icon = bugDotIcon;
  sidebar.title.caption = 'Debug Session: call stack, variables and breakpoints of the selected session';
  sidebar.node.setAttribute('role', 'region');
  sidebar.node.setAttribute('aria-label', 'Debug session');
  // "Kernel Sources" lists a kernel's modules; a program's source is the Sources
  // section: the current frame's file, read-only, with a button to open it.
  sidebar.kernelSources.dispose();
  sidebar.showSourcesPanel = true;
  service.model.sources.currentSourceOpened.connect(() => {
    const frame = service.model.callstack.frame;
    if (frame?.source?.path) {
      void options.openLocation(frame.source.path, frame.line);
    }
  });
  const evaluator = new EvaluateConsole(service);
  const watches = new WatchList(service, api, report);
  sidebar.addWidget(watches);
  sidebar.addWidget(evaluator);
  app.shell.add(sidebar, 'right', { rank: 650 });
  // A hidden sidebar reads no variables at a stop (stepping with the panel or the
  // keyboard costs the frames only); shown again, it reads the current frame's.
  inspecting = () => sidebar.isVisible;
  MessageLoop.installMessageHook(sidebar, (_, msg) => {
    if (msg.type === 'after-show') {
      requestAnimationFrame(() => service.inspectAgain());
    }
    return true;
  });

  const stopped = () => service.hasStoppedThreads();
  const step = (label: string, run: () => Promise<void>, icon: any) => ({
    label,
    caption: label,
    icon,
    isEnabled: stopped,
    execute: run
  });
  commands.addCommand(
    DebuggerCommandIDs.continue_,
    step('Continue', () => service.continue(), Debugger.Icons.continueIcon)
  );
  commands.addCommand(
    DebuggerCommandIDs.next,
    step('Step Over', () => service.next(), Debugger.Icons.stepOverIcon)
  );
  commands.addCommand(
    DebuggerCommandIDs.stepIn,
    step('Step In', () => service.stepIn(), Debugger.Icons.stepIntoIcon)
  );
  commands.addCommand(
    DebuggerCommandIDs.stepOut,
    step('Step Out', () => service.stepOut(), Debugger.Icons.stepOutIcon)
  );
  commands.addCommand(DebuggerCommandIDs.terminate, {
    label: 'Stop Session',
    caption: 'End the debug session (the program is stopped)',
    icon: Debugger.Icons.terminateIcon,
    isEnabled: () => service.tunnel !== null,
    execute: async () => {
      const tunnel = service.tunnel;
      if (tunnel) {
        try {
          model.update(await api.terminate(tunnel.id));
        } catch (error) {
          report(error);
        }
      }
    }
  });
  commands.addCommand(DebuggerCommandIDs.evaluate, {
    label: 'Evaluate',
    caption: 'Evaluate expressions in the selected frame',
    icon: Debugger.Icons.evaluateIcon,
    isEnabled: () => service.tunnel !== null,
    execute: () => {
      app.shell.activateById(sidebar.id);
      evaluator.node.querySelector<HTMLInputElement>('.jds-Console-prompt')?.focus();
    }
  });
  commands.addCommand(DebuggerCommandIDs.pauseOnExceptions, {
    label: args => (args.description as string) || (args.filter as string) || 'Exceptions',
    caption: args => (args.description as string) || '',
    isToggled: args => service.session?.isPausingOnException(args.filter as string) ?? false,
    isEnabled: () => service.pauseOnExceptionsIsValid(),
    execute: async args => {
      await service.pauseOnExceptionsFilter(args.filter as string);
      commands.notifyCommandChanged(DebuggerCommandIDs.pauseOnExceptions);
    }
  });
  const ours = Object.values(DebuggerCommandIDs);
  const notify = () => ours.forEach(id => commands.notifyCommandChanged(id));
  // (Only what changes what the commands can do: an `output` event changes nothing.)
  const CHANGES = new Set(['stopped', 'continued', 'terminated', 'exited', 'initialized']);
  service.eventMessage.connect((_, event) => {
    if (CHANGES.has(event.event)) {
      notify();
    }
  });
  service.sessionChanged.connect(notify);
  service.model.callstack.framesChanged.connect(notify);

  // A breakpoint in the sidebar's list opens its line.
  service.model.breakpoints.clicked.connect((_, breakpoint: IDebugger.IBreakpoint) => {
    if (breakpoint.source?.path && typeof breakpoint.line === 'number') {
      void options.openLocation(breakpoint.source.path, breakpoint.line);
    }
  });

  // -- editors -------------------------------------------------------------------------
  const editBreakpoint = async (path: string, line: number) => {
    if (service.isForeign(path, line)) {
      options.inform(
        `The breakpoint at line ${line} of ${path} belongs to another client of the session; ` +
          'change it there.'
      );
      return;
    }
    const choice = await breakpointDialog(path, line, service.detail(path, line));
    if (choice === null) {
      return;
    }
    await service.setBreakpoint(path, line, choice === 'remove' ? null : choice.detail);
  };
  if (options.editorTracker) {
    new EditorBinder({
      service,
      tracker: options.editorTracker,
      serverRoot: options.serverRoot,
      editBreakpoint: (path, line) => void editBreakpoint(path, line)
    });
  }
  return service;
}
