async function main(ctx) {
  const rows = await fastn.db.query("SELECT * FROM customers WHERE id = $1", [ctx.input.id]);
  return rows.rows[0] ?? null;
}

export { main as default };
