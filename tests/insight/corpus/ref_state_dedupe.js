// The reference's fastn.state example: skip a deal processed before.
export default async function(ctx) {
  const { dealId } = ctx.input;
  const existing = await fastn.state.get(`deal:${dealId}`);
  if (existing) return { success: true, skipped: true, reason: "already_processed" };
  await fastn.state.set(`deal:${dealId}`, { processedAt: new Date().toISOString() });
  return { success: true, skipped: false };
}
