// .map in Promise.all, .forEach, and a .map over a helper: loops over the callback.
async function ship(order) {
  await fastn.step.do("ship", async () => order.id);
}

export default async function (ctx) {
  const orders = ctx.input.orders;
  const totals = orders.map((o) => o.total);
  await Promise.all(
    orders.map(async (order) => {
      await fastn.step.do("reserve", async () => order.sku);
      await fastn.step.sleep("settle", "10 seconds");
    }),
  );
  orders.forEach(async (order) => {
    await fastn.step.do("log", async () => order.id);
  });
  await Promise.allSettled(orders.map(ship));
  return totals;
}
