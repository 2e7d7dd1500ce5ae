"""Who may send what through a session's DAP mux, and what the mux answers itself.

The rules of sharing one debugger (mux.py), kept apart so they can be read (and
reviewed) on their own. Pure data.
"""

from __future__ import annotations

__all__ = ["CONFIGURATION_COMMANDS", "CONTROL", "CONTROL_CAPABILITIES",
           "KERNEL_ONLY_COMMANDS", "NO_REPLAY_COMMANDS", "OBSERVE", "OBSERVE_CAPABILITIES",
           "OBSERVE_COMMANDS", "PRIVATE_EVENTS", "RESUMING_COMMANDS", "ROLES"]

CONTROL = "control"
OBSERVE = "observe"
ROLES = (CONTROL, OBSERVE)

#: Jupyter kernel requests (not DAP) that JupyterLab's debugger sends and a session, which
#: debugs a program and not a kernel, cannot serve: the mux refuses them itself
#: (jupyter.py) and never passes them to the debugger.
KERNEL_ONLY_COMMANDS = frozenset({
    "dumpCell", "richInspectVariables", "copyToGlobals", "inspectVariables",
})

#: What an observer may ask: reads that cannot change the program. An allow-list, so a
#: command added to DAP later is refused until someone decides it is harmless. Left out on
#: purpose: `evaluate`, `completions` and `setExpression` run code in some adapters.
OBSERVE_COMMANDS = frozenset({
    "initialize", "launch", "attach", "configurationDone", "disconnect", "cancel",
    "threads", "stackTrace", "scopes", "variables", "source", "loadedSources", "modules",
    "exceptionInfo",
    # Jupyter's `debugInfo` reads the mux's own state (breakpoints, the stop); the
    # kernel-only requests are refused by the mux whoever asks, so they change nothing.
    "debugInfo", *KERNEL_ONLY_COMMANDS,
})

#: Requests a client sends while configuring, before `configurationDone`.
CONFIGURATION_COMMANDS = frozenset({
    "initialize", "launch", "attach", "setBreakpoints", "setFunctionBreakpoints",
    "setExceptionBreakpoints", "setInstructionBreakpoints", "setDataBreakpoints",
    "breakpointLocations", "dataBreakpointInfo", "configurationDone",
})

#: Requests that do not make the mux replay the current state to a client that has not
#: seen it: the configuration (the state follows configurationDone), leaving, and the
#: Jupyter requests the mux answers from what it knows (JupyterLab asks `debugInfo` before
#: `initialize`: a `stopped` then would come ahead of its set-up).
NO_REPLAY_COMMANDS = CONFIGURATION_COMMANDS | {"disconnect", "debugInfo",
                                               *KERNEL_ONLY_COMMANDS}

#: Successful responses to these mean the program runs again.
RESUMING_COMMANDS = frozenset({
    "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "goto",
    "restartFrame",
})

#: Upstream events that concern the owner only.
PRIVATE_EVENTS = frozenset({"initialized"})

#: Capabilities the mux itself implements for a control client, whatever the debugger
#: says: it answers `terminate` and `disconnect` with terminateDebuggee on its own.
CONTROL_CAPABILITIES = {"supportsTerminateRequest": True, "supportTerminateDebuggee": True}
#: An observer may not end the program: it is not told it could.
OBSERVE_CAPABILITIES = {"supportsTerminateRequest": False, "supportTerminateDebuggee": False}
