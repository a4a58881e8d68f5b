// Steps behind a ternary and && / || / ?? guards; a step callback's own steps nested in it.
export default async function (ctx) {
  const result = ctx.input.fast
    ? await fastn.step.do("fast path", async () => 1)
    : await fastn.step.do("slow path", async () => 2);
  ctx.input.notify && (await fastn.step.do("notify", async () => 3));
  const cached = ctx.input.cached || (await fastn.step.do("compute", async () => 4));
  const value = ctx.input.value ?? (await fastn.step.sleep("wait for value", "1 minute"));
  await fastn.step.do("outer", async () => {
    await fastn.step.do("inner", async () => 5);
    return 6;
  });
  return { result, cached, value };
}
