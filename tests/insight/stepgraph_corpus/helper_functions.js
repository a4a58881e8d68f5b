// Helpers declared in the file: a function and an arrow with steps (each call is a
// function_call, the body is under "functions" once), a helper that only calls another one,
// a pure helper (left out) and a helper given the step object under another name.
function total(order) {
  return order.items.reduce((sum, item) => sum + item.price, 0);
}

async function chargeOrder(order) {
  await fastn.step.do(`charge ${order.id}`, async () => total(order));
  await fastn.step.sleep("settle", "1 minute");
}

const notify = async (text) => {
  await fastn.step.do("notify", async () => fastn.connector.slack.postMessage({ text }));
};

async function processAll(orders) {
  for (const order of orders) {
    await chargeOrder(order);
  }
  await notify("all charged");
}

async function record(s, name) {
  await s.do("record " + name, async () => name);
}

export default async function (ctx) {
  const sum = total(ctx.input.orders[0]);
  await chargeOrder(ctx.input.orders[0]);
  await processAll(ctx.input.orders);
  await notify(`sum ${sum}`);
  await record(fastn.step, "done");
}
