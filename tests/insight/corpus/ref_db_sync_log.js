// The reference's fastn.db example: a sync log table.
export default async function(ctx) {
  const record = ctx.input;
  await fastn.db.query(`CREATE TABLE IF NOT EXISTS sync_log (
    id SERIAL PRIMARY KEY, source_id TEXT, synced_at TIMESTAMP DEFAULT NOW())`);
  await fastn.db.query(`INSERT INTO sync_log (source_id) VALUES ($1)`, [record.id]);
  const result = await fastn.db.query(`SELECT * FROM sync_log WHERE source_id = $1`, [record.id]);
  return { rows: result.rows.length };
}
