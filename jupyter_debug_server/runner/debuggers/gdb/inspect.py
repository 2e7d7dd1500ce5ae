"""stackTrace, scopes, variables, evaluate and setVariable, through gdb varobjs."""

from __future__ import annotations

from typing import Any

from ..native.checks import side_effect_refusal
from ..registry import AdapterError, request
from .adapter import GdbAdapter
from .mi import MIConnection, MIError

_MAX_DEPTH = 100_000


def _frame(adapter: GdbAdapter, frame_id: Any) -> tuple[int, int]:
    where = adapter.stop.frames.get(frame_id) if isinstance(frame_id, int) else None
    if where is None:
        raise AdapterError(f"frame {frame_id!r} is not a frame of the current stop")
    return where


@request("stackTrace", capability="supportsDelayedStackTraceLoading")
async def stack_trace(adapter: GdbAdapter, *, threadId: int, startFrame: int | None = None,
                      levels: int | None = None) -> dict[str, Any]:
    mi = adapter.require_stopped("read the stack")
    thread = int(threadId or adapter.stopped_thread or 1)
    start = max(int(startFrame or 0), 0)
    levels = int(levels or 0)
    command = f"-stack-list-frames --thread {thread}"
    if levels > 0:
        command += f" {start} {start + levels - 1}"
    elif start:
        command += f" {start} {_MAX_DEPTH}"
    try:
        frames = (await mi.command(command)).get("stack", [])
    except MIError as exc:
        raise AdapterError(f"gdb cannot list the frames of thread {thread}: {exc}") from None
    out = []
    for item in frames:
        frame = item.get("frame", item)
        level = int(frame.get("level", 0))
        frame_id = adapter.stop.new_id()
        adapter.stop.frames[frame_id] = (thread, level)
        entry: dict[str, Any] = {"id": frame_id, "name": frame.get("func") or frame.get("addr"),
                                 "line": int(frame.get("line", 0)), "column": 0,
                                 "instructionPointerReference": frame.get("addr")}
        if frame.get("fullname") or frame.get("file"):
            entry["source"] = {"path": frame.get("fullname") or frame.get("file"),
                               "name": frame.get("file")}
        else:
            entry["presentationHint"] = "subtle"
        out.append(entry)
    body: dict[str, Any] = {"stackFrames": out}
    if levels > 0 and len(out) == levels:
        depth = await mi.command(f"-stack-info-depth --thread {thread} {_MAX_DEPTH}")
        body["totalFrames"] = int(depth.get("depth", start + len(out)))
    else:
        body["totalFrames"] = start + len(out)
    return body


@request("scopes")
async def scopes(adapter: GdbAdapter, *, frameId: int) -> dict[str, Any]:
    adapter.require_stopped("read scopes")
    thread, level = _frame(adapter, frameId)
    out = []
    for name, kind, hint in (("Locals", "locals", "locals"), ("Arguments", "args", "arguments"),
                             ("Registers", "registers", "registers")):
        ref = adapter.stop.new_id()
        adapter.stop.refs[ref] = (kind, (thread, level))
        out.append({"name": name, "variablesReference": ref, "presentationHint": hint,
                    "expensive": kind == "registers"})
    return {"scopes": out}


async def _varobj(adapter: GdbAdapter, mi: MIConnection, expression: str, thread: int,
                  level: int) -> dict[str, Any]:
    result = await mi.command(f"-var-create --thread {thread} --frame {level} - * "
                              f"{mi.quote(expression)}")
    adapter.stop.varobjs.append(result["name"])
    return result


def _variable(adapter: GdbAdapter, name: str, varobj: dict[str, Any],
              evaluate_name: str | None = None) -> dict[str, Any]:
    numchild = int(varobj.get("numchild", 0) or 0)
    dynamic = varobj.get("dynamic") == "1" and varobj.get("has_more") == "1"
    ref = 0
    if numchild > 0 or dynamic:
        ref = adapter.stop.new_id()
        adapter.stop.refs[ref] = ("varobj", (varobj["name"], varobj.get("type", "")))
    out: dict[str, Any] = {"name": name, "value": varobj.get("value", ""),
                           "type": varobj.get("type", ""), "variablesReference": ref}
    if evaluate_name:
        out["evaluateName"] = evaluate_name
    if ref and varobj.get("type", "").rstrip().endswith("]"):
        out["indexedVariables"] = numchild
    return out


async def _frame_variables(adapter: GdbAdapter, mi: MIConnection, kind: str,
                           where: tuple[int, int]) -> list[dict[str, Any]]:
    thread, level = where
    listed = await mi.command(
        f"-stack-list-variables --thread {thread} --frame {level} --no-values")
    out = []
    for item in listed.get("variables", []):
        if (item.get("arg") == "1") != (kind == "args"):
            continue
        try:
            varobj = await _varobj(adapter, mi, item["name"], thread, level)
        except MIError as exc:
            out.append({"name": item["name"], "value": f"<{exc}>", "variablesReference": 0})
            continue
        out.append(_variable(adapter, item["name"], varobj, item["name"]))
    return out


async def _registers(mi: MIConnection, where: tuple[int, int]) -> list[dict[str, Any]]:
    thread, level = where
    names = (await mi.command("-data-list-register-names")).get("register-names", [])
    values = (await mi.command(
        f"-data-list-register-values --thread {thread} --frame {level} --skip-unavailable x"
    )).get("register-values", [])
    out = []
    for item in values:
        number = int(item.get("number", -1))
        if 0 <= number < len(names) and names[number]:
            out.append({"name": names[number], "value": item.get("value", ""),
                        "variablesReference": 0})
    return out


@request("variables")
async def variables(adapter: GdbAdapter, *, variablesReference: int,
                    start: int | None = None, count: int | None = None) -> dict[str, Any]:
    mi = adapter.require_stopped("read variables")
    what = adapter.stop.refs.get(int(variablesReference or 0))
    if what is None:
        raise AdapterError(f"variablesReference {variablesReference!r} is not "
                           "valid in the current stop")
    kind, data = what
    start, count = int(start or 0), int(count or 0)
    if kind in ("locals", "args"):
        found = await _frame_variables(adapter, mi, kind, data)
    elif kind == "registers":
        found = await _registers(mi, data)
    else:
        name, type_ = data
        command = f"-var-list-children --all-values {name}"
        if count:
            command += f" {start} {start + count}"
        children = (await mi.command(command)).get("children", [])
        is_array = type_.rstrip().endswith("]")
        found = []
        for item in children:
            child = item.get("child", item)
            label = child.get("exp", child["name"])
            found.append(_variable(adapter, f"[{label}]" if is_array else label, child))
        start = 0 if count else start  # gdb already applied the range
    window = found[start:start + count] if count else found[start:]
    return {"variables": window}


#: The debug console's prefix for a gdb command, as in VS Code's cppdbg; anything else
#: typed there is an expression, as in the other debuggers' consoles.
EXEC_PREFIX = "-exec "


@request("evaluate", capability="supportsEvaluateForHovers")
async def evaluate(adapter: GdbAdapter, *, expression: str, context: str | None = None,
                   frameId: int | None = None) -> dict[str, Any]:
    if not isinstance(expression, str) or not expression.strip():
        raise AdapterError("'evaluate' needs a non-empty 'expression'")
    context = str(context or "repl")
    command = _console_input(expression) if context == "repl" else None
    if command is not None:
        text = await _console_command(adapter, command, frameId)
        return {"result": text, "variablesReference": 0}
    mi = adapter.require_stopped("evaluate")
    thread, level = (_frame(adapter, frameId) if frameId is not None
                     else (adapter.stopped_thread or 1, 0))
    refusal = side_effect_refusal(context, expression)
    if refusal:
        raise AdapterError(refusal)
    return await _expression(adapter, mi, expression, thread, level, calls=context == "repl")


def _console_input(expression: str) -> str | None:
    """The gdb command of `-exec <command>`, or None for an expression."""
    text = expression.lstrip()
    prefix = EXEC_PREFIX.rstrip()
    if not text.startswith(prefix) or text[len(prefix):len(prefix) + 1].strip():
        return None  # an expression (a C expression never starts with `-exec`)
    return text[len(prefix):].strip()


async def _console_command(adapter: GdbAdapter, command: str, frame_id: Any) -> str:
    """Run a gdb CLI command in the client's frame; what gdb printed for it."""
    mi = adapter.require_mi()
    if not command:
        raise AdapterError(f"'{EXEC_PREFIX.strip()}' needs a gdb command after it, "
                           f"e.g. '{EXEC_PREFIX}info frame'")
    try:
        if frame_id is not None:
            thread, level = _frame(adapter, frame_id)
            await mi.command(f"-thread-select {thread}")
            await mi.command(f"-stack-select-frame {level}")
        return (await mi.console(command)).rstrip("\n")
    except MIError as exc:
        raise AdapterError(f"gdb: {exc.message}") from None


async def _expression(adapter: GdbAdapter, mi: MIConnection, expression: str, thread: int,
                      level: int, *, calls: bool) -> dict[str, Any]:
    """Evaluate `expression` into a varobj (children stay expandable) and describe it."""
    if not calls:
        await mi.command("-gdb-set may-call-functions off")  # no inferior calls from a hover
    try:
        varobj = await _varobj(adapter, mi, expression, thread, level)
    except MIError:
        # -var-create only says "unable to create variable object": gdb's own reason
        # (`No symbol "x" in current context.`) comes from evaluating it plainly.
        return await _plain_value(mi, expression, thread, level)
    finally:
        if not calls:
            await mi.command("-gdb-set may-call-functions on")
    variable = _variable(adapter, expression, varobj, expression)
    body = {"result": variable["value"], "type": variable["type"],
            "variablesReference": variable["variablesReference"]}
    if "indexedVariables" in variable:
        body["indexedVariables"] = variable["indexedVariables"]
    return body


async def _plain_value(mi: MIConnection, expression: str, thread: int,
                       level: int) -> dict[str, Any]:
    try:
        result = await mi.command(f"-data-evaluate-expression --thread {thread} "
                                  f"--frame {level} {mi.quote(expression)}")
    except MIError as exc:
        raise AdapterError(f"gdb: {exc.message}") from None
    return {"result": str(result.get("value", "")), "variablesReference": 0}


@request("setVariable", capability="supportsSetVariable")
async def set_variable(adapter: GdbAdapter, *, variablesReference: int, name: str,
                       value: str) -> dict[str, Any]:
    mi = adapter.require_stopped("set a variable")
    what = adapter.stop.refs.get(int(variablesReference or 0))
    if what is None or not isinstance(name, str) or not isinstance(value, str):
        raise AdapterError("'setVariable' needs a valid variablesReference, name and value")
    kind, data = what
    if kind in ("locals", "args"):
        thread, level = data
        varobj = await _varobj(adapter, mi, name, thread, level)
        target = varobj["name"]
    elif kind == "varobj":
        children = (await mi.command(f"-var-list-children --all-values {data[0]}")).get(
            "children", [])
        wanted = name.strip("[]")
        matches = [c.get("child", c)["name"] for c in children
                   if c.get("child", c).get("exp") == wanted]
        if not matches:
            raise AdapterError(f"no member {name!r} in this variable")
        target = matches[0]
    else:
        raise AdapterError("registers cannot be set from here; use the debug console")
    try:
        result = await mi.command(f"-var-assign {target} {mi.quote(value)}")
    except MIError as exc:
        raise AdapterError(f"cannot set {name} to {value!r}: {exc}") from None
    return {"value": result.get("value", value)}
