export default async function (ctx) {
  const { orders } = ctx.input;
  const enriched = await Promise.all(
    orders.map(async (order) => {
      const customer = await fastn.connector.stripe.getCustomer({ id: order.customerId });
      return { ...order, customer };
    }),
  );
  orders.forEach(async (order) => {
    await fastn.state.set(`order:${order.id}`, order);
  });
  const totals = orders.map((order) => order.total * 1.2);
  const flagged = await Promise.allSettled(orders.map((o) => fastn.connector.fraud.checkOrder(o)));
  return { enriched, totals, flagged };
}
