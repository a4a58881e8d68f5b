export default async function (ctx) {
  const { event, payload } = ctx.input;
  switch (event) {
    case "order.created":
    case "order.updated":
      await fastn.connector.shopify.updateOrder({ id: payload.id, tags: ["synced"] });
      break;
    case "order.deleted": {
      await fastn.db.query("DELETE FROM orders WHERE id = $1", [payload.id]);
      break;
    }
    case "ping":
      return { pong: true };
    case "audit":
      console.log("audit event");
    // falls through
    default:
      throw new Error(`Unknown event ${event}`);
  }
  return { handled: event };
}
