// ctx.step with the ctx under another name, and a helper given the ctx as `c`.
async function remind(c) {
  await c.step.sleep("reminder wait", "3 days");
}

export default async function (context) {
  const user = await context.step.do("load user", async () => ({ id: 1 }));
  await context.step.sleepUntil("morning", context.input.morning);
  await context.step.waitForEvent("click", { type: "email.click", timeout: "7 days" });
  await remind(context);
  return user;
}
