"""The py_mini_racer internals the sandbox relies on, checked so a version bump fails here,
loudly and by name, instead of as a hung or crashing sandbox.

`apps/runtime/sandbox.py` (`_Server.prepare`) bypasses `wrap_py_function` for host calls:
it asks the DLL for a JS callback (`Context._dll.mr_make_js_callback(Context._ctx, id)`)
with an id from `Context._next_async_callback_id`, turns the handle into a JS function
(`_wrap_raw_handle`, `_value_handle_to_python`), frees each call's argument handle
(`_free`), and routes its id to its own function by shadowing the frozen dataclass's
`handle_callback_from_v8` on the instance (`object.__setattr__`), which works because the
module-level ctypes callback looks that method up on the instance at every call. It also
reads an ArrayBuffer back as a `memoryview` that aliases V8's memory.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib.metadata
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINNED = "0.14.1"
REASON = (
    "apps/runtime/sandbox.py (_Server.prepare) relies on py_mini_racer {pinned} internals; "
    "re-check that code (and this test) before changing the mini-racer version: {what}"
)


def _fail(what: str) -> str:
    return REASON.format(pinned=PINNED, what=what)


def test_the_installed_version_is_the_pinned_one():
    installed = importlib.metadata.version("mini-racer")
    assert installed == PINNED, _fail(f"mini-racer {installed} is installed")
    pins = (ROOT / "requirements.txt").read_text().splitlines()
    assert f"mini-racer=={PINNED}" in pins, _fail("requirements.txt pins another version")


def test_context_attributes_and_signatures():
    from py_mini_racer import _context, _dll

    context_class = _context.Context
    assert dataclasses.is_dataclass(context_class), _fail("Context is no longer a dataclass")
    fields = {f.name for f in dataclasses.fields(context_class)}
    for name in ("_dll", "_ctx", "_next_async_callback_id"):
        assert name in fields, _fail(f"Context has no field {name}")
    # object.__setattr__ on an instance needs a __dict__ (no __slots__).
    assert "__slots__" not in vars(context_class), _fail("Context uses __slots__")
    expected = {
        "handle_callback_from_v8": ["self", "callback_id", "raw_val_handle"],
        "_free": ["self", "raw"],
        "_wrap_raw_handle": ["self", "raw"],
        "_value_handle_to_python": ["self", "val_handle"],
    }
    for method, parameters in expected.items():
        function = getattr(context_class, method, None)
        assert callable(function), _fail(f"Context.{method} is gone")
        actual = list(inspect.signature(function).parameters)
        assert actual == parameters, _fail(f"Context.{method}{tuple(actual)} changed")
    raw_handle = _dll.RawValueHandle
    assert _dll.MR_CALLBACK._argtypes_ == (ctypes.c_uint64, raw_handle), _fail(
        "the DLL's callback type changed"
    )
    # The module-level callback must look the method up on the instance at each call.
    source = inspect.getsource(sys.modules["py_mini_racer._mini_racer"]._make_context)
    assert "context.handle_callback_from_v8(callback_id, raw_val_handle)" in source, _fail(
        "the DLL callback no longer dispatches through context.handle_callback_from_v8"
    )


def test_dll_function_prototypes():
    from py_mini_racer import _dll

    # Loads the library and declares its prototypes, without initialising V8 here.
    library = Path(_dll.__file__).with_name(_dll._get_lib_filename("mini_racer"))
    handle = _dll._build_dll_handle(library)
    raw_handle = _dll.RawValueHandle
    prototypes = {
        "mr_make_js_callback": ([ctypes.c_uint64, ctypes.c_uint64], raw_handle),
        "mr_free_value": ([ctypes.c_uint64, raw_handle], None),
    }
    for name, (argtypes, restype) in prototypes.items():
        function = getattr(handle, name)
        assert function.argtypes == argtypes, _fail(f"{name} arguments changed")
        if restype is not None:
            assert function.restype is restype, _fail(f"{name} result type changed")


def test_the_synchronous_host_callback_works_in_a_fresh_process():
    """Exactly what `_Server.prepare` does, in a process with the sandbox's V8 flags."""
    script = textwrap.dedent(
        """
        import asyncio, json
        from py_mini_racer import MiniRacer, init_mini_racer
        init_mini_racer(flags=("--single-threaded", "--disallow-code-generation-from-strings"))

        async def main():
            racer = MiniRacer()
            try:
                context = racer._ctx
                seen = []
                host_id = next(context._next_async_callback_id)
                raw = context._dll.mr_make_js_callback(context._ctx, host_id)
                notify = context._value_handle_to_python(context._wrap_raw_handle(raw))
                dispatch = context.handle_callback_from_v8

                def handle(callback_id, raw_handle):
                    if callback_id == host_id:
                        context._free(raw_handle)
                        seen.append(view[0])  # synchronous: the JS caller is waiting
                        view[1] = 42  # visible to JavaScript right after the call
                    else:
                        dispatch(callback_id, raw_handle)

                object.__setattr__(context, "handle_callback_from_v8", handle)
                view = racer.eval("globalThis.buf = new ArrayBuffer(8); buf")
                assert isinstance(view, memoryview), type(view)
                racer.eval("(f) => { globalThis.notify = f; }")(notify)
                answer = racer.eval(
                    "const u = new Uint8Array(buf); u[0] = 7; notify(); u[1]"
                )
                view.release()
                return {"seen": seen, "answer": answer}
            finally:
                racer.close()

        print(json.dumps(asyncio.run(main())), flush=True)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        timeout=60,
        cwd=ROOT / "apps" / "runtime",
        check=False,
    )
    assert completed.returncode == 0, _fail(
        "the synchronous host callback fails: " + completed.stderr.decode()[-2000:]
    )
    outcome = json.loads(completed.stdout.splitlines()[-1])
    assert outcome == {"seen": [7], "answer": 42}, _fail(
        f"the host callback did not run synchronously with a shared buffer: {outcome}"
    )


@pytest.mark.parametrize(
    "name",
    ["MiniRacer", "init_mini_racer", "JSEvalException", "JSOOMException", "JSParseException"],
)
def test_the_public_names_used_exist(name):
    import py_mini_racer

    assert hasattr(py_mini_racer, name), _fail(f"py_mini_racer.{name} is gone")
    if name == "MiniRacer":
        for method in ("eval", "close", "set_hard_memory_limit", "was_hard_memory_limit_reached"):
            assert callable(getattr(py_mini_racer.MiniRacer, method, None)), _fail(
                f"MiniRacer.{method} is gone"
            )
    if name == "init_mini_racer":
        parameters = inspect.signature(py_mini_racer.init_mini_racer).parameters
        assert "flags" in parameters, _fail("init_mini_racer takes no flags")
