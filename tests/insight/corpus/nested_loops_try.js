export default async function (ctx) {
  const failures = [];
  for (const account of ctx.input.accounts) {
    try {
      const invoices = await fastn.connector.quickbooks.listInvoices({ account: account.id });
      for (const invoice of invoices) {
        if (invoice.paid) continue;
        await fastn.connector.quickbooks.sendReminder({ invoiceId: invoice.id });
      }
    } catch (error) {
      failures.push({ account: account.id, error: error.message });
      if (failures.length > 5) throw new Error("too many failures");
    }
  }
  if (failures.length) {
    await fastn.db.query("INSERT INTO reminder_failures (payload) VALUES ($1)", [JSON.stringify(failures)]);
  }
  return { failures: failures.length };
}
