// Forward-compatible durable steps: fastn.step.*, ctx.step.* and a destructured step.
export default async function (ctx) {
  const order = await fastn.step.do("load order", async () => {
    const found = await fastn.connector.shopify.getOrder({ id: ctx.input.id });
    if (!found) throw new Error("no order");
    return found;
  });
  await fastn.step.sleep("cool down", "1 hour");
  const approval = await ctx.step.waitForEvent("manager approval", { timeout: "2 days" });
  const { step } = ctx;
  await step.sleepUntil("next morning", ctx.input.nextMorning);
  await step.do("charge", async () => {
    await fastn.connector.stripe.createCharge({ amount: order.total });
  });
  await step.do("noop", () => 1);
  return { approved: approval.approved };
}
