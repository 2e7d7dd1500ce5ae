/**
 * The JupyterLab extension of jupyter-debug-server: the Debug Sessions panel, its
 * commands, keyboard shortcuts and the file browser's "Debug with…".
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IThemeManager,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { IStateDB } from '@jupyterlab/statedb';
import { bugIcon } from '@jupyterlab/ui-components';

import { DebugAPI } from './api';
import { activateSessionDebugger, SIDEBAR_ID as DEBUGGER_SIDEBAR_ID } from './debugger';
import { SOURCE_FILE } from './editors';
import { SessionFeed } from './feed';
import {
  basename,
  debuggerFor,
  dirname,
  emptyLaunchForm,
  serverUrl,
  withBreakpoints
} from './format';
import { attachDialog, coreDialog, launchDialog, Refusal } from './launch';
import { Control, CONTROLS, errorText, SessionsPanel } from './panel';
import { rootRelative } from './paths';
import { SessionDebugger } from './service';
import { SessionsModel } from './sessions';
import { shareDialog } from './share';
import { JsonSocket } from './socket';
import type { IDebugger, ILaunchSpec, ISession, ServerEvent } from './types';

const PLUGIN_ID = 'jupyter-debug-server:plugin';
const STATE_KEY = 'jupyter-debug-server:selected';

export namespace CommandIDs {
  export const open = 'jupyter-debug-server:open';
  export const launch = 'jupyter-debug-server:launch';
  export const debugFile = 'jupyter-debug-server:debug-file';
  export const attach = 'jupyter-debug-server:attach';
  export const openCore = 'jupyter-debug-server:open-core';
  export const share = 'jupyter-debug-server:share';
  export const debugEditor = 'jupyter-debug-server:debug-editor';
  export const control = (control: Control) => `jupyter-debug-server:${control}`;
}

/** Names of files "Debug with…" offers: Python, and what looks like a program or a core. */
const PROGRAM = /(\.py|\.out|\.bin|\.exe|\.elf)$|^[^.]+$/i;
const CORE = /^core(\.\d+)?$|\.core$/i;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The Debug Sessions panel: launch, watch, control and share debug sessions.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    IDocumentManager,
    IFileBrowserFactory,
    IStateDB,
    IEditorServices,
    IEditorTracker,
    IThemeManager
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    docManager: IDocumentManager | null,
    browsers: IFileBrowserFactory | null,
    state: IStateDB | null,
    editorServices: IEditorServices | null,
    editorTracker: IEditorTracker | null,
    themeManager: IThemeManager | null
  ) => {
    const api = new DebugAPI();
    const model = new SessionsModel();
    const report = (error: unknown) => {
      const message = errorText(error);
      // JupyterLab shows 140 characters of a notification; the rest (often the remedy)
      // is behind "Details".
      const details = {
        label: 'Details',
        callback: () => void showErrorMessage('Debug server', message)
      };
      Notification.error(message, {
        autoClose: 10_000,
        actions: message.length > 140 ? [details] : []
      });
    };
    let debuggers: Promise<IDebugger[]> | null = null;
    const probe = (): Promise<IDebugger[]> => {
      // Asked once per dialog: an install since the last one shows up.
      debuggers = api.debuggers(true).catch(error => {
        debuggers = null;
        throw error;
      });
      return debuggers;
    };

    const activate = () => {
      app.shell.activateById(panel.id);
    };
    // Set once the sidebar exists (it needs the editor services).
    let sessionDebugger: SessionDebugger | null = null;
    const launch = async (spec: ILaunchSpec): Promise<Refusal> => {
      try {
        const session = await api.launch(
          withBreakpoints(spec, sessionDebugger?.launchBreakpoints() ?? [])
        );
        model.update(session);
        model.select(session.id);
        activate();
        return null;
      } catch (error) {
        report(error);
        return errorText(error);
      }
    };
    const openLaunch = async (path?: string) => {
      let list: IDebugger[];
      try {
        list = await probe();
      } catch (error) {
        report(error);
        return;
      }
      const available = list.filter(d => d.available).map(d => d.name);
      const form = emptyLaunchForm();
      if (path) {
        form.debugger = debuggerFor(path, available);
        form.cwd = dirname(path) === '/' ? '' : dirname(path);
        form.program = basename(path);
      } else if (!available.includes('debugpy') && available.length) {
        form.debugger = available[0];
      }
      await launchDialog(list, form, launch, sessionDebugger?.launchBreakpoints().length ?? 0);
    };

    const control = async (session: ISession, action: Control) => {
      try {
        const result =
          action === 'continue'
            ? await api.continue(session.id)
            : action === 'pause'
              ? await api.pause(session.id)
              : action === 'stop'
                ? await api.terminate(session.id)
                : await api.step(session.id, action);
        model.update(result);
      } catch (error) {
        report(error);
      }
    };

    const openLocation = async (path: string, line: number) => {
      const relative = rootRelative(path, PageConfig.getOption('serverRoot'));
      if (relative === null || !docManager) {
        report(
          new Error(
            `${path} is outside the Jupyter server's root directory, so JupyterLab cannot open it`
          )
        );
        return;
      }
      const widget = docManager.openOrReveal(relative);
      if (!widget) {
        return;
      }
      await widget.context.ready;
      // A file editor's CodeEditor (duck-typed: any document widget with an editor).
      const editor = (widget.content as { editor?: any }).editor;
      if (editor && typeof editor.setCursorPosition === 'function') {
        const position = { line: Math.max(0, line - 1), column: 0 };
        editor.setCursorPosition(position);
        editor.revealPosition?.(position);
        editor.focus?.();
      }
    };

    const panel = new SessionsPanel(model, {
      launch: () => void openLaunch(),
      attach: () => void app.commands.execute(CommandIDs.attach),
      openCore: () => void app.commands.execute(CommandIDs.openCore),
      share: session =>
        void shareDialog(api, session, serverUrl(window.location.origin, PageConfig.getBaseUrl()), report),
      control: (session, action) => void control(session, action),
      openLocation: (path, line) => void openLocation(path, line),
      feed: (id: string) => new SessionFeed(id, api, model, report)
    });
    panel.title.icon = bugIcon;
    panel.title.caption = 'Debug Sessions';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'jds-sessions-panel');

    if (editorServices) {
      sessionDebugger = activateSessionDebugger({
        app,
        api,
        model,
        editorServices,
        editorTracker,
        themeManager,
        serverRoot: PageConfig.getOption('serverRoot'),
        report,
        inform: message => Notification.info(message, { autoClose: 8000 }),
        openLocation
      });
    }

    // The server's sessions, live; after a reconnection the whole list comes again.
    // (Always connect again: a slow client's cut-off is 1008, a server's restart 1001.)
    const events = new JsonSocket<ServerEvent>({
      url: () => api.socketUrl('events'),
      shouldReconnect: () => true
    });
    events.statusChanged.connect((_, status) => {
      // (Connecting leaves it as it was: no banner on a page load, none flickering off
      // while it retries.)
      if (status !== 'connecting') {
        model.connected = status === 'open';
      }
    });
    events.message.connect((_, event) => {
      model.apply(event);
      if (event.type === 'sessions' && model.selectedId === null && model.sessions.length) {
        model.select((model.sessions.find(s => s.state === 'stopped') ?? model.sessions[0]).id);
      }
    });

    // The selection survives a reload; `/lab?debug-session=ID` selects a session and opens
    // the panel (the README's demo link).
    const wanted = new URLSearchParams(window.location.search).get('debug-session');
    if (wanted) {
      model.select(wanted);
      void app.restored.then(() => {
        activate();
        // …with its call stack and variables on the right.
        if (sessionDebugger) {
          app.shell.activateById(DEBUGGER_SIDEBAR_ID);
        }
      });
      // …and shows where it stopped, once: the code beside the panel.
      const showStop = () => {
        const session = model.get(wanted);
        if (session?.stopped?.path && session.stopped.line !== null) {
          model.changed.disconnect(showStop);
          void app.restored.then(() => openLocation(session.stopped!.path!, session.stopped!.line!));
        } else if (session && session.state !== 'starting' && session.state !== 'running') {
          model.changed.disconnect(showStop);
        }
      };
      model.changed.connect(showStop);
    } else if (state) {
      void state.fetch(STATE_KEY).then(value => {
        if (typeof value === 'string' && model.selectedId === null) {
          model.select(value);
        }
      });
    }
    model.selectionChanged.connect((_, id) => {
      void state?.save(STATE_KEY, id);
    });

    const selected = () => model.selected;
    app.commands.addCommand(CommandIDs.open, {
      label: 'Debug Sessions',
      caption: 'Open the Debug Sessions panel',
      icon: bugIcon,
      execute: args => {
        if (typeof args.sessionId === 'string') {
          model.select(args.sessionId);
        }
        activate();
      }
    });
    app.commands.addCommand(CommandIDs.launch, {
      label: 'Launch Debug Session…',
      caption: 'Run a program under a debugger',
      execute: args => openLaunch(typeof args.path === 'string' ? args.path : undefined)
    });
    app.commands.addCommand(CommandIDs.attach, {
      label: 'Attach Debugger to Process…',
      execute: async () => {
        try {
          await attachDialog(api, await probe(), launch);
        } catch (error) {
          report(error);
        }
      }
    });
    app.commands.addCommand(CommandIDs.openCore, {
      label: 'Open Core File…',
      execute: async args => {
        try {
          const core = typeof args.core === 'string' ? args.core : undefined;
          await coreDialog(await probe(), { core }, launch);
        } catch (error) {
          report(error);
        }
      }
    });
    const selectedFile = (): string | null => {
      const browser = browsers?.tracker.currentWidget;
      const item = browser?.selectedItems().next();
      return item && !item.done && item.value.type !== 'directory' ? item.value.path : null;
    };
    app.commands.addCommand(CommandIDs.debugFile, {
      label: 'Debug with…',
      caption: 'Launch this file under a debugger',
      icon: bugIcon,
      isVisible: () => {
        const path = selectedFile();
        return path !== null && (PROGRAM.test(basename(path)) || CORE.test(basename(path)));
      },
      execute: () => {
        const path = selectedFile();
        if (path === null) {
          return;
        }
        if (CORE.test(basename(path))) {
          return app.commands.execute(CommandIDs.openCore, { core: path });
        }
        return openLaunch(path);
      }
    });
    const currentSource = (): string | null => {
      const path = editorTracker?.currentWidget?.context.path;
      return path && SOURCE_FILE.test(path) ? path : null;
    };
    app.commands.addCommand(CommandIDs.debugEditor, {
      label: 'Debug This File…',
      caption: "Launch this file under a debugger, with the gutter's breakpoints",
      icon: bugIcon,
      isEnabled: () => currentSource() !== null,
      execute: () => {
        const path = currentSource();
        if (path === null) {
          return;
        }
        // A compiled language's source: the program is its build beside it (hello.c:
        // hello), which the form shows and the user may change.
        return openLaunch(/\.py$/i.test(path) ? path : path.replace(/\.[^./]+$/, ''));
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.debugEditor,
      selector: '.jp-FileEditor',
      rank: 0
    });
    app.contextMenu.addItem({
      command: CommandIDs.debugFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 3
    });
    app.commands.addCommand(CommandIDs.share, {
      label: 'Share Debug Session…',
      isEnabled: () => selected() !== null,
      execute: () => {
        const session = selected();
        if (session) {
          return shareDialog(api, session, serverUrl(window.location.origin, PageConfig.getBaseUrl()), report);
        }
      }
    });
    for (const { control: action, label, when } of CONTROLS) {
      app.commands.addCommand(CommandIDs.control(action), {
        label: `${label} (debug session)`,
        isEnabled: () => {
          const session = selected();
          return session !== null && when(session);
        },
        execute: () => {
          const session = selected();
          if (session && when(session)) {
            return control(session, action);
          }
        }
      });
    }
    // Only our session commands change with the sessions (a bare notifyCommandChanged()
    // makes every menu and the whole palette look at every command, on every step).
    const sessionCommands = [...CONTROLS.map(c => CommandIDs.control(c.control)), CommandIDs.share];
    const notify = () => sessionCommands.forEach(id => app.commands.notifyCommandChanged(id));
    model.changed.connect(notify);
    model.selectionChanged.connect(notify);

    if (palette) {
      const category = 'Debug Sessions';
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.launch, category });
      palette.addItem({ command: CommandIDs.attach, category });
      palette.addItem({ command: CommandIDs.openCore, category });
      palette.addItem({ command: CommandIDs.share, category });
      palette.addItem({ command: CommandIDs.debugEditor, category });
      for (const { control: action } of CONTROLS) {
        palette.addItem({ command: CommandIDs.control(action), category });
      }
    }
  }
};

export default plugin;
