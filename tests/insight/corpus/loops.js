export default async function (ctx) {
  const ids = ctx.input.ids ?? [];
  let page = 1;
  const seen = [];
  for (let i = 0; i < ids.length; i++) {
    if (!ids[i]) continue;
    seen.push(ids[i]);
  }
  for (const id of ids) {
    const order = await fastn.connector.shopify.getOrder({ id });
    if (order.cancelled) break;
    await fastn.db.query("UPDATE orders SET synced = true WHERE id = $1", [id]);
  }
  for (const key in ctx.input) {
    console.log(key);
  }
  while (page < 10) {
    const result = await fastn.connector.shopify.listOrders({ page });
    if (!result.hasMore) break;
    page++;
  }
  do {
    page--;
  } while (page > 0);
  for (;;) {}
  return { seen: seen.length, page };
}
