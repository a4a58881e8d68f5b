export default async function (ctx) {
  const order = ctx.input.order;
  let tier;
  if (order.total > 1000) {
    tier = "gold";
    await fastn.connector.slack.postMessage({ channel: "#vip", text: `Big order ${order.id}` });
  } else if (order.total > 100) {
    tier = "silver";
  } else if (order.items?.length === 0) {
    return { skipped: true };
  } else {
    tier = "bronze";
  }
  if (tier === "gold") {
    // a comment only: an empty branch
  }
  await fastn.state.set(`tier:${order.id}`, tier);
  return { tier };
}
