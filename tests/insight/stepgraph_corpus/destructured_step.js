// The step object taken out of ctx or fastn, renamed or aliased.
export default async function main(ctx) {
  const { step, input } = ctx;
  await step.do("plain destructure", async () => input.a);
  const { step: durable } = ctx;
  await durable.sleep("renamed", "1 hour");
  const st = ctx.step;
  await st.waitForEvent("aliased ctx.step", { type: "go" });
  const s = fastn.step;
  await s.sleepUntil("aliased fastn.step", "2030-01-01");
  const { step: fs } = fastn;
  await fs.do("destructured from fastn", async () => 1);
}
