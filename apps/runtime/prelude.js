// The Fastn workflow runtime, evaluated once in every fresh isolate before any user code.
//
// It defines the globals a workflow sees (`fastn`, `Fastn`, `console`, `setTimeout`,
// `btoa`, `atob`) and the entry points the sandbox process drives: `__fastnInstall`
// (hands over the host-call function, returns the shared log and channel buffer),
// `__fastnRun` (called by the rewritten user script) and `__fastnPoll`.
//
// Everything the bookkeeping relies on is captured here, before user code can replace
// a builtin, so a workflow that tampers with `JSON` or `Array.prototype` only breaks
// itself. The parent process re-validates every message anyway: nothing here is trusted.
(function (G) {
  "use strict";

  const ObjectCtor = Object;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const PromiseCtor = Promise;
  const ProxyCtor = Proxy;
  const StringCtor = String;
  const NumberCtor = Number;
  const MapCtor = Map;
  const SetCtor = Set;
  const DateCtor = Date;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const freeze = Object.freeze;
  const defineProperty = Object.defineProperty;
  const fromEntries = Object.fromEntries;
  const isArray = Array.isArray;
  const now = Date.now;
  const apply = Reflect.apply;
  const atomicsStore = Atomics.store;
  const mathCeil = Math.ceil;
  const numberIsFinite = Number.isFinite;
  const numberIsNaN = Number.isNaN;
  const parseIntFn = parseInt;
  const parseFloatFn = parseFloat;
  const dateGetTime = Date.prototype.getTime;
  const dateToISOString = Date.prototype.toISOString;
  const charCodeAt = String.prototype.charCodeAt;
  const stringSlice = String.prototype.slice;
  const stringReplace = String.prototype.replace;
  const stringToLowerCase = String.prototype.toLowerCase;
  const stringSplit = String.prototype.split;
  const stringIndexOf = String.prototype.indexOf;
  const arrayPush = Array.prototype.push;
  const arrayPop = Array.prototype.pop;
  const arrayJoin = Array.prototype.join;
  const arrayIncludes = Array.prototype.includes;
  const arrayFilter = Array.prototype.filter;
  const arrayIndexOf = Array.prototype.indexOf;
  const setAdd = Set.prototype.add;
  const setDelete = Set.prototype.delete;
  const arraySlice = Array.prototype.slice;
  const arrayFrom = Array.from;
  const promiseThen = Promise.prototype.then;
  const errorCaptureStackTrace = Error.captureStackTrace;
  const mapGet = Map.prototype.get;
  const WeakMapCtor = WeakMap;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const objectKeys = Object.keys;
  const objectHasOwn = Object.hasOwn;
  const mapSet = Map.prototype.set;
  const regExpTest = RegExp.prototype.test;

  // Code generation from strings is disabled by a V8 flag; WebAssembly would add a
  // second compiler and memory that lives outside the JS heap, and no workflow needs it.
  delete G.WebAssembly;

  // ---- the log buffer -----------------------------------------------------------------
  // Console output goes into a SharedArrayBuffer that the sandbox process reads without
  // entering the isolate, so logs written just before a runaway loop still reach the
  // parent before it kills the sandbox. Layout (bytes): 0 int32 write position in
  // UTF-16 units, 4 int32 "something was dropped", 8 float64 run start (epoch ms),
  // 16.. records of [level, ms-high, ms-low, length-high, length-low, ...UTF-16 units].
  const LOG_CAPACITY = 4 * 1024 * 1024;
  // The host-call channel (below) follows the log buffer in the same SharedArrayBuffer.
  const LOG_BYTES = 16 + LOG_CAPACITY * 2;
  const CHANNEL_CAPACITY = 65536;
  const CHANNEL_HEADER_BYTES = 32;
  const CHANNEL_BYTES = CHANNEL_HEADER_BYTES + CHANNEL_CAPACITY * 4;
  const sharedBuffer = new SharedArrayBuffer(LOG_BYTES + CHANNEL_BYTES);
  const logBuffer = sharedBuffer;
  const logHeader = new Int32Array(logBuffer, 0, 2);
  const logStart = new Float64Array(logBuffer, 8, 1);
  const logData = new Uint16Array(logBuffer, 16, LOG_CAPACITY);
  const LEVELS = freeze({ log: 0, info: 1, warn: 2, error: 3, debug: 4 });

  // ---- the host-call channel ------------------------------------------------------------
  // Host calls travel through the shared buffer (after the logs) and `notifyHost()`, a
  // function whose Python side runs synchronously on V8's own thread while JavaScript
  // waits in it: no round trip into the isolate and no hop through the event loop.
  // Layout (bytes): a header of int32 [operation, request chunk length, more request
  // chunks follow, pump wait (ms), reply status, reply id, reply chunk length, more reply
  // chunks follow], then the request area and the reply area of CHANNEL_CAPACITY UTF-16
  // units each. Operations:
  // - CALL: a request chunk ("<id>\n<request JSON>" cut into pieces of at most
  //   CHANNEL_CAPACITY units) is in the request area; the sandbox sends it on with the last.
  // - PUMP: wait up to the given milliseconds for the next reply; status 1 means a reply
  //   chunk is in the reply area (read it; more chunks follow while the flag is set).
  // - DONE: the run has settled after waiting: the sandbox fetches the result with
  //   `__fastnPoll()`.
  // While calls are outstanding a pump runs after the current job (a microtask), and
  // when no reply came within PUMP_WAIT_MS again after a 1 ms timer, so timers still fire
  // while a slow host call is pending (at most PUMP_WAIT_MS late).
  const OP_CALL = 1;
  const OP_PUMP = 2;
  const OP_DONE = 3;
  const PUMP_WAIT_MS = 5;
  const CHANNEL = LOG_BYTES;
  const channelHeader = new Int32Array(sharedBuffer, CHANNEL, 8);
  const requestArea = new Uint16Array(
    sharedBuffer,
    CHANNEL + CHANNEL_HEADER_BYTES,
    CHANNEL_CAPACITY,
  );
  const replyArea = new Uint16Array(
    sharedBuffer,
    CHANNEL + CHANNEL_HEADER_BYTES + CHANNEL_CAPACITY * 2,
    CHANNEL_CAPACITY,
  );
  const typedSubarray = ObjectCtor.getPrototypeOf(Uint16Array.prototype).subarray;
  const stringFromCharCodes = String.fromCharCode;
  const settledPromise = Promise.resolve();
  const CHUNK = 8192;

  let notifyHost = null; // the host-call channel's synchronous function, installed by it
  let run = null; // the state of the one run this isolate serves
  const pendingCalls = new MapCtor();
  let lastCallId = 0;
  let outstanding = 0; // calls sent and not answered yet
  let pumpScheduled = false;
  const detachedCalls = new SetCtor();

  // `detached`: a call whose answer the workflow does not wait for (a step's result being
  // stored): while only such calls are outstanding the pump does not block for replies.
  function send(payload, detached) {
    const id = ++lastCallId;
    const message = id + "\n" + payload;
    const total = message.length;
    let pos = 0;
    do {
      const n = total - pos < CHANNEL_CAPACITY ? total - pos : CHANNEL_CAPACITY;
      for (let i = 0; i < n; i++) requestArea[i] = apply(charCodeAt, message, [pos + i]);
      pos += n;
      channelHeader[0] = OP_CALL;
      channelHeader[1] = n;
      channelHeader[2] = pos < total ? 1 : 0;
      notifyHost();
    } while (pos < total);
    const promise = new PromiseCtor((resolve) => pendingCalls.set(id, resolve));
    outstanding++;
    if (detached) apply(setAdd, detachedCalls, [id]);
    if (!pumpScheduled) {
      pumpScheduled = true;
      apply(promiseThen, settledPromise, [pump]);
    }
    return promise;
  }

  function readReply(length) {
    let out = "";
    for (let pos = 0; pos < length; pos += CHUNK) {
      const end = pos + CHUNK < length ? pos + CHUNK : length;
      out += apply(stringFromCharCodes, null, apply(typedSubarray, replyArea, [pos, end]));
    }
    return out;
  }

  // Take the replies that arrive within PUMP_WAIT_MS (then those already there), resolve
  // their calls, and make sure another pump follows while calls are outstanding.
  function pump() {
    pumpScheduled = false;
    if (run === null || run.finished || outstanding === 0) return;
    let delivered = false;
    let text = "";
    for (;;) {
      channelHeader[0] = OP_PUMP;
      channelHeader[3] = delivered || outstanding === detachedCalls.size ? 0 : PUMP_WAIT_MS;
      notifyHost();
      if (channelHeader[4] !== 1) break;
      text += readReply(channelHeader[6]);
      if (channelHeader[7] === 1) continue;
      const id = channelHeader[5];
      const resolve = pendingCalls.get(id);
      if (resolve !== undefined) {
        pendingCalls.delete(id);
        apply(setDelete, detachedCalls, [id]);
        outstanding--;
        resolve(text);
      }
      text = "";
      delivered = true;
      if (outstanding === 0) break;
    }
    if (outstanding === 0 || pumpScheduled) return;
    pumpScheduled = true;
    // After a reply, right after the code it resumes; else give timers their turn first.
    if (delivered) apply(promiseThen, settledPromise, [pump]);
    else innerSetTimeout(pump, 1);
  }

  function markDropped() {
    atomicsStore(logHeader, 1, 1);
  }

  function writeLog(level, text) {
    const r = run;
    if (r === null || r.logsClosed) return;
    if (r.logEntries >= r.limits.maxLogEntries || r.logChars >= r.limits.maxLogBytes) {
      r.logsClosed = true;
      markDropped();
      return;
    }
    let message = text;
    let truncated = 0;
    const room = r.limits.maxLogBytes - r.logChars;
    if (message.length > room) {
      message = apply(stringSlice, message, [0, room]);
      truncated = 1;
    }
    const start = logHeader[0];
    const need = 5 + message.length;
    if (start + need > LOG_CAPACITY) {
      r.logsClosed = true;
      markDropped();
      return;
    }
    const ms = now() - r.startedAt;
    logData[start] = level | (truncated << 8);
    logData[start + 1] = (ms / 65536) & 0xffff;
    logData[start + 2] = ms & 0xffff;
    logData[start + 3] = (message.length / 65536) & 0xffff;
    logData[start + 4] = message.length & 0xffff;
    for (let i = 0; i < message.length; i++) {
      logData[start + 5 + i] = apply(charCodeAt, message, [i]);
    }
    atomicsStore(logHeader, 0, start + need);
    r.logEntries++;
    r.logChars += message.length;
    if (truncated) {
      r.logsClosed = true;
      markDropped();
    }
  }

  // ---- Node-like formatting --------------------------------------------------------------
  function functionLabel(f) {
    const name = f.name;
    return name ? "[Function: " + name + "]" : "[Function (anonymous)]";
  }

  function errorText(e) {
    try {
      const stack = e.stack;
      if (typeof stack === "string" && stack) return cleanStack(stack);
      return StringCtor(e.name) + ": " + StringCtor(e.message);
    } catch {
      return "[Error]";
    }
  }

  // JSON with the cases JSON.stringify refuses or hides: cycles, BigInt, functions,
  // Map/Set, Errors, undefined.
  function toJSONText(value) {
    const ancestors = [];
    try {
      return stringify(value, function (key, v) {
        if (typeof v === "bigint") return StringCtor(v) + "n";
        if (typeof v === "function") return functionLabel(v);
        if (typeof v === "symbol") return StringCtor(v);
        if (v === undefined) return key === "" ? "undefined" : v;
        if (typeof v !== "object" || v === null) return v;
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) {
          apply(arrayPop, ancestors, []);
        }
        if (apply(arrayIncludes, ancestors, [v])) return "[Circular]";
        apply(arrayPush, ancestors, [v]);
        if (v instanceof ErrorCtor) return errorText(v);
        if (v instanceof MapCtor) return fromEntries(v);
        if (v instanceof SetCtor) return arrayFrom(v);
        return v;
      });
    } catch {
      try {
        return StringCtor(value);
      } catch {
        return "[object]";
      }
    }
  }

  function formatValue(x, topLevel) {
    switch (typeof x) {
      case "string":
        return topLevel ? x : stringify(x);
      case "bigint":
        return StringCtor(x) + "n";
      case "symbol":
        return StringCtor(x);
      case "function":
        return functionLabel(x);
      case "object":
        if (x === null) return "null";
        if (x instanceof ErrorCtor) return errorText(x);
        if (x instanceof DateCtor) {
          return numberIsNaN(apply(dateGetTime, x, [])) ? "Invalid Date" : apply(dateToISOString, x, []);
        }
        return toJSONText(x);
      default:
        return StringCtor(x);
    }
  }

  const FORMAT_SPEC = /%[sdifjoOc%]/g;

  function formatArgs(args) {
    let rest = args;
    const parts = [];
    if (args.length > 0 && typeof args[0] === "string" && apply(stringIndexOf, args[0], ["%"]) >= 0) {
      let next = 1;
      const head = apply(stringReplace, args[0], [
        FORMAT_SPEC,
        (spec) => {
          if (spec === "%%") return "%";
          if (next >= args.length) return spec;
          const a = args[next++];
          switch (spec) {
            case "%s":
              return typeof a === "string" ? a : formatValue(a, false);
            case "%d":
              return typeof a === "bigint" ? StringCtor(a) + "n" : StringCtor(NumberCtor(a));
            case "%i":
              return typeof a === "bigint" ? StringCtor(a) + "n" : StringCtor(parseIntFn(a, 10));
            case "%f":
              return StringCtor(parseFloatFn(a));
            case "%c":
              return "";
            default:
              return formatValue(a, false);
          }
        },
      ]);
      apply(arrayPush, parts, [head]);
      rest = apply(arraySlice, args, [next]);
    } else {
      rest = args;
    }
    for (let i = 0; i < rest.length; i++) apply(arrayPush, parts, [formatValue(rest[i], true)]);
    return apply(arrayJoin, parts, [" "]);
  }

  // ---- console ----------------------------------------------------------------------------
  let groupIndent = "";
  const timers = new MapCtor();
  const counters = new MapCtor();

  function logAt(level) {
    return function (...args) {
      let text = formatArgs(args);
      if (groupIndent) {
        const lines = apply(stringSplit, text, ["\n"]);
        text = groupIndent + apply(arrayJoin, lines, ["\n" + groupIndent]);
      }
      writeLog(LEVELS[level], text);
    };
  }

  const consoleObject = {
    log: logAt("log"),
    info: logAt("info"),
    warn: logAt("warn"),
    error: logAt("error"),
    debug: logAt("debug"),
    dir: logAt("log"),
    table: logAt("log"),
    trace(...args) {
      const holder = {};
      errorCaptureStackTrace(holder, consoleObject.trace);
      const below = apply(arraySlice, apply(stringSplit, holder.stack, ["\n"]), [1]);
      const frames = cleanStack(apply(arrayJoin, below, ["\n"]));
      const text = formatArgs(args);
      writeLog(LEVELS.debug, (text ? "Trace: " + text : "Trace") + "\n" + frames);
    },
    assert(condition, ...args) {
      if (!condition) {
        writeLog(LEVELS.error, "Assertion failed" + (args.length ? ": " + formatArgs(args) : ""));
      }
    },
    time(label = "default") {
      timers.set(StringCtor(label), now());
    },
    timeLog(label = "default", ...args) {
      const key = StringCtor(label);
      if (!timers.has(key)) return writeLog(LEVELS.warn, "Timer '" + key + "' does not exist");
      const extra = args.length ? " " + formatArgs(args) : "";
      writeLog(LEVELS.log, key + ": " + (now() - timers.get(key)) + "ms" + extra);
    },
    timeEnd(label = "default") {
      const key = StringCtor(label);
      if (!timers.has(key)) return writeLog(LEVELS.warn, "Timer '" + key + "' does not exist");
      writeLog(LEVELS.log, key + ": " + (now() - timers.get(key)) + "ms");
      timers.delete(key);
    },
    count(label = "default") {
      const key = StringCtor(label);
      const n = (counters.get(key) || 0) + 1;
      counters.set(key, n);
      writeLog(LEVELS.log, key + ": " + n);
    },
    countReset(label = "default") {
      counters.delete(StringCtor(label));
    },
    group(...args) {
      if (args.length) consoleObject.log(...args);
      groupIndent += "  ";
    },
    groupCollapsed(...args) {
      consoleObject.group(...args);
    },
    groupEnd() {
      groupIndent = apply(stringSlice, groupIndent, [0, -2]);
    },
  };
  G.console = consoleObject;

  // ---- host calls ---------------------------------------------------------------------------
  // Frames of this file are noise in a user's stack trace; the parent drops them too,
  // but a console.log(err) inside the workflow should already read cleanly.
  function cleanStack(stack) {
    const lines = apply(stringSplit, stack, ["\n"]);
    const kept = apply(arrayFilter, lines, [(line) => apply(stringIndexOf, line, ["fastn:runtime"]) < 0]);
    return apply(arrayJoin, kept, ["\n"]);
  }

  // A host error's details (a connector failure's `step` and `datasourceDebug`) become
  // fields of the Error; the parent gets them back if the Error ends the run.
  const RESERVED_ERROR_FIELDS = new SetCtor(["code", "message", "name", "stack", "retryable"]);
  const hostDetails = new WeakMapCtor();

  function hostError(err) {
    const e = new ErrorCtor(StringCtor(err.message));
    e.code = StringCtor(err.code);
    e.retryable = !err.permanent;
    const details = err.details;
    if (details !== null && typeof details === "object" && !isArray(details)) {
      const keys = objectKeys(details);
      for (let i = 0; i < keys.length; i++) {
        if (!RESERVED_ERROR_FIELDS.has(keys[i])) e[keys[i]] = details[keys[i]];
      }
      apply(weakMapSet, hostDetails, [e, details]);
    }
    return e;
  }

  // The line of the user's code that made a host call, recorded with its step so that the
  // Flow view can map step traces to the statements of the code. Structured call sites are
  // read through a prepareStackTrace of our own (no stack text is formatted); frames of this
  // file are skipped. A workflow that froze Error or changed its stack settings only loses
  // its lines (null): user code cannot make this throw.
  // This file's frames above the user's (call, then the fastn method) and a few to spare;
  // capturing costs ~9 µs a call in these isolates, a small part of a host call's round trip.
  const CALLER_FRAMES = 6;

  function firstUserLine(_holder, frames) {
    for (let i = 0; i < frames.length; i++) {
      const file = frames[i].getScriptNameOrSourceURL();
      if (file !== "fastn:runtime" && file !== null && file !== undefined) {
        return frames[i].getLineNumber();
      }
    }
    return null;
  }

  function callerLine() {
    let savedPrepare;
    let savedLimit;
    let swapped = false;
    try {
      savedPrepare = ErrorCtor.prepareStackTrace;
      savedLimit = ErrorCtor.stackTraceLimit;
      ErrorCtor.prepareStackTrace = firstUserLine;
      ErrorCtor.stackTraceLimit = CALLER_FRAMES;
      swapped = true;
      const holder = {};
      errorCaptureStackTrace(holder, callerLine);
      const line = holder.stack;
      return typeof line === "number" && line > 0 ? line : null;
    } catch {
      return null;
    } finally {
      if (swapped) {
        try {
          // Assigned back even when it was absent: deleting the property each call would
          // cost a third more than the capture itself (undefined means unset to V8).
          ErrorCtor.prepareStackTrace = savedPrepare;
          ErrorCtor.stackTraceLimit = savedLimit;
        } catch {
          // restored as far as the workflow allows
        }
      }
    }
  }

  async function call(name, args, detached) {
    if (notifyHost === null || run === null || run.finished) {
      throw new ErrorCtor(name + " was called after the workflow finished");
    }
    const line = callerLine();
    let request;
    try {
      const message = { name, args, line };
      if (pendingStarts.length !== 0) message.started = pendingStarts;
      if (detached === true) message.detached = true;
      request = stringify(message);
      pendingStarts = [];
    } catch (e) {
      throw new TypeErrorCtor(name + ": arguments are not JSON-serialisable (" + e.message + ")");
    }
    const reply = parse(await send(request, detached === true));
    if (reply.err) throw hostError(reply.err);
    return reply.ok;
  }

  function describe(value) {
    if (typeof value === "string") return stringify(value);
    if (typeof value === "object" && value !== null) return isArray(value) ? "an array" : "an object";
    return StringCtor(value);
  }

  function checkText(method, what, value, maxLength) {
    if (typeof value !== "string" || value.length === 0) {
      throw new TypeErrorCtor(method + ": " + what + " must be a non-empty string (got " + describe(value) + ")");
    }
    if (value.length > maxLength) {
      throw new TypeErrorCtor(method + ": " + what + " must be at most " + maxLength + " characters (got " + value.length + ")");
    }
  }

  const SCOPES = new MapCtor([
    ["org", "ORG"],
    ["invocation", "INVOCATION"],
  ]);

  function stateOptions(method, options) {
    if (options === undefined || options === null) return { scope: "ORG", ttl: null };
    if (typeof options !== "object") {
      throw new TypeErrorCtor(method + ': options must be an object such as {scope: "ORG", ttl: 3600} (got ' + describe(options) + ")");
    }
    let scope = "ORG";
    if (options.scope !== undefined && options.scope !== null) {
      const found = typeof options.scope === "string" ? SCOPES.get(apply(stringToLowerCase, options.scope, [])) : undefined;
      if (found === undefined) {
        throw new TypeErrorCtor(method + ': scope must be "ORG" or "INVOCATION" (got ' + describe(options.scope) + ")");
      }
      scope = found;
    }
    let ttl = null;
    if (options.ttl !== undefined && options.ttl !== null) {
      if (typeof options.ttl !== "number" || !numberIsFinite(options.ttl) || options.ttl <= 0) {
        throw new TypeErrorCtor(method + ": ttl must be a positive number of seconds (got " + describe(options.ttl) + ")");
      }
      ttl = mathCeil(options.ttl);
    }
    return { scope, ttl };
  }

  function jsonValue(method, value) {
    if (value === undefined) return null;
    let text;
    try {
      text = stringify(value);
    } catch (e) {
      throw new TypeErrorCtor(method + ": value is not JSON-serialisable (" + e.message + ")");
    }
    return text === undefined ? null : parse(text);
  }

  const state = freeze({
    async get(key, options) {
      checkText("fastn.state.get", "key", key, 256);
      const { scope } = stateOptions("fastn.state.get", options);
      return await call("state.get", { key, scope });
    },
    async set(key, value, options) {
      checkText("fastn.state.set", "key", key, 256);
      const { scope, ttl } = stateOptions("fastn.state.set", options);
      const json = jsonValue("fastn.state.set", value);
      await call("state.set", { key, value: json, scope, ttl });
    },
    async delete(key, options) {
      checkText("fastn.state.delete", "key", key, 256);
      const { scope } = stateOptions("fastn.state.delete", options);
      await call("state.delete", { key, scope });
    },
    // Atomic: 200 concurrent runs each adding 1 add 200. A missing or expired key counts
    // as 0; `ttl` applies when the call creates the key (a fixed window).
    async incr(key, by, options) {
      checkText("fastn.state.incr", "key", key, 256);
      let amount = 1;
      if (by !== undefined && by !== null) {
        if (typeof by !== "number" || !numberIsFinite(by)) {
          throw new TypeErrorCtor(
            "fastn.state.incr: by must be a finite number (got " + describe(by) + "); " +
              "options go third: incr(key, 1, {ttl: 60})",
          );
        }
        amount = by;
      }
      const { scope, ttl } = stateOptions("fastn.state.incr", options);
      return await call("state.incr", { key, by: amount, scope, ttl });
    },
    async setIfAbsent(key, value, options) {
      checkText("fastn.state.setIfAbsent", "key", key, 256);
      const { scope, ttl } = stateOptions("fastn.state.setIfAbsent", options);
      const json = jsonValue("fastn.state.setIfAbsent", value);
      return await call("state.setIfAbsent", { key, value: json, scope, ttl });
    },
    async compareAndSet(key, expected, value, options) {
      checkText("fastn.state.compareAndSet", "key", key, 256);
      const { scope, ttl } = stateOptions("fastn.state.compareAndSet", options);
      const expectedJson = jsonValue("fastn.state.compareAndSet", expected);
      const json = jsonValue("fastn.state.compareAndSet", value);
      return await call("state.compareAndSet", { key, expected: expectedJson, value: json, scope, ttl });
    },
  });

  const secrets = freeze({
    async get(name) {
      checkText("fastn.secrets.get", "name", name, 256);
      return await call("secrets.get", { name });
    },
  });

  const envConfig = freeze({
    async get(key) {
      checkText("fastn.envConfig.get", "key", key, 256);
      const value = await call("envConfig.get", { key });
      return value === null ? undefined : value;
    },
  });

  const db = freeze({
    async query(sql, params) {
      checkText("fastn.db.query", "sql", sql, 1000000);
      if (params !== undefined && params !== null && !isArray(params)) {
        throw new TypeErrorCtor("fastn.db.query: params must be an array of values for $1, $2, ... (got " + describe(params) + ")");
      }
      const values = jsonValue("fastn.db.query", params || []);
      return await call("db.query", { sql, params: values });
    },
  });

  // `fastn.connector.<slug>.<action>(params)` for any slug and action. Names that
  // JavaScript itself probes (await looks for `then`, JSON for `toJSON`, string
  // conversion for `toString`...) answer undefined, so a stray `await fastn.connector.x`
  // or console.log(fastn) never turns into a connector call.
  const NOT_ACTIONS = new SetCtor([
    "then",
    "catch",
    "finally",
    "toJSON",
    "toString",
    "valueOf",
    "constructor",
    "inspect",
    "prototype",
    "__proto__",
    "asymmetricMatch",
    "nodeType",
    "$$typeof",
  ]);

  function readOnly(what) {
    return () => {
      throw new TypeErrorCtor(what + " is read-only");
    };
  }

  function connectorActions(slug) {
    const actions = new MapCtor();
    return new ProxyCtor(ObjectCtor.create(null), {
      get(_target, action) {
        if (typeof action !== "string" || NOT_ACTIONS.has(action)) return undefined;
        let fn = actions.get(action);
        if (fn === undefined) {
          const name = "connector." + slug + "." + action;
          fn = async function (params) {
            const json = jsonValue("fastn." + name, params);
            return await call("connector", { connector: slug, action, params: json });
          };
          defineProperty(fn, "name", { value: action });
          actions.set(action, fn);
        }
        return fn;
      },
      set: readOnly("fastn.connector." + slug),
      defineProperty: readOnly("fastn.connector." + slug),
      deleteProperty: readOnly("fastn.connector." + slug),
      has: () => true,
    });
  }

  const connectorSlugs = new MapCtor();
  const connector = new ProxyCtor(ObjectCtor.create(null), {
    get(_target, slug) {
      if (typeof slug !== "string" || NOT_ACTIONS.has(slug)) return undefined;
      let actions = connectorSlugs.get(slug);
      if (actions === undefined) {
        actions = connectorActions(slug);
        connectorSlugs.set(slug, actions);
      }
      return actions;
    },
    set: readOnly("fastn.connector"),
    defineProperty: readOnly("fastn.connector"),
    deleteProperty: readOnly("fastn.connector"),
    has: () => true,
  });

  // `throw fastn.retryable(err)`: the run may be retried by the workflow's retry policy
  // (only transient failures are). An Error is marked and returned as it is, keeping its
  // stack; a message (or any other value) becomes a new Error.
  function retryable(err) {
    let e = err;
    if (!(err instanceof ErrorCtor)) {
      const text = err === undefined || err === null ? "Retryable error" : formatValue(err, true);
      e = new ErrorCtor(text);
      errorCaptureStackTrace(e, retryable);
    }
    try {
      e.retryable = true;
      if (e.retryable === true) return e;
    } catch {
      // a frozen Error: wrap it below
    }
    const wrapped = new ErrorCtor(StringCtor(err.message), { cause: err });
    errorCaptureStackTrace(wrapped, retryable);
    wrapped.retryable = true;
    return wrapped;
  }
  freeze(retryable);

  // ---- durable steps: fastn.step / ctx.step ---------------------------------------------------
  // The host decides (apps/runtime/steps.py): a step already done answers its stored result, a
  // new one runs here, a sleep or a wait ends the attempt ("suspend") and the run replays from
  // the top later. A suspension waits for the steps still running in parallel to settle (their
  // results are stored), then ends the run; the promise of the suspended call never settles.
  const durable = { running: 0, suspending: false };

  function settleSuspension() {
    if (durable.suspending && durable.running === 0) finish({ status: "suspended" });
  }

  const SUSPEND = freeze({ suspend: true });

  function pause(ms) {
    return new PromiseCtor((resolve) => innerSetTimeout(resolve, ms >= 1 ? ms : 1));
  }

  function stepError(error, code) {
    const e = new ErrorCtor(StringCtor(error.message));
    e.name = StringCtor(error.name || "Error");
    e.code = code;
    e.retryable = false;
    return e;
  }

  function thrownAsError(e) {
    if (e !== null && typeof e === "object") {
      let name = "Error";
      let message = "";
      try {
        name = StringCtor(e.name || "Error");
        message = StringCtor(e.message === undefined ? formatValue(e, false) : e.message);
      } catch {
        message = "an exception that could not be described";
      }
      return { name, message };
    }
    return { name: "Error", message: formatValue(e, false) };
  }

  function withTimeout(promise, ms, name) {
    let timer;
    const timeout = new PromiseCtor((_resolve, reject) => {
      timer = innerSetTimeout(() => {
        const e = new ErrorCtor('Step "' + name + '" timed out after ' + ms + " ms");
        e.name = "StepTimeoutError";
        reject(e);
      }, ms >= 1 ? ms : 1);
    });
    return PromiseCtor.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // One loop for every kind: ask the host, act on its answer, ask again after a wait.
  // Steps begun without asking the host (see runStep), not yet told to it: they go with the
  // next host call (a connector call inside the step, say), so that a worker dying there
  // finds the step recorded as running and counts the lost try against its retries.
  let pendingStarts = [];
  const STEP_DEFAULT_TIMEOUT_MS = 600000;
  // Configs the host accepted in this attempt (their JSON -> timeout): a loop of steps with
  // the same config asks once.
  const knownConfigs = new MapCtor();

  function takeStart(notice) {
    const index = apply(arrayIndexOf, pendingStarts, [notice]);
    if (index < 0) return null; // it went with another call: the host has it
    pendingStarts = apply(arrayFilter, pendingStarts, [(other) => other !== notice]);
    return notice;
  }

  // A new step.do with the default config (or one the host accepted already) runs at once and
  // costs one host call, its end (which stores it); others ask `step.begin` first.
  async function runStep(kind, name, options, callback, line) {
    let answer = null;
    if (kind === "do" && !(run.storedSteps && objectHasOwn(run.storedSteps, name))) {
      const key = options === null ? "" : stringify(options);
      if (key === "" || knownConfigs.has(key)) {
        const timeoutMs = key === "" ? STEP_DEFAULT_TIMEOUT_MS : knownConfigs.get(key);
        answer = { state: "run", attempt: 1, timeoutMs, fresh: true };
      }
    }
    if (answer === null) {
      answer = await call("step.begin", { name, kind, options });
      if (kind === "do" && options !== null && answer.state === "run") {
        knownConfigs.set(stringify(options), answer.timeoutMs);
      }
    }
    for (;;) {
      const state = answer.state;
      if (state === "done") return answer.output === undefined ? null : answer.output;
      if (state === "failed") throw stepError(answer.error, kind === "waitForEvent" ? "EVENT_TIMEOUT" : "STEP_FAILED");
      if (state === "suspend") return SUSPEND;
      if (state === "wait") {
        await pause(answer.ms);
        answer = await call("step.begin", { name, kind, options, again: true });
        continue;
      }
      if (state !== "run") throw new ErrorCtor("step." + kind + ': unexpected answer "' + state + '"');
      let notice = null;
      if (answer.fresh === true) {
        notice = { name, line, start: now(), options };
        apply(arrayPush, pendingStarts, [notice]);
      }
      let text;
      try {
        const value = await withTimeout(PromiseCtor.resolve().then(() => callback()), answer.timeoutMs, name);
        text = stringify(value === undefined ? null : value, refuseNotJSON);
        if (text === undefined) text = "null";
      } catch (e) {
        const error = e === NOT_JSON
          ? { name: "TypeError", message: 'Step "' + name + '" returned a value JSON cannot hold (a function, a symbol or a BigInt)' }
          : thrownAsError(e);
        answer = await call("step.fail", { name, error, start: notice && takeStart(notice) });
        continue;
      }
      const start = notice && takeStart(notice);
      const limit = run.limits.maxStepResultBytes;
      if (text.length * 3 > limit && utf8Length(text) > limit) {
        answer = await call("step.end", { name, output: text, start }); // the host refuses it
        continue;
      }
      // The workflow goes on while the host stores the result: the host serves calls in
      // order, so the result is stored before anything a later step asks of it. The answer
      // only matters when it asks to pause (or the store failed).
      apply(promiseThen, call("step.end", { name, output: text, start }, true), [afterEnd, endFailed]);
      return parse(text);
    }
  }

  function afterEnd(answer) {
    if (answer.state === "suspend") {
      durable.suspending = true;
      settleSuspension();
    }
  }

  function endFailed(e) {
    finish({ status: "failed", error: describeError(e) });
  }


  // Names used in this attempt and where: a second step of the same name is a mistake that
  // would make a replay return the first one's result.
  const stepLines = new MapCtor();

  function checkUnique(name) {
    const line = callerLine();
    if (stepLines.has(name)) {
      const first = stepLines.get(name);
      const e = new ErrorCtor(
        'Step name "' + name + '"' + (line ? " at line " + line : "") +
          " is already used by the step" + (first ? " at line " + first : "") +
          ": step names must be unique within a run (add the loop index or an id to the name).",
      );
      e.code = "DUPLICATE_STEP_NAME";
      e.retryable = false;
      throw e;
    }
    stepLines.set(name, line);
    return line;
  }

  // A step this run finished in an earlier attempt: its stored result (or error), at once.
  function storedStep(kind, name) {
    const stored = run.storedSteps;
    if (stored === null || typeof stored !== "object" || !objectHasOwn(stored, name)) return null;
    const row = stored[name];
    if (row.kind !== kind) return null; // the host explains the change of kind
    if (row.status === "complete") return { value: row.output === undefined ? null : row.output };
    if (row.status === "errored") {
      throw stepError(row.error, kind === "waitForEvent" ? "EVENT_TIMEOUT" : "STEP_FAILED");
    }
    return null; // running, retrying, sleeping or waiting: the host decides
  }

  async function tracked(kind, name, options, callback) {
    checkText("step." + kind, "name", name, 256);
    const line = checkUnique(name);
    const stored = storedStep(kind, name);
    if (stored !== null) return stored.value;
    if (durable.suspending) return await new PromiseCtor(() => {}); // the attempt is ending
    durable.running++;
    let value;
    try {
      value = await runStep(kind, name, options, callback, line);
    } finally {
      durable.running--;
    }
    if (value === SUSPEND) {
      durable.suspending = true;
      settleSuspension();
      return await new PromiseCtor(() => {}); // the attempt ends; a later one replays the run
    }
    settleSuspension();
    return value;
  }

  function instant(value) {
    if (value instanceof DateCtor) return apply(dateToISOString, value, []);
    return value;
  }

  const step = freeze({
    async do(name, config, callback) {
      if (typeof config === "function" && callback === undefined) {
        callback = config;
        config = undefined;
      }
      if (typeof callback !== "function") {
        throw new TypeErrorCtor('step.do: the last argument must be the step\'s function, e.g. step.do("charge", async () => {...})');
      }
      const options = config === undefined || config === null ? null : jsonValue("step.do", config);
      return await tracked("do", name, options, callback);
    },
    async sleep(name, duration) {
      return await tracked("sleep", name, jsonValue("step.sleep", duration), null);
    },
    async sleepUntil(name, moment) {
      return await tracked("sleepUntil", name, jsonValue("step.sleepUntil", instant(moment)), null);
    },
    async waitForEvent(name, options) {
      return await tracked("waitForEvent", name, jsonValue("step.waitForEvent", options), null);
    },
  });

  const fastn = freeze({ state, secrets, envConfig, db, connector, connectors: connector, retryable, step });

  // The reference examples start with `const fastn = new Fastn({connectors: {...}})`;
  // the options only document which connectors are used, so both spellings return the
  // one global object.
  function Fastn(_options) {
    return fastn;
  }
  freeze(Fastn);

  function unavailable(name, hint) {
    return function () {
      throw new ErrorCtor(name + " is not available in workflows: " + hint);
    };
  }
  const MODULES_HINT =
    "a workflow is a single file without modules; use the global `fastn` object " +
    "(fastn.connector, fastn.db, fastn.state, fastn.secrets, fastn.envConfig)";

  for (const [name, value] of [
    ["fastn", fastn],
    ["Fastn", Fastn],
    ["require", freeze(unavailable("require()", MODULES_HINT))],
    [
      "fetch",
      freeze(async function fetch() {
        throw new ErrorCtor(
          "fetch() is not available in workflows: " +
            "use fastn.connector.http.request({ method, url, headers, query, body })",
        );
      }),
    ],
    [
      "$$impt",
      freeze(async function dynamicImport() {
        throw new ErrorCtor("import() is not available in workflows: " + MODULES_HINT);
      }),
    ],
  ]) {
    defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  }

  // ---- timers ---------------------------------------------------------------------------------
  // mini-racer's setTimeout rests on Atomics.waitAsync, which answers a 0 ms wait
  // synchronously (so `setTimeout(fn, 0)` threw) and never times out a NaN one (so
  // `setTimeout(fn)` never fired): waits are at least 1 ms here. Callbacks also stop
  // once the run has settled: the sandbox closes the isolate right after `done`, and a
  // late callback that spins would hold up that cleanup.
  const innerSetTimeout = G.setTimeout;
  G.setTimeout = function setTimeout(callback, delay, ...args) {
    if (typeof callback !== "function") {
      throw new TypeErrorCtor("setTimeout: the callback must be a function");
    }
    const ms = NumberCtor(delay);
    return innerSetTimeout(
      () => {
        if (run === null || !run.finished) callback(...args);
      },
      ms >= 1 ? ms : 1,
    );
  };

  // ---- btoa / atob: Basic auth headers and the like -----------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const stringFromCharCode = String.fromCharCode;

  function invalidCharacter(what) {
    const e = new ErrorCtor(what);
    e.name = "InvalidCharacterError";
    return e;
  }

  function btoa(data) {
    const s = StringCtor(data);
    let out = "";
    for (let i = 0; i < s.length; i += 3) {
      const a = apply(charCodeAt, s, [i]);
      const b = i + 1 < s.length ? apply(charCodeAt, s, [i + 1]) : 0;
      const c = i + 2 < s.length ? apply(charCodeAt, s, [i + 2]) : 0;
      if (a > 255 || b > 255 || c > 255) {
        throw invalidCharacter("btoa: the string contains characters outside of the Latin1 range");
      }
      const n = (a << 16) | (b << 8) | c;
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < s.length ? B64[(n >> 6) & 63] : "=";
      out += i + 2 < s.length ? B64[n & 63] : "=";
    }
    return out;
  }

  function atob(data) {
    const s = apply(stringReplace, StringCtor(data), [/[\t\n\f\r ]/g, ""]);
    const body = s.length % 4 === 0 ? apply(stringReplace, s, [/==?$/, ""]) : s;
    if (body.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(body)) {
      throw invalidCharacter("atob: the string to be decoded is not correctly encoded");
    }
    let out = "";
    let bits = 0;
    let value = 0;
    for (let i = 0; i < body.length; i++) {
      value = (value << 6) | apply(stringIndexOf, B64, [body[i]]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += stringFromCharCode((value >> bits) & 255);
      }
    }
    return out;
  }

  defineProperty(G, "btoa", { value: btoa, writable: true, configurable: true });
  defineProperty(G, "atob", { value: atob, writable: true, configurable: true });

  // ---- entry points driven by the sandbox -------------------------------------------------
  const NO_DEFAULT = Symbol("no default export");

  function utf8Length(text) {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = apply(charCodeAt, text, [i]);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = apply(charCodeAt, text, [i + 1]);
        if (d >= 0xdc00 && d <= 0xdfff) {
          n += 4;
          i++;
        } else n += 3;
      } else n += 3;
    }
    return n;
  }

  function describeError(e) {
    if (e !== null && typeof e === "object" && e[NO_DEFAULT]) {
      return { code: "NO_DEFAULT_EXPORT", got: e.got };
    }
    let isError = false;
    try {
      isError = e instanceof ErrorCtor || (e !== null && typeof e === "object" && typeof e.stack === "string" && "message" in e);
    } catch {
      isError = false;
    }
    if (!isError) return { code: "RUNTIME_ERROR", thrown: formatValue(e, false), retryable: markedRetryable(e) };
    const out = { code: "RUNTIME_ERROR", retryable: markedRetryable(e) };
    try {
      out.name = StringCtor(e.name);
      out.message = StringCtor(e.message);
      out.stack = typeof e.stack === "string" ? e.stack : "";
      if (typeof e.code === "string") out.hostCode = e.code;
      const details = apply(weakMapGet, hostDetails, [e]);
      if (details !== undefined) out.hostDetails = details;
    } catch {
      out.name = out.name || "Error";
      out.message = out.message || "";
    }
    return out;
  }

  // Marked by fastn.retryable(), by the code itself (`err.retryable = true`), or by the host
  // for a transient failure (a network error, a timeout, a 429 or 5xx) the code let escape.
  function markedRetryable(e) {
    try {
      return e !== null && (typeof e === "object" || typeof e === "function") && e.retryable === true;
    } catch {
      return false;
    }
  }

  function finish(meta, outputJSON) {
    const r = run;
    if (r.finished) return;
    r.finished = true;
    const text = stringify(meta) + "\n" + (outputJSON === undefined ? "" : outputJSON);
    r.result = text;
    if (r.waiting) {
      channelHeader[0] = OP_DONE;
      notifyHost();
    }
  }

  // ---- the result ----------------------------------------------------------------------
  // JSON.stringify turns a function or a symbol into nothing (null inside an array) and
  // throws on a BigInt: a workflow returning one would complete with null or with an object
  // silently missing a field. The result is checked while it is serialised (one pass); a
  // second pass, only on failure, finds where the first such value is.
  const NOT_JSON = freeze({ notJSON: true });
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

  function notJSONKind(v) {
    switch (typeof v) {
      case "function":
        return "function";
      case "symbol":
        return "symbol";
      case "bigint":
        return "BigInt";
      default:
        return null;
    }
  }

  function refuseNotJSON(key, v) {
    if (notJSONKind(v) !== null) throw NOT_JSON;
    return v;
  }

  function pathSegment(holder, key) {
    if (isArray(holder)) return "[" + key + "]";
    if (apply(regExpTest, IDENTIFIER, [key])) return "." + key;
    return "[" + stringify(key) + "]";
  }

  // Where the first value JSON cannot hold is ("output", "output.handler",
  // "output.items[2]") and its kind, following JSON.stringify's own walk (toJSON included).
  function findNotJSON(value) {
    const paths = new MapCtor();
    let found = null;
    try {
      stringify(value, function (key, v) {
        const parent = apply(mapGet, paths, [this]);
        const path = parent === undefined ? "output" : parent + pathSegment(this, key);
        const kind = notJSONKind(v);
        if (kind !== null) {
          found = { path, kind };
          throw NOT_JSON;
        }
        if (typeof v === "object" && v !== null) apply(mapSet, paths, [v, path]);
        return v;
      });
    } catch {
      // thrown above, or a toJSON() that fails on its second call: `found` says which
    }
    return found || { path: "output", kind: "value" };
  }

  function onSettled(value) {
    let out;
    try {
      out = stringify(value === undefined ? null : value, refuseNotJSON);
    } catch (e) {
      if (e === NOT_JSON) {
        const found = findNotJSON(value);
        finish({ status: "failed", error: { code: "NOT_SERIALIZABLE", path: found.path, kind: found.kind } });
        return;
      }
      const message = apply(stringSplit, StringCtor(e.message), ["\n"])[0];
      finish({ status: "failed", error: { code: "NOT_SERIALIZABLE", message } });
      return;
    }
    if (out === undefined) out = "null"; // a toJSON() that answered undefined
    const limit = run.limits.maxOutputBytes;
    if (out.length > limit || (out.length * 3 > limit && utf8Length(out) > limit)) {
      finish({ status: "failed", error: { code: "OUTPUT_TOO_LARGE", size: utf8Length(out) } });
      return;
    }
    finish({ status: "completed" }, out);
  }

  function onFailed(e) {
    finish({ status: "failed", error: describeError(e) });
  }

  defineProperty(G, "__fastnInstall", {
    configurable: true,
    value: function (notifyHostFunction) {
      notifyHost = notifyHostFunction;
      delete G.__fastnInstall;
      return sharedBuffer;
    },
  });

  defineProperty(G, "__fastnRun", {
    configurable: true,
    value: function (ctxText, limits, moduleFunction) {
      delete G.__fastnRun;
      run = {
        limits,
        startedAt: now(),
        logEntries: 0,
        logChars: 0,
        logsClosed: false,
        storedSteps: limits.storedSteps || null,
        finished: false,
        waiting: false,
        result: null,
      };
      logStart[0] = run.startedAt;
      const ctx = parse(ctxText);
      // For code written for `run(event, step)`: ctx.step, and the step API as a 2nd argument.
      defineProperty(ctx, "step", { value: step, enumerable: false });
      const settle = (async () => {
        const main = await moduleFunction();
        if (typeof main !== "function") {
          throw { [NO_DEFAULT]: true, got: main === undefined ? "undefined" : main === null ? "null" : typeof main };
        }
        // `export default async function (ctx)` is rewritten to an assignment that would
        // name the function after the rewrite's variable; stacks should say "default".
        try {
          if (main.name === "$$default") defineProperty(main, "name", { value: "default" });
        } catch {
          // a frozen or exotic function keeps its name
        }
        return await main(ctx, step);
      })();
      apply(promiseThen, settle, [onSettled, onFailed]);
    },
  });

  // Called right after the user script: when the run settled without waiting on the
  // host (no I/O, no timers) the result is already here and the sandbox skips an await.
  defineProperty(G, "__fastnPoll", {
    value: function () {
      if (run === null) return null;
      if (run.result !== null) return run.result;
      run.waiting = true;
      return null;
    },
  });
})(globalThis);
// The script's value: the sandbox calls it right away (one eval fewer per isolate).
__fastnInstall;
//# sourceURL=fastn:runtime
