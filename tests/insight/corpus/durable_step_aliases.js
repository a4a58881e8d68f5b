// The step object under any name: the ctx renamed, `.step` taken out of it (renamed or
// aliased) and Cloudflare's `run(event, step)` second parameter under another name.
export default async function run(context, s) {
  await s.do("second parameter", async () => context.input);
  await context.step.sleep("renamed ctx", "1 minute");
  const { step: durable } = context;
  await durable.waitForEvent("destructured and renamed", { type: "go" });
  const st = context.step;
  await st.sleepUntil("aliased", "2030-01-01");
  return { ok: true };
}
