// Sequential steps on fastn.step, with and without a config.
export default async function (ctx) {
  const order = await fastn.step.do("load order", async () => {
    return fastn.connector.shopify.getOrder({ id: ctx.input.id });
  });
  await fastn.step.do(
    "charge card",
    { retries: { limit: 5, delay: 1000, backoff: "exponential" }, timeout: "2 minutes" },
    async () => fastn.connector.stripe.createCharge({ amount: order.total }),
  );
  await fastn.step.do("notify", { timeout: 30000 }, async () => {
    await fastn.connector.slack.postMessage({ text: "paid" });
  });
  await fastn.step.do("audit", { retries: { backoff: "constant", limit: 2 } }, () => true);
  return { ok: true };
}
