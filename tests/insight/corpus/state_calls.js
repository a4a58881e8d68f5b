const PREFIX = "sync";

export default async function (ctx) {
  const cursorKey = `${PREFIX}:cursor`;
  const cursor = await fastn.state.get(cursorKey, { scope: "ORG" });
  await fastn.state.set(cursorKey, cursor + 1, { ttl: 3600 });
  await fastn.state.delete("stale-lock");
  const runs = await fastn.state.incr("runs", 1, { ttl: 86400 });
  const won = await fastn.state.setIfAbsent(`lock:${ctx.input.id}`, true, { ttl: 60 });
  const swapped = await fastn.state.compareAndSet("version", 1, 2);
  const key = ctx.input.key;
  const value = await fastn.state.get(key);
  return { cursor, runs, won, swapped, value };
}
