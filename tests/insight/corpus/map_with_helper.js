// A helper passed to .map by name is graphed as the body of the group, once.
async function syncOrder(order) {
  const existing = await fastn.db.query("SELECT id FROM orders WHERE id = $1", [order.id]);
  if (existing.rows.length) return "skipped";
  await fastn.connector.netsuite.createSalesOrder({ order });
  return "created";
}

export default async function (ctx) {
  const results = await Promise.all(ctx.input.orders.map(syncOrder));
  const again = await Promise.all(ctx.input.retries.map(syncOrder));
  return { results, again };
}
