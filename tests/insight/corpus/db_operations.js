export default async function (ctx) {
  const { id, status } = ctx.input;
  const table = "orders";
  const rows = await fastn.db.query("SELECT id, total FROM orders WHERE status = $1", [status]);
  await fastn.db.query(
    `insert into public.order_events (order_id, status) values ($1, $2)`,
    [id, status],
  );
  await fastn.db.query("UPDATE orders SET status = $2 WHERE id = $1", [id, status]);
  await fastn.db.query(`DELETE FROM "order_drafts" WHERE order_id = $1`, [id]);
  const stats = await fastn.db.query(`
    -- how many per status
    WITH counts AS (SELECT status, count(*) AS n FROM orders GROUP BY status)
    SELECT * FROM counts`);
  await fastn.db.query(`WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO archive SELECT * FROM moved`, [id]);
  const dynamic = await fastn.db.query(`SELECT * FROM ${table} LIMIT 1`);
  const sql = buildSql(ctx.input);
  await fastn.db.query(sql);
  return { rows: rows.rows.length, stats, dynamic };
}
