export default async function (ctx) {
  let created = null;
  try {
    const lead = await fastn.connector.salesforce.createLead({ email: ctx.input.email });
    if (!lead.id) {
      throw new Error("no id");
    }
    created = lead.id;
    await fastn.db.query("INSERT INTO leads (id) VALUES ($1)", [lead.id]);
  } catch (err) {
    console.error(err.message);
    await fastn.connector.slack.postMessage({ channel: "#alerts", text: err.message });
    if (err.status === 400) {
      return { ok: false, reason: "invalid" };
    }
    throw err;
  } finally {
    await fastn.state.set("last-run", Date.now());
  }
  try {
    await fastn.connector.mailchimp.subscribe({ email: ctx.input.email });
  } catch {
    // subscription is best effort
  }
  try {
    const x = 1;
  } finally {
    console.log("done");
  }
  return { ok: true, created };
}
