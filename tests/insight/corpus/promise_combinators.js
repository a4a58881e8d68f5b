export default async function (ctx) {
  const [customer, invoices, plan] = await Promise.all([
    fastn.connector.stripe.getCustomer({ id: ctx.input.customerId }),
    fastn.connector.stripe.listInvoices({ customer: ctx.input.customerId }),
    fastn.state.get("plan"),
  ]);
  const fastest = await Promise.race([
    fastn.connector.mirrorA.fetchPrice({ sku: "x" }),
    fastn.connector.mirrorB.fetchPrice({ sku: "x" }),
  ]);
  const any = await Promise.any([
    (async () => {
      const token = await fastn.secrets.get("BACKUP_TOKEN");
      return fastn.connector.backup.ping({ token });
    })(),
    new Promise((resolve) => setTimeout(resolve, 100)),
  ]);
  const results = await Promise.allSettled(ctx.input.jobs);
  return { customer, invoices, plan, fastest, any, results };
}
