// A workflow without a step: an empty graph, whatever else it does.
export default async function (ctx) {
  const rows = await fastn.db.query("SELECT * FROM orders");
  for (const row of rows) {
    if (row.total > 100) {
      await fastn.connector.slack.postMessage({ text: `big order ${row.id}` });
    }
  }
  await Promise.all(rows.map((row) => fastn.state.set(`seen:${row.id}`, true)));
  try {
    await fastn.state.set("last", Date.now());
  } catch (err) {
    console.error(err);
  }
  return { count: rows.length };
}
