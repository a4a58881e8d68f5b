// Every way a workflow reaches a connector action.
const client = new Fastn({ connectors: { shopify: {} } });
const shop = fastn.connector.shopify;

export default async function (ctx) {
  const a = await fastn.connector.shopify.getOrders({ status: "open" });
  const b = await fastn.connectors.hubspot.searchContacts({ q: "x" });
  const c = await new Fastn().connector.slack.postMessage({ text: "hi" });
  const d = await client.connector.shopify.cancelOrder({ id: 1 });
  const e = await shop.countOrders();
  const f = await fastn.connector["google-sheets"]["appendRow"]({ row: [1] });
  const g = await fastn.connector?.zendesk?.ticketCreate?.({ subject: "s" });
  const h = await fastn.connector.netsuite.syncRecords({ ids: [1] });
  const i = await fastn.connector.netsuite.getRecord({ id: 1 });
  return { a, b, c, d, e, f, g, h, i };
}
